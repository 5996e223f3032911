//! Which fields of a GraphQL response are replays of an earlier request with the same
//! idempotency key: the resolvers note them, the HTTP layer reports them.

use std::sync::{Arc, Mutex};

/// The root fields of one request whose answers were replays of an earlier request with
/// the same idempotency key, by response key. The HTTP layer puts them in the response's
/// `extensions.idempotentReplayed`, and sends `Idempotent-Replayed: true` when they are
/// all the fields it answered: a header speaks for the whole response, and one document
/// may hold a replayed write beside a new one.
#[derive(Debug, Clone, Default)]
pub(crate) struct Replays(Arc<Mutex<Vec<String>>>);

impl Replays {
    /// Notes the field with response key `key` as a replay.
    pub(crate) fn add(&self, key: String) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(key);
    }

    /// The replayed fields' response keys, in the order they ran.
    pub(crate) fn keys(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
