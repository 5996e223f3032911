// The example todo app: a client of the GraphQL API, with live updates over its WebSocket.
//
// - api.js: the operations, and errors in words.
// - live.js: the `todoEvents` subscription, resumed with `after` when it drops.
// - view.js: DOM helpers.
// - this module: what the page shows, and what each control does.
//
// What is shown is kept in `shown` (todo id to todo). Every answer and every live event
// goes through `place`, which shows a todo where it belongs under the current filter, so
// the list is the same whichever way a change arrives. A todo known to be deleted goes in
// `gone`, and `place` never shows it again, even from a read that was already on its way;
// `latest` holds the newest version seen of each todo (in answers and in events), and an
// answer older than that is read again rather than shown.

import { api, ApiError, RetryKey, session } from './api.js';
import { LiveTodos } from './live.js';
import { announce, clearErrors, el, hidden, notice, showErrors } from './view.js';

const PAGE = 10;
const $ = (id) => document.getElementById(id);

const state = {
  shown: new Map(),
  // The filter of the list on the page (a new one is taken once its list is read).
  filter: { status: null, tag: null },
  endCursor: null,
  hasNextPage: false,
  // Bumped by each new listing, so that a slower, older answer is dropped; `listed` is the
  // listing on the page (behind `listing` while a new one is being read).
  listing: 0,
  listed: 0,
  // Bumped by each `resyncUntilRead`, so that only the newest one keeps trying.
  resyncs: 0,
  live: null,
  // Todo ids whose current state is being read after an event (see `refresh`).
  refreshing: new Map(),
  // Todo ids known to be deleted.
  gone: new Set(),
  // The newest version known of each todo (from answers and events): an answer read before
  // a newer change is not shown over it, even if the todo left the page meanwhile.
  latest: new Map(),
  // Todo ids this page is deleting: their own event is not news from elsewhere.
  deleting: new Set(),
};

// Signing in and out.

async function enter(user) {
  notice(null);
  $('signed-out').hidden = true;
  $('signed-in').hidden = false;
  $('account').hidden = false;
  $('who').textContent = `${user.displayName} (${user.email})`;
  state.live?.stop();
  state.live = new LiveTodos(session.token, {
    event: onEvent,
    state: showLiveState,
    resync: () => resyncUntilRead(state.live),
    ended: () => leave('Your session has ended. Log in again.'),
  });
  try {
    await list();
  } catch (error) {
    report(error);
  }
}

function leave(message) {
  state.live?.stop();
  state.live = null;
  session.token = null;
  state.shown.clear();
  state.gone.clear();
  state.latest.clear();
  state.filter = { status: null, tag: null };
  $('filter').reset();
  drafts.clear();
  $('todos').replaceChildren();
  $('signed-in').hidden = true;
  $('account').hidden = true;
  $('signed-out').hidden = false;
  notice(message);
  if (!message) announce('Logged out.');
  $('log-in-email').focus();
}

function showLiveState(name, retryAfter) {
  const words = {
    connecting: 'Connecting…',
    live: 'Live',
    reconnecting: 'Reconnecting…',
    limited: `Paused: too many windows open; trying again in ${retryAfter} s`,
  };
  const badge = $('live');
  badge.dataset.state = name;
  badge.textContent = words[name];
}

/// What to do with an error no form shows: the session's end signs out; the rest is said
/// at the top of the page.
function report(error) {
  if (!(error instanceof ApiError)) throw error;
  if (error.code === 'superseded') return;
  if (error.code === 'unauthenticated') leave(error.words);
  else notice(error.words);
}

/// Runs `work` with `button` disabled, so a double click does not send twice. A disabled
/// button loses focus (to the page's body); it gets it back if nothing else took it since.
async function busy(button, work) {
  const hadFocus = document.activeElement === button;
  button.disabled = true;
  try {
    return await work();
  } finally {
    button.disabled = false;
    if (hadFocus && button.isConnected && idle()) button.focus();
  }
}

