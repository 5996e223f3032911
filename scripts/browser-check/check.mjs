// Opens the app's browser pages in headless Chromium with every request that leaves the
// app refused, and checks that they work:
//
//   - /docs: Swagger UI renders the OpenAPI document;
//   - /graphiql: GraphiQL renders, its docs explorer lists the schema, and `{ me { email } }`
//     sent with a bearer token (typed into the Headers editor) returns data;
//   - /graphiql runs the `todoEvents` subscription over its WebSocket, with the same token,
//     and shows the event of a todo created (over REST) while it runs.
//
//   BASE=http://127.0.0.1:8080 node check.mjs     # a running `backend serve`
//   SCREENSHOTS=/tmp node check.mjs               # also save what GraphiQL showed
//
// Both pages are served with the app's content security policy, so a script, style or
// connection that the policy refuses shows up as a console error, which fails the check.
//
// Prints what it saw; exits non-zero on any failure, or if the page tried to reach another
// host. Needs Debian's chromium (/usr/bin/chromium) and `npm install` here.
import { chromium } from 'playwright-core';

const base = process.env.BASE ?? 'http://127.0.0.1:8080';
const origin = new URL(base).origin;
const offsite = [];
const failures = [];
const saw = (what) => console.log(`saw: ${what}`);
const check = (ok, what) => (ok ? saw(what) : failures.push(what));

async function api(path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(base + path, { method: 'POST', headers, body: JSON.stringify(body) });
  return response.json();
}

const email = `browser-${Date.now()}@example.org`;
await api('/v1/users', { email, password: 'browser-check-1', display_name: 'Browser' });
const { token } = await api('/v1/sessions', { email, password: 'browser-check-1' });

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
});
const context = await browser.newContext();
// The network is off: anything not for the app is refused, and remembered.
await context.route('**/*', (route) => {
  const url = route.request().url();
  if (url.startsWith(origin) || url.startsWith('data:')) return route.continue();
  offsite.push(url);
  return route.abort();
});
const page = await context.newPage();
const consoleErrors = [];
page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()); });
page.on('pageerror', (error) => consoleErrors.push(String(error)));

// Swagger UI.
await page.goto(`${base}/docs/`, { waitUntil: 'networkidle' });
await page.waitForSelector('.swagger-ui .info .title', { timeout: 15000 });
check((await page.textContent('.swagger-ui .info .title'))?.includes('todo-backend'), '/docs renders the OpenAPI title');
check(await page.locator('.opblock-tag').count() >= 3, `/docs lists ${await page.locator('.opblock-tag').count()} operation groups`);

// GraphiQL.
await page.goto(`${base}/graphiql`, { waitUntil: 'networkidle' });
await page.waitForSelector('.graphiql-container', { timeout: 15000 });
saw('/graphiql renders the GraphiQL editor');
await page.click('button[aria-label="Show Documentation Explorer"]');
await page.waitForSelector('.graphiql-doc-explorer', { timeout: 15000 });
await page.getByText('Query', { exact: true }).first().click();
await page.waitForSelector('.graphiql-doc-explorer-field-name', { timeout: 15000 });
const rootFields = await page.locator('.graphiql-doc-explorer-field-name').allTextContents();
check(['me', 'todo', 'todos', 'users'].every((f) => rootFields.includes(f)), `docs explorer lists Query fields: ${rootFields.join(', ')}`);

// The query, with the token in the Headers editor.
// Each editor is a CodeMirror instance; set its text through its own API, as typing would.
const setEditor = async (selector, text) => {
  await page.locator(selector).first().click();
  await page.evaluate(([sel, value]) => {
    document.querySelector(sel).CodeMirror.setValue(value);
  }, [selector, text]);
};
await setEditor('.graphiql-query-editor .CodeMirror', '{ me { email } }');
await page.getByRole('button', { name: 'Headers' }).click();
await setEditor(
  'section.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror',
  JSON.stringify({ Authorization: `Bearer ${token}` }),
);
await page.click('button.graphiql-execute-button');
await page.waitForFunction(() => document.querySelector('.result-window')?.textContent.includes('email'), null, { timeout: 15000 });
const result = await page.locator('.result-window').textContent();
if (process.env.SCREENSHOTS) await page.screenshot({ path: `${process.env.SCREENSHOTS}/graphiql.png` });
check(result.includes(email), `{ me { email } } with a bearer token returned ${result.replace(/\s+/g, ' ').trim()}`);

// A subscription, over the page's WebSocket. It is live once the client has sent
// `subscribe`; a todo created after that must show up in the result pane.
const subscribed = new Promise((resolve) => {
  page.on('websocket', (socket) => {
    socket.on('framesent', (frame) => {
      if (String(frame.payload).includes('"subscribe"')) resolve(socket.url());
    });
  });
});
await setEditor('.graphiql-query-editor .CodeMirror', 'subscription { todoEvents { eventId type todoId version } }');
// GraphiQL parses the edited document after a short debounce, and picks the transport
// from that parse: wait for it, as a person would before pressing Run.
await page.waitForTimeout(1000);
await page.click('button.graphiql-execute-button');
const socketUrl = await Promise.race([subscribed, new Promise((resolve) => setTimeout(() => resolve(null), 15000))]);
check(socketUrl?.startsWith(origin.replace('http', 'ws')), `the subscription opened a WebSocket to ${socketUrl}`);
// The server subscribes a moment after the message arrives; a short pause, then the write.
await new Promise((resolve) => setTimeout(resolve, 500));
const todo = await api('/v1/todos', { title: 'Seen live in GraphiQL' }, token);
await page
  .waitForFunction((id) => document.querySelector('.result-window')?.textContent.includes(id), todo.id, { timeout: 15000 })
  .catch(() => {});
const live = await page.locator('.result-window').textContent();
if (process.env.SCREENSHOTS) await page.screenshot({ path: `${process.env.SCREENSHOTS}/graphiql-subscription.png` });
check(live.includes(todo.id) && live.includes('CREATED'), `the subscription showed ${live.replace(/\s+/g, ' ').trim()}`);

check(offsite.length === 0, `no request left the app (${offsite.length} tried: ${offsite.join(', ')})`);
check(consoleErrors.length === 0, `no console errors (${consoleErrors.join(' | ')})`);
await browser.close();
if (failures.length) {
  console.error(`FAILED: ${failures.join('; ')}`);
  process.exit(1);
}
console.log('all browser checks passed');
