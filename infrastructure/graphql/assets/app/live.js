// Live updates: the `todoEvents` subscription over the WebSocket at /graphql/ws
// (graphql-transport-ws, with the vendored graphql-ws client).
//
// The stream is kept open for as long as the user is logged in. When it drops (the server
// restarted, the network blinked, the stream ended with `subscriber_lagged` or
// `feed_interrupted`), it is opened again with `after` set to the last event received, so
// the events in between come first and nothing is missed. With no event to resume after
// (none has arrived yet, or the last one is older than the events the server keeps), the
// page is asked to read its list again once the new subscription is running. Delivery is
// at least once, so repeats are dropped by `eventId`.

import { createClient } from './vendor/graphql-ws/client.js';

const SUBSCRIPTION = `subscription ($after: ID) {
  todoEvents(after: $after) { eventId type todoId version tag }
}`;

/// How many recent event ids are remembered to drop repeats: the server drops repeats
/// among the last 128 it sent, a redelivery after a crash may come from further back.
const REMEMBERED = 512;

/// The wait before connecting again, growing to at most 5 s.
const backoff = (attempt) => Math.min(5000, 250 * 2 ** attempt);

/// A subscription that stayed up this long was a working one: the next drop starts the
/// backoff again from its shortest wait. One refused at once (the server is at its limit,
/// say) keeps growing the wait instead of reconnecting in a tight loop.
const STEADY_MS = 5000;

/// How long after the connection is acknowledged the subscription is taken to be running
/// on the server. graphql-transport-ws acknowledges the connection, not a subscription, so
/// the page cannot be told; re-reading the list after this wait means a change is either
/// in what is read or arrives as an event.
const SETTLE_MS = 150;

/// How long an answer to the client's keep-alive ping may take before the connection is
/// taken for dead (a network that drops packets silently, a proxy holding a dead socket):
/// it is then closed and opened again.
const PONG_MS = 5000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class LiveTodos {
  #token;
  #handlers;
  #after = null;
  #seen = new Set();
  #stopped = false;
  #client = null;

  /// `handlers`: `event(event)` for each new event; `state(name, retryAfter)` with
  /// `connecting`, `live`, `reconnecting` or `limited` (too many subscriptions open: it
  /// tries again later); `resync()` when a subscription starts with nothing to resume
  /// from (the first one, one after a gap, one before any event arrived), so whatever
  /// changed before it is read again; and `ended(code)` when the session is over.
  constructor(token, handlers) {
    this.#token = token;
    this.#handlers = handlers;
    this.#run();
  }

  stop() {
    this.#stopped = true;
    if (this.#client) dispose(this.#client);
  }

  async #run() {
    let attempt = 0;
    while (!this.#stopped) {
      this.#handlers.state(attempt === 0 ? 'connecting' : 'reconnecting');
      const started = { at: null };
      const outcome = await this.#subscribeOnce(() => { started.at = Date.now(); });
      if (this.#stopped) return;
      if (outcome.ended) {
        this.#handlers.ended(outcome.ended);
        return;
      }
      const steady = started.at !== null && Date.now() - started.at >= STEADY_MS;
      if (steady) attempt = 0;
      if (outcome.gap) {
        // The last event seen is older than the events kept: start from now, and re-read
        // (the next subscription asks for that, having no `after`).
        this.#after = null;
      }
      // `again` after a working subscription: at once. A stream that keeps ending as soon as
      // it starts waits like any other failure.
      let wait = outcome.again && steady ? 0 : backoff(attempt);
      if (outcome.limited) {
        wait = Math.max(wait, (outcome.retryAfter ?? 0) * 1000);
        this.#handlers.state('limited', Math.ceil(wait / 1000));
      } else {
        this.#handlers.state('reconnecting');
      }
      await sleep(wait);
      attempt += 1;
    }
  }

  /// One subscription, from connecting to its end; says how it ended.
  #subscribeOnce(connected) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const resuming = this.#after !== null;
    return new Promise((resolve) => {
      let settle = null;
      let pong = null;
      const client = createClient({
        url: `${scheme}://${location.host}/graphql/ws`,
        connectionParams: { authorization: `Bearer ${this.#token}` },
        // This module reconnects itself, so that it can resume with `after`.
        retryAttempts: 0,
        lazy: true,
        keepAlive: 10_000,
        on: {
          ping: (received) => {
            if (received) return;
            clearTimeout(pong);
            pong = setTimeout(() => client.terminate(), PONG_MS);
          },
          pong: (received) => {
            if (received) clearTimeout(pong);
          },
          connected: () => {
            connected();
            this.#handlers.state('live');
            if (!resuming) {
              settle = setTimeout(() => {
                if (!this.#stopped) this.#handlers.resync();
              }, SETTLE_MS);
            }
          },
        },
      });
      this.#client = client;
      const finish = (outcome) => {
        clearTimeout(settle);
        clearTimeout(pong);
        dispose(client);
        resolve(outcome);
      };
      const variables = resuming ? { after: this.#after } : {};
      client.subscribe({ query: SUBSCRIPTION, variables }, {
        next: (result) => {
          if (result.errors?.length) {
            finish(classify(result.errors));
            return;
          }
          this.#receive(result.data.todoEvents);
        },
        error: (error) => finish(classify(error)),
        complete: () => finish({}),
      });
    });
  }

  #receive(event) {
    this.#after = event.eventId;
    if (this.#seen.has(event.eventId)) return;
    this.#seen.add(event.eventId);
    if (this.#seen.size > REMEMBERED) {
      this.#seen.delete(this.#seen.values().next().value);
    }
    this.#handlers.event(event);
  }
}

/// Closes `client`'s socket. graphql-ws's `dispose` waits for the connection being made, and
/// rejects with its close event if that failed: the socket is closed then already.
function dispose(client) {
  client.dispose().catch(() => {});
}

/// What to do after the stream ended with `error`: a close event of the WebSocket, or the
/// GraphQL errors of the subscription.
function classify(error) {
  if (Array.isArray(error)) {
    const { code, fields = [], retryAfterSeconds = null } = error[0]?.extensions ?? {};
    if (code === 'session_ended' || code === 'unauthenticated') return { ended: 'unauthenticated' };
    if (code === 'validation_failed' && fields.some((f) => f.field === 'after')) return { gap: true };
    // `subscriber_lagged` and `feed_interrupted` say: subscribe again, with `after`.
    if (code === 'subscriber_lagged' || code === 'feed_interrupted') return { again: true };
    if (code === 'too_many_subscriptions') return { limited: true, retryAfter: retryAfterSeconds };
    return {};
  }
  // 4403: the token was refused, or the session ended while the socket was open. Other
  // close codes (1001 the server going away, 1006 the network, 4499 a ping left
  // unanswered) are worth another try.
  if (error?.code === 4403) return { ended: 'unauthenticated' };
  return {};
}