/// Whether focus is nowhere in particular (on the page's body), so that the page may move
/// it without taking it from where the user went meanwhile.
const idle = () => !document.activeElement || document.activeElement === document.body;

$('log-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const { email, password } = Object.fromEntries(new FormData(form));
  try {
    const { token, user } = await busy(form.querySelector('button'), () => api.logIn(email, password));
    session.token = token;
    form.reset();
    await enter(user);
    announce(`Logged in as ${user.displayName}.`);
    $('create-title').focus();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    // A wrong password and an unknown email are the same answer, on purpose.
    const words = error.code === 'unauthenticated' ? 'Wrong email or password.' : error.words;
    showErrors(form, { fields: error.fields, words });
  }
});

$('register').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const input = Object.fromEntries(new FormData(form));
  try {
    await busy(form.querySelector('button'), async () => {
      await api.register(input);
      const { token, user } = await api.logIn(input.email, input.password);
      session.token = token;
      form.reset();
      await enter(user);
      announce(`Welcome, ${user.displayName}.`);
      $('create-title').focus();
    });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.code === 'email_taken') {
      error.fields = [{ field: 'email', message: 'This email has an account already: log in instead.' }];
    }
    showErrors(form, error);
  }
});

$('log-out').addEventListener('click', async () => {
  try {
    await api.logOut();
  } catch (error) {
    // Signed out either way; a session that had ended already is what was wanted.
    if (!(error instanceof ApiError)) throw error;
  }
  leave(null);
});

// The list.

const matches = (todo) =>
  (!state.filter.status || todo.status === state.filter.status) &&
  (!state.filter.tag || todo.tags.includes(state.filter.tag));

/// Reads the first page under `filter` (by default the one on the page), or (`more`) the
/// next page of the list on the page. Returns the todos added, or `null` when a newer
/// listing made this one moot.
async function list({ more = false, filter = state.filter } = {}) {
  // "Load more" continues the listing on the page; while another is being read, it has
  // nothing to continue.
  if (more && state.listed !== state.listing) return null;
  const listing = more ? state.listing : ++state.listing;
  let page;
  try {
    page = await api.todos({
      first: PAGE,
      after: more ? state.endCursor : null,
      status: filter.status,
      tag: filter.tag,
    });
  } catch (error) {
    // The page keeps the listing it shows, and no new one is being read.
    if (!more && listing === state.listing) state.listed = listing;
    throw error;
  }
  if (listing !== state.listing) return null;
  if (!more) {
    // A new listing: the page is read again from the top, and editors open on the old one
    // close (a filter the user chose replaces the list).
    state.listed = listing;
    state.filter = filter;
    state.shown.clear();
    drafts.clear();
    $('todos').replaceChildren();
  }
  state.endCursor = page.pageInfo.endCursor;
  state.hasNextPage = page.pageInfo.hasNextPage;
  const added = page.nodes.filter((todo) => !state.shown.has(todo.id));
  for (const todo of added) place(todo, { listed: true });
  showListEnds();
  return added;
}

