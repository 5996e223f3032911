// Live updates: the `todoEvents` subscription over the WebSocket at /graphql/ws
// (graphql-transport-ws, with the vendored graphql-ws client).
//
// The stream is kept open for as long as the user is logged in. When it drops (the server
// restarted, the network blinked, the stream ended with `subscriber_lagged` or
// `feed_interrupted`), it is opened again with `after` set to the last event received, so
// the events in between come first and nothing is missed. Delivery is at least once, so
// repeats are dropped by `eventId`.

import { createClient } from './vendor/graphql-ws/client.js';

const SUBSCRIPTION = `subscription ($after: ID) {
  todoEvents(after: $after) { eventId type todoId version tag }
}`;

/// How many recent event ids are remembered to drop repeats: the server drops repeats
/// among the last 128 it sent, a redelivery after a crash may come from further back.
const REMEMBERED = 512;

/// The wait before connecting again, growing to at most 5 s.
const backoff = (attempt) => Math.min(5000, 250 * 2 ** attempt);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class LiveTodos {
  #token;
  #handlers;
  #after = null;
  #seen = new Set();
  #stopped = false;
  #client = null;

  /// `handlers`: `event(event)` for each new event, `state(name)` with `connecting`,
  /// `live` or `reconnecting`, `gap()` when the events since the last one are no longer
  /// kept (re-read the list), and `ended(code)` when the session is over.
  constructor(token, handlers) {
    this.#token = token;
    this.#handlers = handlers;
    this.#run();
  }

  stop() {
    this.#stopped = true;
    this.#client?.dispose();
  }

  async #run() {
    let attempt = 0;
    while (!this.#stopped) {
      this.#handlers.state(attempt === 0 ? 'connecting' : 'reconnecting');
      const outcome = await this.#subscribeOnce(() => { attempt = 0; });
      if (this.#stopped) return;
      if (outcome.ended) {
        this.#handlers.ended(outcome.ended);
        return;
      }
      if (outcome.gap) {
        // The last event seen is older than the events kept: start from now, and re-read.
        this.#after = null;
        this.#handlers.gap();
      }
      this.#handlers.state('reconnecting');
      await sleep(outcome.again ? 0 : backoff(attempt));
      attempt += 1;
    }
  }

  /// One subscription, from connecting to its end; says how it ended.
  #subscribeOnce(connected) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    return new Promise((resolve) => {
      const client = createClient({
        url: `${scheme}://${location.host}/graphql/ws`,
        connectionParams: { authorization: `Bearer ${this.#token}` },
        // This module reconnects itself, so that it can resume with `after`.
        retryAttempts: 0,
        lazy: true,
        keepAlive: 10_000,
        on: {
          connected: () => {
            connected();
            this.#handlers.state('live');
          },
        },
      });
      this.#client = client;
      const finish = (outcome) => {
        client.dispose();
        resolve(outcome);
      };
      const variables = this.#after ? { after: this.#after } : {};
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

/// What to do after the stream ended with `error`: a close event of the WebSocket, or the
/// GraphQL errors of the subscription.
function classify(error) {
  if (Array.isArray(error)) {
    const { code, fields = [] } = error[0]?.extensions ?? {};
    if (code === 'session_ended' || code === 'unauthenticated') return { ended: 'unauthenticated' };
    if (code === 'validation_failed' && fields.some((f) => f.field === 'after')) return { gap: true };
    // `subscriber_lagged` and `feed_interrupted` say: subscribe again, with `after`.
    if (code === 'subscriber_lagged' || code === 'feed_interrupted') return { again: true };
    return {};
  }
  // 4403: the session ended (logged out or expired) while the socket was open.
  if (error?.code === 4403 || error?.code === 4401) return { ended: 'unauthenticated' };
  return {};
}
