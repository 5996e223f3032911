// The GraphQL API over HTTP: one function per operation the app uses, and one error type
// that says what went wrong in words a person can act on.
//
// The token lives in sessionStorage: the tab forgets it when it closes, and since it goes
// in an `Authorization` header and never in a cookie, no other site can make the browser
// send it (no CSRF to defend against).

const TOKEN_KEY = 'todo-backend.token';

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
};

/// An error of the API (`code` is `extensions.code`, as in docs/src/errors.md), of the
/// network (`code` is `network`), or an answer that came after the user logged out or in
/// as someone else (`code` is `superseded`: the page drops it).
export class ApiError extends Error {
  constructor(message, { code, fields = [], retryAfter = null, currentVersion = null } = {}) {
    super(message);
    this.code = code;
    this.fields = fields;
    this.retryAfter = retryAfter;
    this.currentVersion = currentVersion;
  }

  /// What to tell the user.
  get words() {
    const wait = this.retryAfter ? ` Try again in ${this.retryAfter} s.` : ' Try again shortly.';
    switch (this.code) {
      case 'rate_limited': return `Too many attempts.${wait}`;
      case 'unavailable':
      case 'overloaded': return `The service is busy or unavailable.${wait}`;
      case 'timeout': return `The server took too long to answer.${wait}`;
      case 'payload_too_large': return 'That is more text than the server takes at once: shorten it and try again.';
      case 'network': return 'The server cannot be reached. Check the connection and try again.';
      case 'unauthenticated': return 'Your session has ended. Log in again.';
      case 'version_mismatch': return 'This todo was changed elsewhere.';
      case 'not_found': return 'This todo no longer exists.';
      case 'validation_failed': return 'Some fields need attention.';
      case 'internal': return 'Something went wrong on the server. Try again later.';
      case 'http': return `The server answered with an error (${this.message}).${wait}`;
      default: return this.message || `Something went wrong.${wait}`;
    }
  }
}

function apiError(error, retryAfterHeader) {
  const extensions = error.extensions ?? {};
  return new ApiError(error.message, {
    code: extensions.code,
    fields: extensions.fields ?? [],
    retryAfter: extensions.retryAfterSeconds ?? retryAfterHeader,
    currentVersion: extensions.currentVersion ?? null,
  });
}

/// Runs one operation and returns its `data`, or throws its first error as an ApiError.
export async function graphql(query, variables = {}) {
  const headers = {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json',
  };
  const token = session.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  } catch {
    throw new ApiError('network error', { code: 'network' });
  }
  // Another session's answer must not reach this one's page.
  if (session.token !== token) throw new ApiError('superseded', { code: 'superseded' });
  const retryAfter = Number(response.headers.get('retry-after')) || null;
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: a proxy's page, say. The status decides below.
  }
  if (Array.isArray(body?.errors) && body.errors.length) throw apiError(body.errors[0], retryAfter);
  if (response.ok && body?.data) return body.data;
  // Not a GraphQL answer: the server's HTTP layer refused the request before GraphQL saw it
  // (a problem document, RFC 9457, with its own `code`: `payload_too_large`, `overloaded`,
  // `timeout`, …), or something between the page and the server answered.
  const code = typeof body?.code === 'string' ? body.code : codeOfStatus(response.status);
  const message = typeof body?.detail === 'string' ? body.detail : (body?.title ?? `HTTP ${response.status}`);
  throw new ApiError(message, { code, retryAfter });
}

function codeOfStatus(status) {
  if (status === 429) return 'rate_limited';
  if (status === 413) return 'payload_too_large';
  if (status === 401) return 'unauthenticated';
  if (status === 502 || status === 503 || status === 504) return 'unavailable';
  return 'http';
}

const TODO = `id title description tags dueDate status completedAt version createdAt updatedAt`;

export const api = {
  register: (input) => graphql(`mutation ($input: RegisterInput!) { register(input: $input) { id } }`, { input }),
  logIn: (email, password) => graphql(
    `mutation ($email: String!, $password: String!) { logIn(email: $email, password: $password) { token user { displayName email } } }`,
    { email, password },
  ).then((data) => data.logIn),
  logOut: () => graphql(`mutation { logOut }`),
  me: () => graphql(`{ me { displayName email } }`).then((data) => data.me),
  todos: ({ first, after, status, tag }) => graphql(
    `query ($first: Int, $after: String, $status: TodoStatus, $tag: String) {
      todos(first: $first, after: $after, status: $status, tag: $tag) {
        nodes { ${TODO} } pageInfo { hasNextPage endCursor } } }`,
    { first, after, status, tag },
  ).then((data) => data.todos),
  todo: (id) => graphql(`query ($id: ID!) { todo(id: $id) { ${TODO} } }`, { id }).then((data) => data.todo),
  create: (input, idempotencyKey) => graphql(
    `mutation ($input: CreateTodoInput!, $key: String) { createTodo(input: $input, idempotencyKey: $key) { ${TODO} } }`,
    { input, key: idempotencyKey },
  ).then((data) => data.createTodo),
  update: (id, expectedVersion, input, idempotencyKey) => graphql(
    `mutation ($id: ID!, $version: Int!, $input: UpdateTodoInput!, $key: String) {
      updateTodo(id: $id, expectedVersion: $version, input: $input, idempotencyKey: $key) { ${TODO} } }`,
    { id, version: expectedVersion, input, key: idempotencyKey },
  ).then((data) => data.updateTodo),
  complete: (id) => graphql(`mutation ($id: ID!) { completeTodo(id: $id) { ${TODO} } }`, { id }).then((data) => data.completeTodo),
  reopen: (id) => graphql(`mutation ($id: ID!) { reopenTodo(id: $id) { ${TODO} } }`, { id }).then((data) => data.reopenTodo),
  addTag: (id, tag) => graphql(`mutation ($id: ID!, $tag: String!) { addTag(id: $id, tag: $tag) { ${TODO} } }`, { id, tag }).then((data) => data.addTag),
  removeTag: (id, tag) => graphql(`mutation ($id: ID!, $tag: String!) { removeTag(id: $id, tag: $tag) { ${TODO} } }`, { id, tag }).then((data) => data.removeTag),
  remove: (id, expectedVersion, idempotencyKey) => graphql(
    `mutation ($id: ID!, $version: Int!, $key: String) { deleteTodo(id: $id, expectedVersion: $version, idempotencyKey: $key) }`,
    { id, version: expectedVersion, key: idempotencyKey },
  ),
};

/// A key for a write the user may send again: the same while the arguments stay the same
/// (a retry after a lost answer is then a replay, not a second todo), a new one as soon as
/// they change.
export class RetryKey {
  #arguments = null;
  #key = null;

  for(args) {
    const text = JSON.stringify(args);
    if (text !== this.#arguments) {
      this.#arguments = text;
      this.#key = uuid();
    }
    return this.#key;
  }

  /// The write went through: the next one is a new write.
  done() { this.#arguments = null; }
}

/// A random UUID. `crypto.randomUUID` exists only in secure contexts (https, or localhost);
/// the app may be served over plain http on a network, so build one from random bytes.
function uuid() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