/// Reads the list again and merges it into the page, which is not cleared: an open editor
/// and the focus stay where they are. Called when live updates start with nothing to
/// resume from, so that a change made before the subscription began is not missed. Reads
/// as many pages as reach the oldest todo shown; each todo read is placed, and one shown
/// that the pages no longer hold has been deleted or has left the filter.
async function resync() {
  // A listing being read may have been read before the subscription started: wait for it,
  // then read again.
  while (state.listed !== state.listing) await new Promise((resolve) => { setTimeout(resolve, 50); });
  const listing = state.listing;
  const cursor = state.endCursor;
  const ids = [...state.shown.keys()].sort();
  const oldest = ids[0] ?? null;
  const read = [];
  let after = null;
  let page;
  do {
    page = await api.todos({ first: PAGE, after, status: state.filter.status, tag: state.filter.tag });
    // A new listing (another filter) started meanwhile: it is the one to show.
    if (listing !== state.listing) return;
    read.push(...page.nodes);
    after = page.pageInfo.endCursor;
  } while (page.pageInfo.hasNextPage && oldest !== null && page.nodes.at(-1)?.id > oldest);
  // Everything newer than the last todo read was read: what is missing there has gone.
  const reached = page.pageInfo.hasNextPage ? page.nodes.at(-1)?.id ?? null : null;
  const readIds = new Set(read.map((todo) => todo.id));
  for (const id of ids) {
    if (!readIds.has(id) && (reached === null || id > reached)) {
      const todo = state.shown.get(id);
      if (drafts.has(id) && todo) {
        // Its editor is open: ask for it, to tell a deletion from a change of filter.
        refresh(id);
      } else {
        takeAway(id);
      }
    }
  }
  // A "Load more" that ended meanwhile moved the list on further than this read.
  if (state.endCursor === cursor) {
    state.endCursor = after;
    state.hasNextPage = page.pageInfo.hasNextPage;
  }
  for (const todo of read) place(todo, { listed: true });
  showListEnds();
}

/// `resync`, tried again with a growing wait until it reads (the service may be busy just
/// when the connection comes back), for as long as `live` is the page's live connection.
async function resyncUntilRead(live) {
  // A newer call (the next subscription's) takes over from this one.
  const mine = ++state.resyncs;
  for (let attempt = 0; state.live === live && state.resyncs === mine; attempt += 1) {
    try {
      await resync();
      return;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.code === 'unauthenticated' || error.code === 'superseded') {
        report(error);
        return;
      }
    }
    await new Promise((resolve) => { setTimeout(resolve, Math.min(30_000, 1000 * 2 ** attempt)); });
  }
}

function showListEnds() {
  $('load-more').hidden = !state.hasNextPage;
  $('empty').hidden = state.shown.size > 0;
}

const itemOf = (id) => document.querySelector(`li.todo[data-id="${id}"]`);

/// Shows `todo` where it belongs: updated in place, inserted by its id (newest first), or
/// taken away when it no longer matches the filter. A todo that did not come from a
/// listing (`listed`), and is older than the last one shown while more pages remain, is
/// left for "Load more" to bring.
function place(todo, { listed = false, reread = false } = {}) {
  if (state.gone.has(todo.id)) return;
  if (todo.version < (state.latest.get(todo.id) ?? 0)) {
    // Read before a change already seen: read it as it is now instead, unless it is shown
    // (or this was that read: the next event brings it).
    if (!reread && !state.shown.has(todo.id)) refresh(todo.id);
    return;
  }
  state.latest.set(todo.id, todo.version);
  // A todo being edited stays while its editor is open, even if it left the filter.
  if (!matches(todo) && !(drafts.has(todo.id) && itemOf(todo.id))) {
    takeAway(todo.id);
    return;
  }
  state.shown.set(todo.id, todo);
  const existing = itemOf(todo.id);
  if (existing) {
    showTodo(existing, todo);
    return;
  }
  const items = [...$('todos').children];
  const last = items.at(-1);
  if (!listed && state.hasNextPage && last && todo.id < last.dataset.id) {
    state.shown.delete(todo.id);
    return;
  }
  const item = newItem(todo);
  const before = items.find((other) => other.dataset.id < todo.id);
  $('todos').insertBefore(item, before ?? null);
  showListEnds();
}

/// The todo is deleted (here, elsewhere, or found missing): it is taken off the page and
/// never shown again. An editor open on it stays, saying so, so that what the user typed
/// is not lost; closing the editor takes the todo away.
function forget(id) {
  state.gone.add(id);
  state.shown.delete(id);
  const item = itemOf(id);
  if (!item || !drafts.has(id) || state.deleting.has(id)) {
    drafts.delete(id);
    takeAway(id);
    return;
  }
  for (const control of item.querySelectorAll('.show input, .show button, .controls input, .controls button, form.edit [data-role="save"]')) {
    control.disabled = true;
  }
  const box = item.querySelector('.conflict');
  box.replaceChildren(el('strong', {}, 'Deleted elsewhere. '),
    'Your edits were not saved; they stay in the form until you cancel it.');
  box.hidden = false;
}

