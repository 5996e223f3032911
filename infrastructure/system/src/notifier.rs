//! Reminders written to the log: the default notifier, for development and for a service
//! that has nobody to call yet.

use async_trait::async_trait;
use domain::{error::InfraError, event::Reminder, ports::Notifier};

/// [`Notifier`] that logs each reminder at info level, on the `reminders` target. It never
/// fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    /// One log line.
    fn longest_call(&self) -> std::time::Duration {
        std::time::Duration::from_millis(10)
    }

    async fn notify(&self, reminder: &Reminder) -> Result<(), InfraError> {
        // The title is the user's own text; it stays out of the line, as user content does
        // everywhere in the logs. The ids say which todo.
        tracing::info!(
            target: "reminders",
            reminder_id = %reminder.id,
            todo_id = %reminder.todo_id,
            user_id = %reminder.owner,
            due_date = %reminder.due_date,
            "reminder: a todo falls due soon"
        );
        Ok(())
    }
}
