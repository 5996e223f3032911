// Small helpers for the DOM: building elements, showing errors beside their fields, and
// telling the user what happened. No framework: the page is small enough to update by hand.

/// An element: `el('button', { type: 'button', class: 'edit' }, 'Edit')`. Attributes with
/// the value `false`, `null` or `undefined` are left out; children may be strings.
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value == null) continue;
    element.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    element.append(child);
  }
  return element;
}

/// Text read by screen readers only.
export const hidden = (text) => el('span', { class: 'visually-hidden' }, text);

const announcer = () => document.getElementById('announce');

/// Says what just happened, politely (a `status` region).
export function announce(text) {
  const region = announcer();
  region.textContent = '';
  // A change a moment later is announced even when the text repeats.
  setTimeout(() => { region.textContent = text; }, 50);
}

/// Shows an error the user can act on at the top of the page, or hides it with `null`.
export function notice(text) {
  const box = document.getElementById('notice');
  box.textContent = text ?? '';
  box.hidden = !text;
}

/// The name of an API field as the page spells it in `data-field`: the last part of the
/// path the API gives (`input.dueDate`, `tags[3]`), without indexes.
const fieldName = (path) => path.split('.').pop().replace(/\[\d+\]$/, '');

/// Clears the messages of `form` set by `showErrors`.
export function clearErrors(form) {
  for (const message of form.querySelectorAll('.field-error, .form-error')) {
    message.textContent = '';
    message.hidden = true;
  }
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
}

/// Shows `error` in `form`: each field's message beside its input (matched by
/// `data-field`), anything else in the form's `.form-error`. Moves focus to the first field
/// in error, or to the form's message. Returns whether anything was shown.
export function showErrors(form, error) {
  // An answer that came after the user logged out or in as someone else.
  if (error.code === 'superseded') return false;
  clearErrors(form);
  let first = null;
  const unplaced = [];
  for (const { field, message } of error.fields ?? []) {
    const input = form.querySelector(`[data-field="${fieldName(field)}"]`);
    const slot = input && document.getElementById(input.getAttribute('aria-describedby'));
    if (!slot) {
      unplaced.push(`${field}: ${message}`);
      continue;
    }
    slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
    slot.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    first ??= input;
  }
  const general = form.querySelector('.form-error');
  if (general && (unplaced.length || !first)) {
    general.textContent = [error.words, ...unplaced].join(' ');
    general.hidden = false;
  }
  if (first) first.focus();
  else if (general) {
    general.setAttribute('tabindex', '-1');
    general.focus();
  }
  return Boolean(first || general);
}
