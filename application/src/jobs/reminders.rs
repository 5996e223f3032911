//! The periodic reminder job: find the open todos that fall due soon and enqueue one
//! reminder for each.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use domain::{
    error::InfraError,
    event::{MessageId, OutboxMessage, Reminder},
    ports::{IdGenerator, ScheduleLedger, TodoRepository, UnitOfWork},
    todo::Todo,
};

/// The name of the reminder job in the schedule ledger.
pub const REMINDERS_JOB: &str = "reminders";

/// How many todos one page of the scan reads, and one transaction enqueues.
const PAGE: u32 = 200;

/// The furthest back a run catches up on deadlines that runs before it missed: reminding
/// someone more than a day late helps nobody.
pub const MAX_CATCH_UP: TimeDelta = TimeDelta::hours(24);

/// Enqueues a reminder for every open todo whose deadline falls within the window after
/// the tick.
///
/// Safe with several workers, twice over: the schedule ledger lets one worker run each
/// tick, and each reminder has a key (todo and due date) that the outbox records once, so
/// nobody is reminded twice.
///
/// Nothing is lost either. A tick counts as done only once its work is: each run covers
/// the deadlines from where the last *finished* run stopped to its own window's end. So a
/// run that failed (a database blip at 23:59), or ticks that no worker ran (an outage from
/// 23:00 to midnight), are made up by the next run that finishes, up to its catch-up
/// bound back; a reminder caught up that way arrives late rather than never. The reminder itself
/// is delivered by [`DeliverJobs`](super::DeliverJobs), with its retries.
#[derive(Clone)]
pub struct EnqueueReminders {
    todos: Arc<dyn TodoRepository>,
    unit_of_work: Arc<dyn UnitOfWork>,
    ledger: Arc<dyn ScheduleLedger>,
    ids: Arc<dyn IdGenerator>,
    window: TimeDelta,
    catch_up: TimeDelta,
}

impl std::fmt::Debug for EnqueueReminders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnqueueReminders")
            .field("window", &self.window)
            .field("catch_up", &self.catch_up)
            .finish_non_exhaustive()
    }
}

impl EnqueueReminders {
    /// Builds the use case; `window` is how far ahead of a tick to look (an hour, say),
    /// and `retention` how long the outbox keeps a delivered reminder, and so its key.
    ///
    /// A run catches up at most [`MAX_CATCH_UP`] back, and never so far that a reminder's
    /// key could be gone: a reminder is enqueued no earlier than `window` before its
    /// deadline, and its key lasts `retention` after that, so deadlines up to
    /// `retention - window` ago are safe to look at again.
    pub fn new(
        todos: Arc<dyn TodoRepository>,
        unit_of_work: Arc<dyn UnitOfWork>,
        ledger: Arc<dyn ScheduleLedger>,
        ids: Arc<dyn IdGenerator>,
        window: TimeDelta,
        retention: TimeDelta,
    ) -> Self {
        let catch_up = (retention - window).clamp(TimeDelta::zero(), MAX_CATCH_UP);
        Self {
            todos,
            unit_of_work,
            ledger,
            ids,
            window,
            catch_up,
        }
    }

    /// Runs the tick scheduled at `tick`, unless another worker has. Returns how many
    /// reminders it enqueued, or `None` when the tick was someone else's.
    ///
    /// # Errors
    /// Returns [`InfraError`] when storage fails; reminders enqueued before the failure
    /// stay, the tick is not marked done, and the next run enqueues the rest.
    #[tracing::instrument(name = "enqueue_reminders", skip_all, fields(%tick))]
    pub async fn run(&self, tick: DateTime<Utc>) -> Result<Option<usize>, InfraError> {
        if !self.ledger.claim_tick(REMINDERS_JOB, tick).await? {
            return Ok(None);
        }
        let until = tick + self.window;
        let since = match self.ledger.last_completed(REMINDERS_JOB).await? {
            // Where the last finished run's window ended; never past this run's end.
            Some(done) => (done + self.window).max(tick - self.catch_up).min(until),
            // The first run ever: its own window.
            None => tick,
        };
        if since < tick {
            tracing::info!(%since, "catching up on deadlines that earlier runs missed");
        }
        let mut enqueued = 0;
        if let Some((first, last)) = Reminder::due_dates_between(since, until) {
            let mut after = None;
            loop {
                let page = self
                    .todos
                    .open_due_between(first, last, after, PAGE)
                    .await?;
                enqueued += self.enqueue(&page).await?;
                if page.len() < PAGE as usize {
                    break;
                }
                after = page.last().map(Todo::id);
            }
        }
        self.ledger.complete_tick(REMINDERS_JOB, tick).await?;
        if enqueued > 0 {
            tracing::info!(enqueued, "reminders enqueued");
        }
        Ok(Some(enqueued))
    }