/// Removes a todo from the page; focus, if it was in it, goes to a neighbour.
function takeAway(id) {
  state.shown.delete(id);
  const item = itemOf(id);
  if (!item) return;
  const hadFocus = item.contains(document.activeElement);
  const neighbour = item.nextElementSibling ?? item.previousElementSibling;
  item.remove();
  showListEnds();
  if (hadFocus) (neighbour?.querySelector('[data-role="done"]') ?? $('create-title')).focus();
}

$('load-more').addEventListener('click', async (event) => {
  try {
    const added = await busy(event.currentTarget, () => list({ more: true }));
    if (added === null) return; // a new list is being read: it replaces this one
    notice(null);
    const first = added.length && itemOf(added[0].id);
    if (first) first.querySelector('[data-role="done"]').focus();
    announce(`${added.length} more shown.`);
  } catch (error) {
    report(error);
  }
});

$('filter').addEventListener('submit', async (event) => {
  event.preventDefault();
  await applyFilter(event.currentTarget);
});
$('filter-status').addEventListener('change', () => applyFilter($('filter')));

async function applyFilter(form) {
  clearErrors(form);
  const { status, tag } = Object.fromEntries(new FormData(form));
  const filter = { status: status || null, tag: tag.trim().toLowerCase() || null };
  try {
    // Until its list is read, the page (and "Load more") stays on the previous filter.
    if (await list({ filter }) === null) return;
    notice(null);
    announce(`${state.shown.size}${state.hasNextPage ? ' or more' : ''} todos shown.`);
  } catch (error) {
    if (error instanceof ApiError && error.code === 'validation_failed') showErrors(form, error);
    else report(error);
  }
}

// Creating.

const createKey = new RetryKey();

$('create').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const fields = Object.fromEntries(new FormData(form));
  const input = { title: fields.title, tags: fields.tags.split(/[\s,]+/).filter(Boolean) };
  if (fields.description.trim()) input.description = fields.description;
  if (fields.dueDate) input.dueDate = fields.dueDate;
  try {
    const todo = await busy(form.querySelector('button'), () => api.create(input, createKey.for(input)));
    createKey.done();
    notice(null);
    // What was typed while the todo was being sent stays, for the next one.
    if (JSON.stringify(Object.fromEntries(new FormData(form))) === JSON.stringify(fields)) form.reset();
    place(todo);
    announce(`Added “${todo.title}”.`);
    // Back to the title, unless the user has moved on to another field or control.
    const button = form.querySelector('button');
    if (idle() || document.activeElement === $('create-title') || document.activeElement === button) $('create-title').focus();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.code === 'unauthenticated') report(error);
    else showErrors(form, error);
  }
});

// One todo.

