//! The promises, checked against what the database holds and what the clients and
//! subscribers saw:
//!
//! 1. every acknowledged write is in the database (a todo at the version last
//!    acknowledged; a deletion acknowledged, gone);
//! 2. no retried request made a second write (as many todos were created as creates were
//!    acknowledged, give or take the creates abandoned);
//! 3. each todo's versions rise one by one, with no gap and no repeat;
//! 4. every outbox job was delivered, and none is dead;
//! 5. every subscriber saw every event of its own user, each todo's in order, and none of
//!    anyone else's (repeats, which the streams drop, are counted);
//! 6. no reminder was sent twice: one reminder per todo and due date, and the same reminder
//!    sent again only where a worker was killed mid-delivery (at least once).

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use sqlx::{PgPool, Row};

use crate::{
    client::{Client, Seen},
    fault::Fault,
};

/// One todo event as the outbox recorded it.
#[derive(Debug, Clone)]
struct Recorded {
    id: String,
    owner: String,
    todo: String,
    version: i64,
}

async fn recorded(pool: &PgPool) -> anyhow::Result<Vec<Recorded>> {
    let rows = sqlx::query(
        "SELECT id::text AS id, payload->>'owner_id' AS owner, payload->>'todo_id' AS todo, \
         (payload->>'version')::bigint AS version \
         FROM outbox WHERE kind = 'todo_event' ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(Recorded {
                id: row.try_get("id")?,
                owner: row.try_get("owner")?,
                todo: row.try_get("todo")?,
                version: row.try_get("version")?,
            })
        })
        .collect()
}

/// Waits (up to 120 s) until every outbox job is delivered and every subscriber has seen
/// as many events as its user has; whether that happened.
pub(crate) async fn settle(
    pool: &PgPool,
    clients: &[Client],
    watchers: &[Arc<Mutex<Seen>>],
) -> bool {
    for _ in 0..600 {
        let pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL",
        )
        .fetch_one(pool)
        .await
        .unwrap_or(i64::MAX);
        if pending == 0
            && let Ok(events) = recorded(pool).await
        {
            let caught_up = clients.iter().zip(watchers).all(|(client, seen)| {
                let expected = events.iter().filter(|e| e.owner == client.user_id).count();
                seen.lock().unwrap_or_else(|e| e.into_inner()).events.len() >= expected
            });
            if caught_up {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// Every violation of the promises above.
pub(crate) async fn run(
    pool: &PgPool,
    clients: &[Client],
    watchers: &[Arc<Mutex<Seen>>],
    reminders: &[(String, String, String)],
    injected: &BTreeMap<Fault, u64>,
) -> anyhow::Result<Vec<String>> {
    let mut violations = Vec::new();
    let events = recorded(pool).await?;
    let stored: HashMap<String, i64> = sqlx::query("SELECT id::text AS id, version FROM todos")
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|row| Ok((row.try_get("id")?, row.try_get("version")?)))
        .collect::<Result<_, sqlx::Error>>()?;

    for client in clients {
        // 1. Acknowledged writes are in the database.
        for (id, acked) in &client.todos {
            match (stored.get(id), acked.deleted) {
                (Some(_), true) => violations.push(format!(
                    "{}: the deletion of {id} was acknowledged, and it is still there",
                    client.email
                )),
                (None, false) if !acked.uncertain => violations.push(format!(
                    "{}: {id} was acknowledged at version {}, and it is gone",
                    client.email, acked.version
                )),
                (Some(version), false) if *version < acked.version => violations.push(format!(
                    "{}: {id} was acknowledged at version {}, and is at {version}",
                    client.email, acked.version
                )),
                // 2. ...and nothing more: every write moves the version by one.
                (Some(version), false) if *version > acked.version && !acked.uncertain => {
                    violations.push(format!(
                        "{}: {id} is at version {version}, past the {} acknowledged: a write \
                         happened twice",
                        client.email, acked.version
                    ))
                }
                _ => {}
            }
        }
        // 2. No create happened twice.
        let created = events
            .iter()
            .filter(|e| e.owner == client.user_id && e.version == 1)
            .count() as u64;
        let acknowledged = client.todos.len() as u64;
        if created < acknowledged || created > acknowledged + client.abandoned_creates {
            violations.push(format!(
                "{}: {created} todos were created for {acknowledged} creates acknowledged \
                 ({} abandoned)",
                client.email, client.abandoned_creates
            ));
        }
    }

    // 3. Versions rise one by one.
    let mut versions: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for event in &events {
        versions.entry(&event.todo).or_default().push(event.version);
    }
    for (todo, mut seen) in versions {
        seen.sort_unstable();
        let expected: Vec<i64> = (1..=seen.len() as i64).collect();
        if seen != expected {
            violations.push(format!("{todo}: its events have the versions {seen:?}"));
        }
        if let Some(version) = stored.get(todo)
            && *version != seen.len() as i64
        {
            violations.push(format!(
                "{todo}: at version {version} with {} events",
                seen.len()
            ));
        }
    }

    // 4. Every job delivered, none dead.
    let (pending, dead): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE delivered_at IS NULL AND dead_at IS NULL), \
         count(*) FILTER (WHERE dead_at IS NOT NULL) FROM outbox",
    )
    .fetch_one(pool)
    .await?;
    if pending > 0 || dead > 0 {
        violations.push(format!(
            "the outbox holds {pending} undelivered and {dead} dead jobs"
        ));
    }

    // 5. Every subscriber saw its user's events, in order, and nobody else's.
    for (client, seen) in clients.iter().zip(watchers) {
        let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        let own: HashSet<&str> = events
            .iter()
            .filter(|e| e.owner == client.user_id)
            .map(|e| e.id.as_str())
            .collect();
        let got: HashSet<&str> = seen.events.iter().map(|(id, _, _)| id.as_str()).collect();
        let missed = own.difference(&got).count();
        let foreign = got.difference(&own).count();
        if missed > 0 || foreign > 0 {
            violations.push(format!(
                "{}: the subscription missed {missed} of {} events and saw {foreign} not its own",
                client.email,
                own.len()
            ));
        }
        let mut last: HashMap<&str, i64> = HashMap::new();
        for (id, todo, version) in &seen.events {
            let previous = last.insert(todo, *version).unwrap_or(0);
            if *version <= previous {
                violations.push(format!(
                    "{}: event {id} of {todo} (version {version}) came after version {previous}",
                    client.email
                ));
            }
        }
        for refusal in &seen.refused_resumes {
            violations.push(format!("{}: a resume was refused: {refusal}", client.email));
        }
    }

    // 6. No reminder twice.
    let mut by_todo: HashMap<(&str, &str), HashSet<&str>> = HashMap::new();
    let mut sends: HashMap<&str, u64> = HashMap::new();
    for (id, todo, due) in reminders {
        by_todo.entry((todo, due)).or_default().insert(id);
        *sends.entry(id).or_default() += 1;
    }
    for ((todo, due), ids) in &by_todo {
        if ids.len() > 1 {
            violations.push(format!(
                "{todo} due {due} was reminded {} times, under different ids",
                ids.len()
            ));
        }
    }
    let resent = sends.values().filter(|n| **n > 1).count();
    let worker_kills = injected.get(&Fault::KillWorker).copied().unwrap_or(0);
    if resent > 0 && worker_kills == 0 {
        violations.push(format!(
            "{resent} reminders were sent twice with no worker killed"
        ));
    }
    Ok(violations)
}