    /// Enqueues a reminder for each todo of `page` that has none yet, in one transaction.
    async fn enqueue(&self, page: &[Todo]) -> Result<usize, InfraError> {
        if page.is_empty() {
            return Ok(0);
        }
        let tx = self.unit_of_work.begin().await?;
        let outbox = tx.outbox();
        let mut enqueued = 0;
        for todo in page {
            let Some(due_date) = todo.due_date() else {
                continue;
            };
            let reminder = Reminder {
                id: MessageId::from_uuid(self.ids.generate()),
                owner: todo.owner(),
                todo_id: todo.id(),
                title: todo.title().clone(),
                due_date,
            };
            if outbox.record(&OutboxMessage::Reminder(reminder)).await? {
                enqueued += 1;
            }
        }
        tx.commit().await?;
        Ok(enqueued)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::TimeZone;
    use domain::{
        ports::{MockOutbox, MockScheduleLedger, MockTodoRepository, TodoRepository},
        todo::{DueDate, TodoChanges},
    };

    use super::*;
    use crate::test_support::*;

    fn tick() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, 23, 15, 0).unwrap()
    }

    fn due_today(title: &str) -> Todo {
        let mut todo = todo_of(&member());
        todo.apply(
            TodoChanges {
                title: Some(domain::todo::Title::new(title).unwrap()),
                due_date: Some(DueDate::parse("2026-03-10").ok()),
                ..TodoChanges::default()
            },
            T0,
        );
        todo
    }

    /// A ledger where this worker wins the tick or not, whose last finished run was
    /// `last_done`, and which expects the tick marked done when won.
    fn ledger_after(wins: bool, last_done: Option<DateTime<Utc>>) -> Arc<MockScheduleLedger> {
        let mut ledger = MockScheduleLedger::new();
        ledger
            .expect_claim_tick()
            .withf(|job, at| job == REMINDERS_JOB && *at == tick())
            .times(1)
            .returning(move |_, _| Ok(wins));
        ledger
            .expect_last_completed()
            .withf(|job| job == REMINDERS_JOB)
            .times(usize::from(wins))
            .returning(move |_| Ok(last_done));
        ledger
            .expect_complete_tick()
            .withf(|job, at| job == REMINDERS_JOB && *at == tick())
            .times(usize::from(wins))
            .returning(|_, _| Ok(()));
        Arc::new(ledger)
    }

    fn ledger(wins: bool) -> Arc<MockScheduleLedger> {
        ledger_after(wins, None)
    }

    /// An outbox that has seen the reminder of `already` before, and keeps what it
    /// records.
    fn outbox(already: Option<domain::todo::TodoId>) -> (MockOutbox, Arc<Mutex<Vec<Reminder>>>) {
        let kept: Arc<Mutex<Vec<Reminder>>> = Arc::default();
        let sink = kept.clone();
        let mut outbox = MockOutbox::new();
        outbox.expect_record().returning(move |message| {
            let OutboxMessage::Reminder(reminder) = message else {
                panic!("not a reminder: {message:?}");
            };
            if Some(reminder.todo_id) == already {
                return Ok(false);
            }
            sink.lock().unwrap().push(reminder.clone());
            Ok(true)
        });
        (outbox, kept)
    }

    #[tokio::test]
    async fn each_open_todo_due_tonight_gets_one_reminder() {
        let (a, b) = (due_today("Pay rent"), due_today("Call mum"));
        let mut todos = MockTodoRepository::new();
        let page = vec![a.clone(), b.clone()];
        todos
            .expect_open_due_between()
            .withf(|first, last, after, limit| {
                first.to_string() == "2026-03-10"
                    && last.to_string() == "2026-03-10"
                    && after.is_none()
                    && *limit == PAGE
            })
            .times(1)
            .returning(move |_, _, _, _| Ok(page.clone()));
        let todos: Arc<dyn TodoRepository> = Arc::new(todos);
        let (outbox, kept) = outbox(Some(b.id()));
        let unit_of_work = unit_of_work_over(todos.clone(), Arc::new(outbox));

        let enqueued = EnqueueReminders::new(
            todos,
            Arc::new(unit_of_work),
            ledger(true),
            sequential_ids(),
            TimeDelta::hours(1),
            TimeDelta::days(7),
        )
        .run(tick())
        .await
        .unwrap();

        assert_eq!(enqueued, Some(1), "b had its reminder already");
        let kept = kept.lock().unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(
            (kept[0].todo_id, kept[0].owner, kept[0].title.as_str()),
            (a.id(), a.owner(), "Pay rent")
        );
        assert_eq!(kept[0].due_date.to_string(), "2026-03-10");
    }

    #[tokio::test]
    async fn a_tick_another_worker_claimed_does_nothing() {
        let mut todos = MockTodoRepository::new();
        todos.expect_open_due_between().never();
        let todos: Arc<dyn TodoRepository> = Arc::new(todos);

        let enqueued = EnqueueReminders::new(
            todos,
            Arc::new(domain::ports::MockUnitOfWork::new()),
            ledger(false),
            sequential_ids(),
            TimeDelta::hours(1),
            TimeDelta::days(7),
        )
        .run(tick())
        .await
        .unwrap();

        assert_eq!(enqueued, None);
    }

    #[tokio::test]
    async fn a_run_catches_up_from_where_the_last_finished_run_stopped_up_to_a_day_back() {
        // (the last finished run, how long keys are kept, the first and last due dates
        // this run must scan)
        let week = TimeDelta::days(7);
        let cases = [
            // The run at 22:59 looked until 23:59: midnight, today's deadline, is this
            // run's (23:15 + 1 h is past it).
            (
                Some(tick() - TimeDelta::minutes(16)),
                week,
                "2026-03-10",
                "2026-03-10",
            ),
            // Down since yesterday 22:00: yesterday's deadline (midnight) is made up.
            (
                Some(tick() - TimeDelta::hours(25)),
                week,
                "2026-03-09",
                "2026-03-10",
            ),
            // Down for a week: at most a day back.
            (Some(tick() - week), week, "2026-03-09", "2026-03-10"),
            // Keys kept only a day: no further back than 23 h, so not to yesterday's
            // midnight, whose reminders' keys may be gone.
            (
                Some(tick() - week),
                TimeDelta::days(1),
                "2026-03-10",
                "2026-03-10",
            ),
        ];
        for (last_done, retention, first, last) in cases {
            let mut todos = MockTodoRepository::new();
            todos
                .expect_open_due_between()
                .withf(move |f, l, _, _| f.to_string() == first && l.to_string() == last)
                .times(1)
                .returning(|_, _, _, _| Ok(Vec::new()));
            let todos: Arc<dyn TodoRepository> = Arc::new(todos);
            let enqueued = EnqueueReminders::new(
                todos,
                Arc::new(domain::ports::MockUnitOfWork::new()),
                ledger_after(true, last_done),
                sequential_ids(),
                TimeDelta::hours(1),
                retention,
            )
            .run(tick())
            .await
            .unwrap();
            assert_eq!(enqueued, Some(0), "{last_done:?}");
        }
    }

    #[tokio::test]
    async fn a_run_that_fails_is_not_marked_done() {
        let mut todos = MockTodoRepository::new();
        todos
            .expect_open_due_between()
            .returning(|_, _, _, _| Err(infra_down()));
        let mut ledger = MockScheduleLedger::new();
        ledger.expect_claim_tick().returning(|_, _| Ok(true));
        ledger.expect_last_completed().returning(|_| Ok(None));
        ledger.expect_complete_tick().never();

        let result = EnqueueReminders::new(
            Arc::new(todos),
            Arc::new(domain::ports::MockUnitOfWork::new()),
            Arc::new(ledger),
            sequential_ids(),
            TimeDelta::hours(1),
            TimeDelta::days(7),
        )
        .run(tick())
        .await;

        assert!(result.is_err());
    }

    #[tokio::test]
    async fn a_full_page_is_followed_by_the_next() {
        let first: Vec<Todo> = (0..PAGE).map(|_| due_today("x")).collect();
        let cursor = first.last().map(Todo::id);
        let mut todos = MockTodoRepository::new();
        let mut seq = mockall::Sequence::new();
        todos
            .expect_open_due_between()
            .withf(|_, _, after, _| after.is_none())
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_, _, _, _| Ok(first.clone()));
        todos
            .expect_open_due_between()
            .withf(move |_, _, after, _| *after == cursor)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(vec![due_today("y")]));
        let todos: Arc<dyn TodoRepository> = Arc::new(todos);
        let (outbox, _) = outbox(None);
        let unit_of_work = unit_of_work_over(todos.clone(), Arc::new(outbox));

        let enqueued = EnqueueReminders::new(
            todos,
            Arc::new(unit_of_work),
            ledger(true),
            sequential_ids(),
            TimeDelta::hours(1),
            TimeDelta::days(7),
        )
        .run(tick())
        .await
        .unwrap();

        assert_eq!(enqueued, Some(PAGE as usize + 1));
    }
}
