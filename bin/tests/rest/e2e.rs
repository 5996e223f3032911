//! End-to-end: the real server (`Application::build` + `HttpServer`, exactly what `serve`
//! runs) on port 0, backed by a fresh Postgres database and Redis key space, driven over
//! HTTP with reqwest.

use crate::support;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::server::{authed, spawn_app, spawn_app_behind_a_proxy, spawn_app_with};
use tonic_types::StatusExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_log_in_work_through_a_todo_and_log_out() {
    let app = spawn_app().await;
    let token = app.user("ann@example.org").await;

    let (status, etag, created) = app
        .json(
            Method::POST,
            "/v1/todos",
            Some(&token),
            &[],
            Some(json!({"title": "Plan the trip", "tags": ["travel"], "due_date": "2027-01-15"})),
        )
        .await;
    assert_eq!(
        (status, etag.as_deref()),
        (StatusCode::CREATED, Some("\"1\""))
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/todos/{id}");
    assert!(app.cached(&id).await.is_none(), "creating caches nothing");

    // The first read fills the Redis cache; the second is answered from it.
    for _ in 0..2 {
        let (status, etag, body) = app.json(Method::GET, &path, Some(&token), &[], None).await;
        assert_eq!(
            (status, etag.as_deref(), body["title"].as_str()),
            (StatusCode::OK, Some("\"1\""), Some("Plan the trip"))
        );
        let cached = app.cached(&id).await.expect("the read filled the cache");
        assert_eq!(
            (cached.version().get(), cached.title().as_str()),
            (1, "Plan the trip")
        );
    }

    let (status, etag, _) = app
        .json(
            Method::PATCH,
            &path,
            Some(&token),
            &[("if-match", "\"1\"")],
            Some(json!({"title": "Plan the ski trip"})),
        )
        .await;
    assert_eq!((status, etag.as_deref()), (StatusCode::OK, Some("\"2\"")));
    assert!(
        app.cached(&id).await.is_none(),
        "the write invalidated the cached version 1"
    );
    let (_, etag, body) = app.json(Method::GET, &path, Some(&token), &[], None).await;
    assert_eq!(
        (etag.as_deref(), body["title"].as_str()),
        (Some("\"2\""), Some("Plan the ski trip")),
    );
    assert_eq!(
        app.cached(&id).await.map(|t| t.version().get()),
        Some(2),
        "the read after the write cached version 2"
    );

    let (_, _, done) = app
        .json(
            Method::POST,
            &format!("{path}/complete"),
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(done["status"], "done");
    let (_, _, tagged) = app
        .json(
            Method::PUT,
            &format!("{path}/tags/booked"),
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(tagged["tags"], json!(["booked", "travel"]));
    let (_, etag, untagged) = app
        .json(
            Method::DELETE,
            &format!("{path}/tags/travel"),
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(untagged["tags"], json!(["booked"]));
    let (_, _, list) = app
        .json(
            Method::GET,
            "/v1/todos?status=done&tag=booked",
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let deleted = app
        .call(
            Method::DELETE,
            &path,
            Some(&token),
            &[("if-match", etag.as_deref().unwrap())],
            None,
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.call(Method::GET, &path, Some(&token), &[], None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        app.call(
            Method::DELETE,
            "/v1/sessions/current",
            Some(&token),
            &[],
            None
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    let after = app
        .call(Method::GET, "/v1/users/me", Some(&token), &[], None)
        .await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    assert!(after.headers().contains_key("www-authenticate"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_gets_404_on_every_route_for_my_todo() {
    let app = spawn_app().await;
    let ann = app.user("ann@example.org").await;
    let bob = app.user("bob@example.org").await;
    let path = format!("/v1/todos/{}", app.todo(&ann, "Ann's secret").await);

    for (method, route, headers, body) in [
        (Method::GET, path.clone(), vec![], None),
        (
            Method::PATCH,
            path.clone(),
            vec![("if-match", "\"1\"")],
            Some(json!({"title": "mine"})),
        ),
        (
            Method::DELETE,
            path.clone(),
            vec![("if-match", "\"1\"")],
            None,
        ),
        (Method::POST, format!("{path}/complete"), vec![], None),
        (Method::POST, format!("{path}/reopen"), vec![], None),
        (Method::PUT, format!("{path}/tags/x"), vec![], None),
        (Method::DELETE, format!("{path}/tags/x"), vec![], None),
    ] {
        let response = app
            .call(method.clone(), &route, Some(&bob), &headers, body)
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} {route}");
    }
    let (_, _, bobs) = app
        .json(Method::GET, "/v1/todos", Some(&bob), &[], None)
        .await;
    assert!(bobs["items"].as_array().unwrap().is_empty());
    let (_, etag, mine) = app.json(Method::GET, &path, Some(&ann), &[], None).await;
    assert_eq!(
        (
            etag.as_deref(),
            mine["title"].as_str(),
            mine["status"].as_str()
        ),
        (Some("\"1\""), Some("Ann's secret"), Some("open"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_patches_with_the_same_if_match_give_one_200_and_one_412() {
    let app = spawn_app().await;
    let token = app.user("ann@example.org").await;
    let path = format!("/v1/todos/{}", app.todo(&token, "Contested").await);

    let (a, b) = tokio::join!(
        app.call(
            Method::PATCH,
            &path,
            Some(&token),
            &[("if-match", "\"1\"")],
            Some(json!({"title": "Writer A"}))
        ),
        app.call(
            Method::PATCH,
            &path,
            Some(&token),
            &[("if-match", "\"1\"")],
            Some(json!({"title": "Writer B"}))
        ),
    );

    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::PRECONDITION_FAILED]);
    let (winner, loser) = if a.status() == StatusCode::OK {
        ("Writer A", b)
    } else {
        ("Writer B", a)
    };
    let problem: Value = loser.json().await.unwrap();
    assert_eq!(
        (&problem["code"], &problem["current_version"]),
        (&json!("version_mismatch"), &json!(2)),
        "the loser learns the version that won: {problem}"
    );
    let (_, etag, body) = app.json(Method::GET, &path, Some(&token), &[], None).await;
    assert_eq!(etag.as_deref(), Some("\"2\""), "exactly one write happened");
    assert_eq!(body["title"], winner);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_4xx_never_a_5xx() {
    let app = spawn_app().await;
    let token = app.user("ann@example.org").await;
    let path = format!("/v1/todos/{}", app.todo(&token, "Target").await);
    let raw = |method: Method, route: &str, content_type: &str, body: Vec<u8>| {
        app.client
            .request(method, format!("{}{route}", app.base))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
    };

    // An oversized body is not in this list: the server refuses it on its Content-Length, and
    // a client still sending the rest then sees the connection close, not a response. See
    // `an_announced_oversized_body_gets_413_before_it_is_sent`.
    let requests = vec![
        raw(
            Method::POST,
            "/v1/todos",
            "application/json",
            b"{not json".to_vec(),
        ),
        raw(
            Method::POST,
            "/v1/todos",
            "application/json",
            b"\xff\xfe\x00garbage".to_vec(),
        ),
        raw(
            Method::POST,
            "/v1/todos",
            "application/json",
            br#"{"title": 42}"#.to_vec(),
        ),
        raw(
            Method::POST,
            "/v1/todos",
            "application/json",
            br#"{"title": "x", "tags": "work"}"#.to_vec(),
        ),
        raw(
            Method::POST,
            "/v1/todos",
            "application/json",
            br#"{"title": "x", "owner": "me"}"#.to_vec(),
        ),
        raw(
            Method::POST,
            "/v1/todos",
            "application/json",
            br#"[]"#.to_vec(),
        ),
        raw(
            Method::POST,
            "/v1/todos",
            "text/plain",
            br#"{"title": "x"}"#.to_vec(),
        ),
        raw(
            Method::POST,
            "/v1/todos",
            "application/json",
            format!(r#"{{"title": "{}"}}"#, "x".repeat(10_000)).into_bytes(),
        ),
        raw(
            Method::PATCH,
            &path,
            "application/json",
            br#"{"due_date": "31/12/2026"}"#.to_vec(),
        )
        .header("if-match", "\"1\""),
        raw(
            Method::PATCH,
            &path,
            "application/json",
            br#"{"title": "x"}"#.to_vec(),
        )
        .header("if-match", "garbage"),
        raw(
            Method::GET,
            "/v1/todos?status=archived",
            "application/json",
            vec![],
        ),
        raw(
            Method::GET,
            "/v1/todos?limit=1000000",
            "application/json",
            vec![],
        ),
        raw(
            Method::GET,
            "/v1/todos?limit=99999999999999999999999",
            "application/json",
            vec![],
        ),
        raw(
            Method::GET,
            "/v1/todos?limit=-1",
            "application/json",
            vec![],
        ),
        raw(
            Method::GET,
            "/v1/todos?cursor=%00%01",
            "application/json",
            vec![],
        ),
        raw(
            Method::GET,
            "/v1/todos/%F0%9F%92%A9",
            "application/json",
            vec![],
        ),
        raw(
            Method::PUT,
            &format!("{path}/tags/%C3%A9t%C3%A9"),
            "application/json",
            vec![],
        ),
        raw(
            Method::PUT,
            &format!("{path}/tags/{}", "a".repeat(5000)),
            "application/json",
            vec![],
        ),
        raw(
            Method::POST,
            "/v1/users",
            "application/json",
            br#"{"email": "a@b.org", "password": "short", "display_name": "A"}"#.to_vec(),
        ),
        raw(
            Method::POST,
            "/v1/sessions",
            "application/json",
            format!(
                r#"{{"email": "a@b.org", "password": "{}"}}"#,
                "p".repeat(100_000)
            )
            .into_bytes(),
        ),
    ];
    for request in requests {
        let request = request.build().unwrap();
        let described = format!("{} {}", request.method(), request.url());
        let response = app.client.execute(request).await.unwrap();
        let status = response.status();
        assert!(status.is_client_error(), "{described} got {status}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{described}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_oversized_body_gets_413_before_it_is_sent() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = spawn_app().await;
    let token = app.user("ann@example.org").await;
    // A raw connection, so the test can announce 2 MiB, send only the start, and read the
    // answer: the server must refuse on the announcement alone.
    let mut socket = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /v1/todos HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{\"title\": \"",
        2 * 1024 * 1024
    );
    socket.write_all(head.as_bytes()).await.unwrap();

    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);

    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_slow_in_flight_request_finish() {
    let app = spawn_app().await;
    let token = app.user("ann@example.org").await;
    let id = app.todo(&token, "Slow to change").await;
    // Hold the todo's row lock in another transaction: the PATCH below reads the todo, then
    // waits in its UPDATE until this transaction ends. A genuinely slow request, no test hooks.
    let mut blocker = app.db.pool().begin().await.unwrap();
    sqlx::query("SELECT 1 FROM todos WHERE id = $1::uuid FOR UPDATE")
        .bind(&id)
        .execute(&mut *blocker)
        .await
        .unwrap();

    let client = app.client.clone();
    let url = format!("{}/v1/todos/{id}", app.base);
    let token_for_patch = token.clone();
    let in_flight = tokio::spawn(async move {
        client
            .patch(url)
            .bearer_auth(token_for_patch)
            .header("if-match", "\"1\"")
            .json(&json!({"title": "Changed during shutdown"}))
            .send()
            .await
    });
    app.wait_until_an_update_waits_for_a_lock().await;
    assert!(!in_flight.is_finished());

    app.shutdown.cancel();
    app.wait_until_new_connections_are_refused().await;

    blocker.rollback().await.unwrap();
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap()["title"],
        "Changed during shutdown"
    );
    tokio::time::timeout(Duration::from_secs(5), app.server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_checks_postgres_and_redis() {
    let app = spawn_app().await;

    let (status, _, body) = app.json(Method::GET, "/readyz", None, &[], None).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["checks"], json!({"postgres": "up", "redis": "up"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_names_a_database_that_hangs_rather_than_timing_out() {
    // A probe waits half the request timeout at most, so /readyz gets to answer with its
    // report. Without that bound the ping waits for as long as TCP does, and the request
    // ends in the 503 `timeout` problem, which names nothing.
    let (app, proxy) = spawn_app_behind_a_proxy(&[("HTTP_REQUEST_TIMEOUT_MS", "2000")]).await;
    let (status, _, _) = app.json(Method::GET, "/readyz", None, &[], None).await;
    assert_eq!(status, StatusCode::OK);

    proxy.freeze();
    let (status, _, body) = app.json(Method::GET, "/readyz", None, &[], None).await;
    proxy.thaw();

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        body,
        json!({"status": "unavailable", "checks": {"postgres": "down", "redis": "up"}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cuts_a_request_that_outlives_the_drain_timeout() {
    // The statement timeout is long, so nothing but the drain deadline can end the request.
    let app = spawn_app_with(&[
        ("HTTP_DRAIN_TIMEOUT_SECS", "1"),
        ("DATABASE_STATEMENT_TIMEOUT_MS", "600000"),
    ])
    .await;
    let token = app.user("ann@example.org").await;
    let id = app.todo(&token, "Never changes").await;
    let mut blocker = app.db.pool().begin().await.unwrap();
    sqlx::query("SELECT 1 FROM todos WHERE id = $1::uuid FOR UPDATE")
        .bind(&id)
        .execute(&mut *blocker)
        .await
        .unwrap();
    let stuck = tokio::spawn(
        app.client
            .patch(format!("{}/v1/todos/{id}", app.base))
            .bearer_auth(&token)
            .header("if-match", "\"1\"")
            .json(&json!({"title": "Blocked forever"}))
            .send(),
    );
    app.wait_until_an_update_waits_for_a_lock().await;

    let started = std::time::Instant::now();
    app.shutdown.cancel();
    // What `serve` does after the server stops: close the connections to the backends.
    let stopped = tokio::time::timeout(Duration::from_secs(4), async {
        app.server.await.unwrap().unwrap();
        app.app.close().await;
    })
    .await;

    assert!(
        stopped.is_ok(),
        "server and pools still running {:?} after shutdown began, with a 1 s drain",
        started.elapsed()
    );
    let cut = tokio::time::timeout(Duration::from_secs(1), stuck)
        .await
        .expect("the client learns at once that its request was cut")
        .unwrap();
    assert!(cut.is_err(), "the request was cut, not answered: {cut:?}");
    blocker.rollback().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_dates_at_the_edges_round_trip_and_beyond_them_are_422() {
    let app = spawn_app().await;
    let token = app.user("ann@example.org").await;

    for extreme in ["0001-01-01", "9999-12-31"] {
        let (status, _, created) = app
            .json(
                Method::POST,
                "/v1/todos",
                Some(&token),
                &[],
                Some(json!({"title": "Edge", "due_date": extreme})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let path = format!("/v1/todos/{}", created["id"].as_str().unwrap());
        let (_, _, read) = app.json(Method::GET, &path, Some(&token), &[], None).await;
        assert_eq!(read["due_date"], extreme);
    }
    for bad in ["-5000-01-01", "+10000-01-01"] {
        let (status, _, problem) = app
            .json(
                Method::POST,
                "/v1/todos",
                Some(&token),
                &[],
                Some(json!({"title": "Beyond", "due_date": bad})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "due_date");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_outlives_its_user_gets_401_not_500() {
    let app = spawn_app().await;
    let token = app.user("ann@example.org").await;
    sqlx::query("DELETE FROM users WHERE email = 'ann@example.org'")
        .execute(app.db.pool())
        .await
        .unwrap();

    let response = app
        .call(
            Method::POST,
            "/v1/todos",
            Some(&token),
            &[],
            Some(json!({"title": "Orphan"})),
        )
        .await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let me = app
        .call(Method::GET, "/v1/users/me", Some(&token), &[], None)
        .await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_everywhere_revokes_every_session_in_redis() {
    let app = spawn_app().await;
    let laptop = app.user("ann@example.org").await;
    let (_, _, phone) = app
        .json(
            Method::POST,
            "/v1/sessions",
            None,
            &[],
            Some(json!({"email": "ann@example.org", "password": "password-123"})),
        )
        .await;
    let phone = phone["token"].as_str().unwrap().to_owned();
    let bob = app.user("bob@example.org").await;

    let revoked = app
        .call(Method::DELETE, "/v1/sessions", Some(&laptop), &[], None)
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);

    for token in [&laptop, &phone] {
        let me = app
            .call(Method::GET, "/v1/users/me", Some(token), &[], None)
            .await;
        assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    }
    let me = app
        .call(Method::GET, "/v1/users/me", Some(&bob), &[], None)
        .await;
    assert_eq!(me.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_200_logins_is_bounded_and_other_routes_keep_answering() {
    // The login rate limits would refuse most of the storm before it hashed anything: off,
    // so that this measures the hashing bound alone.
    let app = spawn_app_with(&[
        ("PASSWORD_HASH_MAX_WAIT_MS", "200"),
        ("LOGIN_LIMIT_PER_EMAIL", "0"),
        ("LOGIN_LIMIT_PER_ADDRESS", "0"),
    ])
    .await;
    let token = app.user("ann@example.org").await;
    app.todo(&token, "Still here").await;

    let logins: Vec<_> = (0..200)
        .map(|_| {
            tokio::spawn(
                app.client
                    .post(format!("{}/v1/sessions", app.base))
                    .json(&json!({"email": "ann@example.org", "password": "password-123"}))
                    .send(),
            )
        })
        .collect();
    // While the storm runs, routes that hash nothing still answer.
    for _ in 0..5 {
        let health = app.call(Method::GET, "/healthz", None, &[], None).await;
        assert_eq!(health.status(), StatusCode::OK);
        let (status, _, list) = app
            .json(Method::GET, "/v1/todos", Some(&token), &[], None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list["items"][0]["title"], "Still here");
    }

    let (mut created, mut shed) = (0, 0);
    for login in logins {
        let response = login.await.unwrap().unwrap();
        match response.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(response.headers()["retry-after"], "1");
                shed += 1;
            }
            other => panic!("a login got {other}"),
        }
    }
    assert!(created > 0 && shed > 0, "{created} logged in, {shed} shed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_in_flight_limit_requests_on_every_protocol_are_shed_and_the_probes_still_answer()
{
    let app = spawn_app_with(&[("HTTP_MAX_IN_FLIGHT", "1")]).await;
    let token = app.user("ann@example.org").await;
    let id = app.todo(&token, "Held").await;
    // One request in flight, held by a row lock: the PATCH waits in its UPDATE.
    let mut blocker = app.db.pool().begin().await.unwrap();
    sqlx::query("SELECT 1 FROM todos WHERE id = $1::uuid FOR UPDATE")
        .bind(&id)
        .execute(&mut *blocker)
        .await
        .unwrap();
    let client = app.client.clone();
    let url = format!("{}/v1/todos/{id}", app.base);
    let held_token = token.clone();
    let held = tokio::spawn(async move {
        client
            .patch(url)
            .bearer_auth(held_token)
            .header("if-match", "\"1\"")
            .json(&json!({"title": "Changed"}))
            .send()
            .await
    });
    app.wait_until_an_update_waits_for_a_lock().await;

    // The next one is shed at once, with a problem and a hint, not queued.
    let shed = app
        .call(Method::GET, "/v1/todos", Some(&token), &[], None)
        .await;
    assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(shed.headers()["retry-after"], "1");
    let problem: Value = shed.json().await.unwrap();
    assert_eq!(problem["code"], "overloaded", "{problem}");
    // The limit is the process's, not HTTP's: a gRPC call is shed too, UNAVAILABLE with a
    // reason and a retry delay. gRPC health is never shed.
    let channel = app.grpc().await;
    let mut todos = driving_grpc::api::todo_service_client::TodoServiceClient::new(channel.clone());
    let status = todos
        .get_todo(authed(
            driving_grpc::api::GetTodoRequest {
                name: format!("todos/{id}"),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    let details = status.get_error_details();
    assert_eq!(details.error_info().unwrap().reason, "overloaded");
    assert_eq!(
        details.retry_info().unwrap().retry_delay,
        Some(Duration::from_secs(1))
    );
    let serving = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await;
    assert!(serving.is_ok(), "{serving:?}");

    // The probes are never shed.
    let health = app.call(Method::GET, "/healthz", None, &[], None).await;
    assert_eq!(health.status(), StatusCode::OK);

    // Once the held request is done, its place is free again, on both protocols.
    blocker.rollback().await.unwrap();
    assert_eq!(held.await.unwrap().unwrap().status(), StatusCode::OK);
    let found = todos
        .get_todo(authed(
            driving_grpc::api::GetTodoRequest {
                name: format!("todos/{id}"),
            },
            &token,
        ))
        .await;
    assert!(found.is_ok(), "{found:?}");
    let (status, _, _) = app
        .json(Method::GET, "/v1/todos", Some(&token), &[], None)
        .await;
    assert_eq!(status, StatusCode::OK);
    app.shutdown.cancel();
}