/// A new list item for `todo`: what it shows of the todo (rebuilt on every change), its
/// controls, and its two forms (kept, so that what the user is typing survives a change
/// arriving meanwhile).
function newItem(todo) {
  const id = todo.id;
  const item = el('li', { class: 'todo', 'data-id': id },
    el('div', { class: 'show' }),
    el('div', { class: 'controls' },
      el('form', { class: 'add-tag', 'data-form': 'add-tag', novalidate: true },
        el('label', { for: `tag-${id}`, class: 'visually-hidden' }),
        el('input', { id: `tag-${id}`, name: 'tag', 'data-field': 'tag', 'data-role': 'tag-input', autocomplete: 'off', placeholder: 'new tag', 'aria-describedby': `tag-${id}-error` }),
        el('button', { type: 'submit', 'data-role': 'add-tag' }, 'Add tag'),
        el('p', { class: 'field-error', id: `tag-${id}-error`, hidden: true })),
      el('div', { class: 'actions' },
        el('button', { type: 'button', 'data-role': 'edit' }, 'Edit', hidden('')),
        el('button', { type: 'button', class: 'danger', 'data-role': 'delete' }, 'Delete', hidden('')))),
    el('div', { class: 'conflict', role: 'alert', tabindex: '-1', hidden: true }),
    el('form', { class: 'edit', 'data-form': 'edit', hidden: true, novalidate: true },
      el('label', { for: `edit-title-${id}` }, 'Title'),
      el('input', { id: `edit-title-${id}`, name: 'title', 'data-field': 'title', required: true, maxlength: '200', 'aria-describedby': `edit-title-${id}-error` }),
      el('p', { class: 'field-error', id: `edit-title-${id}-error`, hidden: true }),
      el('label', { for: `edit-description-${id}` }, 'Description'),
      el('textarea', { id: `edit-description-${id}`, name: 'description', 'data-field': 'description', rows: '2', maxlength: '10000', 'aria-describedby': `edit-description-${id}-error` }),
      el('p', { class: 'field-error', id: `edit-description-${id}-error`, hidden: true }),
      el('label', { for: `edit-due-${id}` }, 'Due date'),
      el('input', { id: `edit-due-${id}`, name: 'dueDate', 'data-field': 'dueDate', type: 'date', 'aria-describedby': `edit-due-${id}-error` }),
      el('p', { class: 'field-error', id: `edit-due-${id}-error`, hidden: true }),
      el('p', { class: 'form-error', role: 'alert', hidden: true }),
      el('div', { class: 'actions' },
        el('button', { type: 'submit', 'data-role': 'save' }, 'Save'),
        el('button', { type: 'button', 'data-role': 'cancel' }, 'Cancel'))));
  showTodo(item, todo);
  return item;
}

/// Shows `todo` in `item`: rebuilds what it shows (keeping focus on the same control) and
/// names the controls after its title.
function showTodo(item, todo) {
  const focused = item.querySelector('.show')?.contains(document.activeElement)
    ? document.activeElement.dataset.role
    : null;
  item.classList.toggle('done', todo.status === 'DONE');
  item.querySelector('.add-tag label').textContent = `New tag for “${todo.title}”`;
  for (const name of item.querySelectorAll('.controls .actions .visually-hidden')) {
    name.textContent = ` “${todo.title}”`;
  }
  item.querySelector('.show').replaceWith(el('div', { class: 'show' },
    el('div', { class: 'line' },
      el('input', {
        type: 'checkbox', 'data-role': 'done', checked: todo.status === 'DONE',
        'aria-label': `Done: ${todo.title}`,
      }),
      el('span', { class: 'title' }, todo.title),
      todo.dueDate && el('span', { class: 'due' }, `due ${todo.dueDate}`)),
    todo.description && el('p', { class: 'description' }, todo.description),
    todo.tags.length > 0 && el('ul', { class: 'tags', 'aria-label': `Tags of “${todo.title}”` },
      todo.tags.map((tag) => el('li', { class: 'tag' },
        el('span', {}, tag),
        el('button', { type: 'button', class: 'untag', 'data-role': `untag:${tag}`, 'data-tag': tag },
          el('span', { 'aria-hidden': 'true' }, '×'), hidden(`Remove tag ${tag}`)))))));
  // The control may be gone (a tag removed elsewhere): then the todo's checkbox.
  if (focused) {
    (item.querySelector(`[data-role="${CSS.escape(focused)}"]`) ?? item.querySelector('[data-role="done"]')).focus();
  }
  item.querySelector('form.edit').setAttribute('aria-label', `Edit “${todo.title}”`);
}

/// Tells the user that the todo changed elsewhere, and shows it as it is now.
async function showConflict(item, id, what) {
  let current;
  try {
    current = await api.todo(id);
  } catch (error) {
    if (error instanceof ApiError && error.code === 'not_found') {
      forget(id);
      notice('That todo was deleted elsewhere.');
      return null;
    }
    throw error;
  }
  place(current);
  const box = item.querySelector('.conflict');
  box.replaceChildren(
    el('strong', {}, 'Changed elsewhere. '),
    `It is now “${current.title}”`,
    current.description ? `, “${current.description}”` : '',
    current.dueDate ? `, due ${current.dueDate}` : '',
    ` (version ${current.version}). ${what}`);
  box.hidden = false;
  box.focus();
  return current;
}

