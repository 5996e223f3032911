//! Writes a client may retry, end to end on Postgres and Redis: `Idempotency-Key` over
//! REST, `request_id` over gRPC, `idempotencyKey` over GraphQL. A replay is the first
//! answer, byte for byte; a key reused with another request is refused; concurrent
//! requests with one key write once; keys are each user's own; and a retry after an answer
//! that never arrived writes nothing more.

use crate::support;

use std::time::Duration;

use driving_grpc::api::{self, todo_service_client::TodoServiceClient};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::server::{TestApp, authed, spawn_app};
use tokio::io::AsyncWriteExt;
use tonic_types::StatusExt;

/// POSTs a todo titled `title` with `key`: status, headers and the body's bytes.
async fn create(
    app: &TestApp,
    token: &str,
    key: &str,
    title: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let response = app
        .call(
            Method::POST,
            "/v1/todos",
            Some(token),
            &[("idempotency-key", key)],
            Some(json!({"title": title, "tags": ["retry"]})),
        )
        .await;
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

/// How many todos `token` has.
async fn count(app: &TestApp, token: &str) -> usize {
    let (_, _, page) = app
        .json(Method::GET, "/v1/todos", Some(token), &[], None)
        .await;
    page["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_retried_create_gets_the_first_answer_byte_for_byte_and_creates_nothing() {
    let app = spawn_app().await;
    let token = app.user("ida@example.org").await;
    let (status, first_headers, first) = create(&app, &token, "k-1", "Once").await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(first_headers.get("idempotent-replayed").is_none());

    // The todo changes meanwhile; the replay is still the first answer.
    let id = serde_json::from_slice::<Value>(&first).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, _) = app
        .json(
            Method::POST,
            &format!("/v1/todos/{id}/complete"),
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // A quoted key (the IETF draft's structured-field string) is the same key.
    let (status, headers, again) = create(&app, &token, "\"k-1\"", "Once").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again, first, "the body, byte for byte");
    for header in ["etag", "location", "content-type"] {
        assert_eq!(headers.get(header), first_headers.get(header), "{header}");
    }
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(count(&app, &token).await, 1);
    app.shutdown.cancel();
}

#[tokio::test]
async fn a_key_reused_with_another_request_is_refused() {
    let app = spawn_app().await;
    let token = app.user("jon@example.org").await;
    let (status, _, _) = create(&app, &token, "k-2", "First").await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, _, body) = create(&app, &token, "k-2", "Something else").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["code"], "idempotency_key_reused", "{problem}");
    assert_eq!(count(&app, &token).await, 1);

    // A key that is not one is refused before anything runs.
    let (status, _, body) = create(&app, &token, "a key with spaces", "Bad key").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["code"], "malformed_request", "{problem}");
    app.shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_requests_with_one_key_make_one_todo() {
    let app = spawn_app().await;
    let token = app.user("kim@example.org").await;
    let requests = (0..20).map(|_| create(&app, &token, "burst", "Burst"));
    let answers = futures_util::future::join_all(requests).await;

    let mut ids = Vec::new();
    for (status, _, body) in &answers {
        assert_eq!(*status, StatusCode::CREATED);
        ids.push(serde_json::from_slice::<Value>(body).unwrap()["id"].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every answer names the one todo");
    let replays = answers
        .iter()
        .filter(|(_, headers, _)| headers.get("idempotent-replayed").is_some())
        .count();
    assert_eq!(replays, 19, "one wrote, nineteen were answered by replay");
    assert_eq!(count(&app, &token).await, 1);
    app.shutdown.cancel();
}

#[tokio::test]
async fn keys_of_two_users_never_meet() {
    let app = spawn_app().await;
    let ann = app.user("lou@example.org").await;
    let bob = app.user("mae@example.org").await;
    let (_, _, anns) = create(&app, &ann, "same-key", "Ann's").await;
    let (status, headers, bobs) = create(&app, &bob, "same-key", "Bob's").await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(headers.get("idempotent-replayed").is_none());
    assert_ne!(anns, bobs);
    assert_eq!((count(&app, &ann).await, count(&app, &bob).await), (1, 1));
    app.shutdown.cancel();
}

#[tokio::test]
async fn a_retry_after_an_answer_that_never_arrived_makes_no_second_todo() {
    let app = spawn_app().await;
    let token = app.user("ned@example.org").await;
    // The request goes out whole on a raw connection; the client hangs up without reading
    // the answer, as a phone losing its signal would.
    let addr = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = json!({"title": "Lost answer"}).to_string();
    let request = format!(
        "POST /v1/todos HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\nidempotency-key: lost-1\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    // The write is committed although nobody heard of it.
    let mut committed = false;
    for _ in 0..250 {
        if count(&app, &token).await == 1 {
            committed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(committed, "the first request was committed");
    drop(stream);

    let (status, headers, _) = create_titled(&app, &token, "lost-1", "Lost answer").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(count(&app, &token).await, 1, "no second todo");
    app.shutdown.cancel();
}

/// [`create`] without the tags, as the raw request above sent it.
async fn create_titled(
    app: &TestApp,
    token: &str,
    key: &str,
    title: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let response = app
        .call(
            Method::POST,
            "/v1/todos",
            Some(token),
            &[("idempotency-key", key)],
            Some(json!({"title": title})),
        )
        .await;
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn an_edit_and_a_deletion_retried_with_their_key_get_their_first_answers() {
    let app = spawn_app().await;
    let token = app.user("oli@example.org").await;
    let id = app.todo(&token, "Before").await;
    let path = format!("/v1/todos/{id}");
    let edit = || async {
        app.call(
            Method::PATCH,
            &path,
            Some(&token),
            &[("if-match", "\"1\""), ("idempotency-key", "edit-1")],
            Some(json!({"title": "After"})),
        )
        .await
    };
    let first = edit().await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["etag"], "\"2\"");
    let first = first.bytes().await.unwrap();
    // Without the key, the same retry would be a 412: the edit is its own stale version.
    let again = edit().await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.bytes().await.unwrap(), first);

    let delete = || async {
        app.call(
            Method::DELETE,
            &path,
            Some(&token),
            &[("if-match", "\"2\""), ("idempotency-key", "delete-1")],
            None,
        )
        .await
    };
    assert_eq!(delete().await.status(), StatusCode::NO_CONTENT);
    // Without the key, a 404.
    let again = delete().await;
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    app.shutdown.cancel();
}

#[tokio::test]
async fn grpc_request_ids_make_retries_safe_too() {
    let app = spawn_app().await;
    let token = app.user("pat@example.org").await;
    let mut todos = TodoServiceClient::new(app.grpc().await);
    let request = |title: &str, request_id: &str| {
        authed(
            api::CreateTodoRequest {
                todo: Some(api::Todo {
                    title: title.into(),
                    ..Default::default()
                }),
                request_id: request_id.into(),
            },
            &token,
        )
    };
    let first = todos.create_todo(request("Once", "r-1")).await.unwrap();
    assert!(first.metadata().get("idempotent-replayed").is_none());
    let again = todos.create_todo(request("Once", "r-1")).await.unwrap();
    assert_eq!(again.metadata().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again.into_inner(), first.into_inner());

    let status = todos
        .create_todo(request("Other", "r-1"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::AlreadyExists);
    assert_eq!(
        status.get_error_details().error_info().unwrap().reason,
        "idempotency_key_reused"
    );
    let status = todos
        .create_todo(request("Bad", "not a key"))
        .await
        .unwrap_err();
    let fields: Vec<String> = status
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(fields, ["request_id"]);
    assert_eq!(count(&app, &token).await, 1);
    app.shutdown.cancel();
}

#[tokio::test]
async fn graphql_idempotency_keys_make_retries_safe_too() {
    let app = spawn_app().await;
    let token = app.user("quin@example.org").await;
    let mutation = "mutation($t: String!, $k: String) { \
                    createTodo(input: {title: $t}, idempotencyKey: $k) { id title version } }";
    let send = |title: &'static str, key: &'static str| {
        let client = app.client.clone();
        let url = format!("{}/graphql", app.base);
        let token = token.clone();
        async move {
            let response = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"query": mutation, "variables": {"t": title, "k": key}}))
                .send()
                .await
                .unwrap();
            let replayed = response.headers().get("idempotent-replayed").is_some();
            (replayed, response.json::<Value>().await.unwrap())
        }
    };
    let (replayed, first) = send("Once", "g-1").await;
    assert!(!replayed, "{first}");
    assert!(first.get("extensions").is_none(), "{first}");
    let (replayed, again) = send("Once", "g-1").await;
    assert!(replayed);
    assert_eq!(again["data"], first["data"]);
    assert_eq!(
        again["extensions"]["idempotentReplayed"],
        json!(["createTodo"])
    );
    let (_, reused) = send("Other", "g-1").await;
    assert_eq!(
        reused["errors"][0]["extensions"]["code"], "idempotency_key_reused",
        "{reused}"
    );
    assert_eq!(count(&app, &token).await, 1);

    // One document, a replayed write beside a new one: the fields say which is which,
    // and the header, which speaks for the whole answer, is not sent.
    let both = "mutation { \
                a: createTodo(input: {title: \"Once\"}, idempotencyKey: \"g-1\") { id } \
                b: createTodo(input: {title: \"New\"}, idempotencyKey: \"g-2\") { id } }";
    let response = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(&token)
        .json(&json!({"query": both}))
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("idempotent-replayed").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["a"]["id"], first["data"]["createTodo"]["id"]);
    assert_eq!(
        body["extensions"]["idempotentReplayed"],
        json!(["a"]),
        "{body}"
    );
    assert_eq!(count(&app, &token).await, 2);
    app.shutdown.cancel();
}
