//! Login and registration limits, end to end on the real server over Postgres and Redis:
//! the answer on each protocol, each key counted apart, and one count shared by two
//! replicas on one Redis.

use crate::support;

use driving_grpc::api::{self, user_service_client::UserServiceClient};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use support::server::{TestApp, spawn_app_with};
use tonic_types::StatusExt;

/// `POST /v1/sessions` with `password`: the status and the response.
async fn log_in(base: &str, email: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/v1/sessions"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

/// Registers `email` over REST: the status.
async fn register(app: &TestApp, email: &str) -> StatusCode {
    let (status, _, _) = app
        .json(
            Method::POST,
            "/v1/users",
            None,
            &[],
            Some(json!({"email": email, "password": "password-123", "display_name": "Limits"})),
        )
        .await;
    status
}

/// Checks that `response` is the 429 of a rate limit.
async fn assert_rate_limited(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "rate_limited", "{problem}");
    assert_eq!(problem["status"], 429, "{problem}");
}

#[tokio::test]
async fn failed_logins_to_one_email_past_the_limit_get_429_with_retry_after() {
    let app = spawn_app_with(&[("LOGIN_LIMIT_PER_EMAIL", "3")]).await;
    assert_eq!(register(&app, "ann@example.org").await, StatusCode::CREATED);
    assert_eq!(register(&app, "bob@example.org").await, StatusCode::CREATED);

    for _ in 0..3 {
        let wrong = log_in(&app.base, "ann@example.org", "wrong-password").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    // Past the limit, even the right password is refused, before it is checked.
    assert_rate_limited(log_in(&app.base, "ann@example.org", "password-123").await).await;
    // Another email is counted apart.
    let bobs = log_in(&app.base, "bob@example.org", "password-123").await;
    assert_eq!(bobs.status(), StatusCode::CREATED);
    app.shutdown.cancel();
}

#[tokio::test]
async fn logins_from_one_address_to_many_emails_are_limited_too() {
    let app = spawn_app_with(&[("LOGIN_LIMIT_PER_ADDRESS", "3")]).await;
    for n in 0..3 {
        let wrong = log_in(&app.base, &format!("u{n}@example.org"), "guess-123").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    assert_rate_limited(log_in(&app.base, "u9@example.org", "guess-123").await).await;
    app.shutdown.cancel();
}

#[tokio::test]
async fn registrations_from_one_address_past_the_limit_get_429() {
    let app = spawn_app_with(&[("REGISTER_LIMIT_PER_ADDRESS", "2")]).await;
    assert_eq!(register(&app, "r1@example.org").await, StatusCode::CREATED);
    assert_eq!(register(&app, "r2@example.org").await, StatusCode::CREATED);
    let refused = app
        .client
        .post(format!("{}/v1/users", app.base))
        .json(&json!({"email": "r3@example.org", "password": "password-123", "display_name": "R"}))
        .send()
        .await
        .unwrap();
    assert_rate_limited(refused).await;
    app.shutdown.cancel();
}

#[tokio::test]
async fn grpc_answers_resource_exhausted_and_graphql_rate_limited() {
    let app = spawn_app_with(&[("LOGIN_LIMIT_PER_EMAIL", "1")]).await;
    assert_eq!(register(&app, "cat@example.org").await, StatusCode::CREATED);
    let first = log_in(&app.base, "cat@example.org", "wrong-password").await;
    assert_eq!(first.status(), StatusCode::UNAUTHORIZED);

    let status = UserServiceClient::new(app.grpc().await)
        .log_in(api::LogInRequest {
            email: "cat@example.org".into(),
            password: "password-123".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    let details = status.get_error_details();
    assert_eq!(details.error_info().unwrap().reason, "rate_limited");
    assert!(details.retry_info().unwrap().retry_delay.is_some());

    let (status, body) = app
        .graphql(
            None,
            "mutation { logIn(email: \"cat@example.org\", password: \"password-123\") { token } }",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let extensions = &body["errors"][0]["extensions"];
    assert_eq!(extensions["code"], "rate_limited", "{body}");
    assert!(
        extensions["retryAfterSeconds"].as_u64().unwrap() >= 1,
        "{body}"
    );
    app.shutdown.cancel();
}

#[tokio::test]
async fn two_replicas_on_one_redis_share_the_count() {
    let a = spawn_app_with(&[("LOGIN_LIMIT_PER_EMAIL", "2")]).await;
    let replica = a.replica(&[("LOGIN_LIMIT_PER_EMAIL", "2")]).await;
    let (b, shutdown) = (replica.base, replica.shutdown);
    assert_eq!(register(&a, "dee@example.org").await, StatusCode::CREATED);

    let on_a = log_in(&a.base, "dee@example.org", "wrong-password").await;
    let on_b = log_in(&b, "dee@example.org", "wrong-password").await;
    assert_eq!(
        (on_a.status(), on_b.status()),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );

    // Each replica has seen one attempt; together, two: the third is refused on either.
    assert_rate_limited(log_in(&a.base, "dee@example.org", "password-123").await).await;
    assert_rate_limited(log_in(&b, "dee@example.org", "password-123").await).await;
    shutdown.cancel();
    a.shutdown.cancel();
}

/// `POST /v1/sessions` with an `X-Forwarded-For` header.
async fn log_in_forwarded_for(base: &str, forwarded_for: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/v1/sessions"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"email": "nobody@example.org", "password": "wrong-password"}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_is_counted_apart() {
    // The test client is the "proxy": it connects from 127.0.0.1.
    let app = spawn_app_with(&[
        ("LOGIN_LIMIT_PER_ADDRESS", "2"),
        ("LOGIN_LIMIT_PER_EMAIL", "0"),
        ("TRUSTED_PROXIES", "127.0.0.1/32"),
    ])
    .await;
    for _ in 0..2 {
        let response = log_in_forwarded_for(&app.base, "198.51.100.1").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_rate_limited(log_in_forwarded_for(&app.base, "198.51.100.1").await).await;
    // Another client behind the same proxy has its own count, and a client that writes its
    // own header in front of the proxy's entry is still the proxy's entry.
    let other = log_in_forwarded_for(&app.base, "198.51.100.2").await;
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
    assert_rate_limited(log_in_forwarded_for(&app.base, "203.0.113.5, 198.51.100.1").await).await;
    // Another IPv6 address of the same /64 is the same client.
    for _ in 0..2 {
        let response = log_in_forwarded_for(&app.base, "2001:db8:1:2::1").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_rate_limited(log_in_forwarded_for(&app.base, "2001:db8:1:2::ffff").await).await;
    app.shutdown.cancel();
}

#[tokio::test]
async fn without_a_trusted_proxy_x_forwarded_for_is_ignored() {
    let app = spawn_app_with(&[
        ("LOGIN_LIMIT_PER_ADDRESS", "2"),
        ("LOGIN_LIMIT_PER_EMAIL", "0"),
    ])
    .await;
    // A client cannot escape its count by naming a new address on each attempt.
    for spoofed in ["198.51.100.1", "198.51.100.2"] {
        let response = log_in_forwarded_for(&app.base, spoofed).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_rate_limited(log_in_forwarded_for(&app.base, "198.51.100.3").await).await;
    app.shutdown.cancel();
}