const drafts = new Map(); // todo id -> { version, key }

function openEditor(item, todo) {
  const form = item.querySelector('form.edit');
  if (!todo) return; // deleted meanwhile
  if (drafts.has(todo.id)) {
    // Open already: what is typed there stays.
    form.elements.title.focus();
    return;
  }
  form.elements.title.value = todo.title;
  form.elements.description.value = todo.description ?? '';
  form.elements.dueDate.value = todo.dueDate ?? '';
  clearErrors(form);
  item.querySelector('.conflict').hidden = true;
  drafts.set(todo.id, { version: todo.version, key: new RetryKey() });
  form.hidden = false;
  form.elements.title.focus();
}

function closeEditor(item, id) {
  drafts.delete(id);
  const todo = state.shown.get(id);
  if (!todo || !matches(todo)) {
    // Deleted, or out of the filter, while it was being edited.
    takeAway(id);
    return;
  }
  const inside = item.contains(document.activeElement) || idle();
  item.querySelector('form.edit').hidden = true;
  item.querySelector('.conflict').hidden = true;
  if (inside) item.querySelector('.controls [data-role="edit"]').focus();
}

async function save(item, id, form) {
  const draft = drafts.get(id);
  if (!draft || state.gone.has(id)) return;
  const input = {
    title: form.elements.title.value,
    description: form.elements.description.value.trim() ? form.elements.description.value : null,
    dueDate: form.elements.dueDate.value || null,
  };
  try {
    const todo = await busy(form.querySelector('[data-role="save"]'),
      () => api.update(id, draft.version, input, draft.key.for([draft.version, input])));
    notice(null);
    place(todo);
    if (drafts.get(id) === draft) closeEditor(item, id);
    announce(`Saved “${todo.title}”.`);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.code === 'version_mismatch') {
      clearErrors(form);
      const current = await showConflict(item, id,
        'Your edits are still in the form: save again to replace it with them, or cancel to keep it.');
      // Saving again is now a choice made knowing the other change, not a silent overwrite.
      if (current) draft.version = current.version;
    } else if (error.code === 'not_found') {
      forget(id);
    } else if (error.code === 'unauthenticated') {
      report(error);
    } else {
      showErrors(form, error);
    }
  }
}

const deleteKeys = new Map(); // todo id -> RetryKey

async function remove(item, id) {
  const todo = state.shown.get(id);
  if (!todo) {
    // Deleted elsewhere already, and kept on the page for its open editor.
    drafts.delete(id);
    takeAway(id);
    return;
  }
  const key = deleteKeys.get(id) ?? new RetryKey();
  deleteKeys.set(id, key);
  // Taken now: the todo's own event may take it off the page before the answer comes.
  const neighbour = item.nextElementSibling ?? item.previousElementSibling;
  state.deleting.add(id);
  try {
    await api.remove(id, todo.version, key.for([todo.version]));
    deleteKeys.delete(id);
    notice(null);
    forget(id);
    const next = neighbour?.isConnected ? neighbour : $('todos').firstElementChild;
    (next?.querySelector('[data-role="done"]') ?? $('create-title')).focus();
    announce(`Deleted “${todo.title}”.`);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.code === 'version_mismatch') {
      await showConflict(item, id, 'It was not deleted: delete again if you still want to.');
    } else if (error.code === 'not_found') {
      forget(id);
    } else {
      report(error);
    }
  } finally {
    state.deleting.delete(id);
  }
}

