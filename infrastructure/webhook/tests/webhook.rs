//! The webhook notifier against a local HTTP server (wiremock) that the tests start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use domain::{
    event::{MessageId, Reminder},
    ports::Notifier,
    todo::{DueDate, Title, TodoId},
    user::UserId,
};
use driven_webhook::{WebhookNotifier, WebhookSettings, signature};
use uuid::Uuid;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header_exists, method, path},
};

const SECRET: &str = "shared-secret";

fn reminder() -> Reminder {
    Reminder {
        id: MessageId::from_uuid(Uuid::now_v7()),
        owner: UserId::from_uuid(Uuid::now_v7()),
        todo_id: TodoId::from_uuid(Uuid::now_v7()),
        title: Title::new("Pay rent").unwrap(),
        due_date: DueDate::parse("2026-03-10").unwrap(),
    }
}

fn notifier(server: &MockServer, timeout: Duration) -> WebhookNotifier {
    WebhookNotifier::new(WebhookSettings {
        url: format!("{}/hooks/reminders", server.uri()).parse().unwrap(),
        secret: SECRET.to_owned().into(),
        timeout,
        attempts: 3,
        retry_delay: Duration::from_millis(10),
    })
    .unwrap()
}

#[tokio::test]
async fn a_reminder_is_posted_as_signed_json_with_its_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/reminders"))
        .and(header_exists("x-webhook-signature"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let reminder = reminder();

    notifier(&server, Duration::from_secs(2))
        .notify(&reminder)
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    let request = &requests[0];
    let header = |name: &str| request.headers.get(name).unwrap().to_str().unwrap();
    assert_eq!(header("content-type"), "application/json");
    assert_eq!(header("x-reminder-id"), reminder.id.to_string());
    let timestamp: i64 = header("x-webhook-timestamp").parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
    // The receiver's check: the same HMAC over the timestamp and the exact body.
    assert_eq!(
        header("x-webhook-signature"),
        signature(SECRET, timestamp, &request.body)
    );
    assert_ne!(
        header("x-webhook-signature"),
        signature("another-secret", timestamp, &request.body)
    );
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["id"], reminder.id.to_string());
    assert_eq!(body["todo_id"], reminder.todo_id.to_string());
    assert_eq!(body["owner_id"], reminder.owner.to_string());
    assert_eq!(body["title"], "Pay rent");
    assert_eq!(body["due_date"], "2026-03-10");
    assert_eq!(body["deadline"], "2026-03-11T00:00:00Z");
}

#[tokio::test]
async fn a_server_error_is_retried_and_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;

    notifier(&server, Duration::from_secs(2))
        .notify(&reminder())
        .await
        .unwrap();
}

#[tokio::test]
async fn retries_are_bounded_and_then_the_call_fails() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(3)
        .mount(&server)
        .await;

    let err = notifier(&server, Duration::from_secs(2))
        .notify(&reminder())
        .await
        .unwrap_err();

    assert_eq!(
        err.kind(),
        domain::error::InfraErrorKind::Unavailable,
        "{err:?}"
    );
}

#[tokio::test]
async fn a_client_error_is_not_retried_at_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400))
        .expect(1)
        .mount(&server)
        .await;

    let err = notifier(&server, Duration::from_secs(2))
        .notify(&reminder())
        .await
        .unwrap_err();

    assert_eq!(err.kind(), domain::error::InfraErrorKind::Internal);
}

#[tokio::test]
async fn a_slow_webhook_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let started = std::time::Instant::now();

    let err = notifier(&server, Duration::from_millis(200))
        .notify(&reminder())
        .await
        .unwrap_err();

    assert_eq!(err.kind(), domain::error::InfraErrorKind::Unavailable);
    // Three attempts of 200 ms and two short pauses: far below the server's 5 s.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn only_http_urls_and_non_empty_secrets_are_accepted() {
    let settings = |url: &str, secret: &str| WebhookSettings {
        url: url.parse().unwrap(),
        secret: secret.to_owned().into(),
        timeout: Duration::from_secs(1),
        attempts: 1,
        retry_delay: Duration::from_millis(1),
    };
    assert!(WebhookNotifier::new(settings("https://example.org/hook", "s")).is_err());
    assert!(WebhookNotifier::new(settings("http://example.org/hook", "")).is_err());
    assert!(WebhookNotifier::new(settings("http://example.org/hook", "s")).is_ok());
}
