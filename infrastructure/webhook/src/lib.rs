//! Driven adapter: the reminder [`Notifier`] as an outbound HTTP webhook.
//!
//! This is the "remote" side of the hexagon: a client of somebody else's API, behind a port,
//! so the use cases never see HTTP. Each reminder is one `POST` of a JSON body:
//!
//! ```json
//! {"id": "…", "todo_id": "…", "owner_id": "…", "title": "Pay rent",
//!  "due_date": "2026-03-10", "deadline": "2026-03-11T00:00:00Z"}
//! ```
//!
//! with these headers, so the receiver can trust it and drop repeats:
//! - `X-Reminder-Id`: the reminder's id. Delivery is at least once; the same id means the
//!   same reminder.
//! - `X-Webhook-Timestamp`: when it was sent, in Unix seconds.
//! - `X-Webhook-Signature`: `sha256=` and the hex HMAC-SHA256, keyed with the shared secret,
//!   of `{timestamp}.{body}`. Signing the timestamp too lets the receiver refuse a replay
//!   of an old request.
//!
//! Each call is bounded by a timeout, and retried a few times, quickly, on a connection
//! error, a timeout, a 429 or a 5xx. If those retries fail too, the worker retries the job
//! later with its own backoff. Any other status fails at once, for the worker to retry.

use std::time::Duration;

use async_trait::async_trait;
use domain::{error::InfraError, event::Reminder, ports::Notifier};
use driven_records::ReminderRecord;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::Sha256;
use url::Url;

/// How the webhook is called.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Where reminders are posted: `http://` only, as this build has no TLS client.
    pub url: Url,
    /// The key of the HMAC signature, shared with the receiver. Never logged.
    pub secret: SecretString,
    /// The longest one request may take, connection included.
    pub timeout: Duration,
    /// Requests per reminder, the first included, before the call fails.
    pub attempts: u32,
    /// The wait before the second request; it doubles for each further one.
    pub retry_delay: Duration,
}

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WebhookSettingsError {
    /// Not an `http` URL.
    #[error("the reminder webhook URL must start with http:// (this build has no TLS client)")]
    UnsupportedScheme,
    /// The secret is empty.
    #[error("the reminder webhook secret must not be empty")]
    EmptySecret,
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built: {0}")]
    Client(#[source] reqwest::Error),
}

/// [`Notifier`] that posts signed reminders to a webhook.
#[derive(Debug, Clone)]
pub struct WebhookNotifier {
    client: reqwest::Client,
    settings: WebhookSettings,
}

/// The body of a reminder request.
#[derive(Serialize)]
struct Body {
    #[serde(flatten)]
    reminder: ReminderRecord,
    deadline: chrono::DateTime<chrono::Utc>,
}

/// The signature header's value for `body` sent at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts a key of any length, so `new_from_slice` cannot fail here.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl WebhookNotifier {
    /// A notifier with `settings`.
    ///
    /// # Errors
    /// Returns [`WebhookSettingsError`] for an `https` URL, an empty secret, or a client that
    /// cannot be built.
    pub fn new(settings: WebhookSettings) -> Result<Self, WebhookSettingsError> {
        if settings.url.scheme() != "http" {
            return Err(WebhookSettingsError::UnsupportedScheme);
        }
        if settings.secret.expose_secret().is_empty() {
            return Err(WebhookSettingsError::EmptySecret);
        }
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // A webhook that redirects is misconfigured; do not send the body elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(WebhookSettingsError::Client)?;
        Ok(Self { client, settings })
    }

    /// One request. `Err(retry)` says whether a quick retry may help.
    #[tracing::instrument(target = "ports", level = "debug", name = "webhook.reminder.send", skip_all, fields(otel.kind = "client"))]
    async fn send(&self, id: &str, body: &[u8]) -> Result<(), (bool, InfraError)> {
        let timestamp = chrono::Utc::now().timestamp();
        let signature = signature(self.settings.secret.expose_secret(), timestamp, body);
        // The receiver can continue the trace: `traceparent` names this call's span.
        let mut trace = reqwest::header::HeaderMap::new();
        trace_context::inject_headers(&mut trace);
        let response = self
            .client
            .post(self.settings.url.clone())
            .headers(trace)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("x-reminder-id", id)
            .header("x-webhook-timestamp", timestamp.to_string())
            .header("x-webhook-signature", signature)
            .body(body.to_vec())
            .send()
            .await
            // Without the URL: it may carry credentials, and errors end up in logs and in
            // the job's `last_error`.
            .map_err(|e| {
                (
                    true,
                    InfraError::unavailable("call reminder webhook", e.without_url()),
                )
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry = status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
        let error = format!("the reminder webhook answered {status}");
        Err((
            retry,
            if retry {
                InfraError::unavailable("call reminder webhook", error)
            } else {
                InfraError::internal("call reminder webhook", error)
            },
        ))
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    /// Every request at its timeout, and the waits between them.
    fn longest_call(&self) -> Duration {
        let attempts = self.settings.attempts.max(1);
        let waits = (1..attempts).fold(Duration::ZERO, |total, n| {
            total.saturating_add(
                self.settings
                    .retry_delay
                    .saturating_mul(1 << (n - 1).min(31)),
            )
        });
        self.settings
            .timeout
            .saturating_mul(attempts)
            .saturating_add(waits)
    }

    async fn notify(&self, reminder: &Reminder) -> Result<(), InfraError> {
        let body = serde_json::to_vec(&Body {
            reminder: ReminderRecord::from(reminder),
            deadline: Reminder::deadline_of(reminder.due_date),
        })
        .map_err(|e| InfraError::internal("encode reminder", e))?;
        let id = reminder.id.to_string();
        let mut delay = self.settings.retry_delay;
        let mut attempt = 1;
        loop {
            match self.send(&id, &body).await {
                Ok(()) => return Ok(()),
                Err((true, error)) if attempt < self.settings.attempts.max(1) => {
                    tracing::debug!(reminder_id = %id, attempt, error = &error as &dyn std::error::Error, "reminder webhook failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                    attempt += 1;
                }
                Err((_, error)) => return Err(error),
            }
        }
    }
}