/// Shows the answer to a change made here that needs no version. If the todo's editor is
/// open and this change is the only one since it opened, the editor's version follows, so
/// that saving it is not reported as a change made elsewhere (the fields it edits are not
/// ones these changes touch).
function answered(todo) {
  const draft = drafts.get(todo.id);
  if (draft && draft.version + 1 === todo.version) draft.version = todo.version;
  place(todo);
}

/// Runs a change to todo `id` that needs no version (complete, reopen, tags) and shows its
/// answer. If it fails, the todo is shown as it was (a checkbox the user ticked is
/// unticked again).
async function change(id, work, then) {
  try {
    answered(await work());
    notice(null);
    then?.();
  } catch (error) {
    const known = state.shown.get(id);
    const item = itemOf(id);
    if (known && item) showTodo(item, known);
    if (error instanceof ApiError && error.code === 'not_found') {
      forget(id);
      notice('That todo was deleted elsewhere.');
    } else {
      report(error);
    }
  }
}

$('todos').addEventListener('click', async (event) => {
  const control = event.target.closest('button');
  const item = event.target.closest('li.todo');
  if (!control || !item) return;
  const id = item.dataset.id;
  const role = control.dataset.role ?? '';
  if (role === 'edit') openEditor(item, state.shown.get(id));
  else if (role === 'cancel') closeEditor(item, id);
  else if (role === 'delete') await busy(control, () => remove(item, id));
  else if (role.startsWith('untag:')) {
    const tag = control.dataset.tag;
    await change(id, () => api.removeTag(id, tag), () => {
      item.querySelector('[data-role="tag-input"]').focus();
      announce(`Removed tag ${tag}.`);
    });
  }
});

$('todos').addEventListener('keydown', (event) => {
  const form = event.target.closest?.('form.edit');
  if (event.key !== 'Escape' || event.isComposing || !form) return;
  const item = form.closest('li.todo');
  closeEditor(item, item.dataset.id);
});

$('todos').addEventListener('change', async (event) => {
  if (event.target.dataset.role !== 'done') return;
  const id = event.target.closest('li.todo').dataset.id;
  const done = event.target.checked;
  await change(id, () => (done ? api.complete(id) : api.reopen(id)),
    () => announce(done ? 'Marked done.' : 'Marked open.'));
});

$('todos').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  const item = form.closest('li.todo');
  const id = item.dataset.id;
  if (form.dataset.form === 'edit') {
    await save(item, id, form);
  } else if (form.dataset.form === 'add-tag') {
    clearErrors(form);
    const tag = form.elements.tag.value;
    try {
      answered(await api.addTag(id, tag));
      notice(null);
      form.reset();
      form.elements.tag.focus();
      announce(`Tagged ${tag.trim().toLowerCase()}.`);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'validation_failed') showErrors(form, error);
      else report(error);
    }
  }
});

// Live events.

/// A change made anywhere (this window, another one, REST, gRPC): read the todo as it is
/// now and show it. Reads for one todo are not run side by side; one more runs after the
/// current read if events kept coming.
function onEvent(event) {
  if (event.version > (state.latest.get(event.todoId) ?? 0)) state.latest.set(event.todoId, event.version);
  if (event.type === 'DELETED') {
    forget(event.todoId);
    return;
  }
  refresh(event.todoId);
}

async function refresh(id) {
  if (state.refreshing.has(id)) {
    state.refreshing.set(id, true);
    return;
  }
  state.refreshing.set(id, false);
  try {
    do {
      state.refreshing.set(id, false);
      try {
        place(await api.todo(id), { reread: true });
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.code === 'not_found') forget(id);
        else if (error.code === 'unauthenticated') report(error);
        // Anything else: the next event, or a reload, shows it.
      }
    } while (state.refreshing.get(id));
  } finally {
    state.refreshing.delete(id);
  }
}

// Start: a token kept from earlier in this tab is used if it still works.

async function start() {
  if (!session.token) {
    $('log-in-email').focus();
    return;
  }
  try {
    await enter(await api.me());
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.code === 'unauthenticated') leave(null);
    else notice(error.words);
  }
}

start();
