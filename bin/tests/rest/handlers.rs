//! Handler tests: every route and every error status of the REST API, through
//! `Router::oneshot` on the in-memory adapters (no sockets, no servers). The few tests that
//! need a failing or corrupt database use a fresh test database.

use crate::support;

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use domain::{
    todo::{Description, DueDate, Tag, Title},
    user::{DisplayName, Email},
};
use serde_json::json;
use support::{Api, config};
use test_servers::TestDatabase;

const NO_UUID: &str = "/v1/todos/0190b5d2-0000-7000-8000-000000000000";

#[tokio::test]
async fn a_user_registers_logs_in_sees_themself_and_logs_out() {
    let api = Api::in_memory().await;

    let registered = api
        .call(Method::POST, "/v1/users", None, &[], Some(json!({"email": " Ann@Example.org ", "password": "password-123", "display_name": "Ann"})))
        .await;
    assert_eq!(registered.status, StatusCode::CREATED);
    assert_eq!(registered.body["email"], "ann@example.org");
    assert_eq!(registered.body["role"], "member");
    assert!(registered.body.get("password_hash").is_none());

    let token = api.log_in("ann@example.org").await;
    let me = api.get("/v1/users/me", &token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["id"], registered.body["id"]);

    let logged_out = api
        .call(
            Method::DELETE,
            "/v1/sessions/current",
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(logged_out.status, StatusCode::NO_CONTENT);
    api.get("/v1/users/me", &token)
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn registration_reports_every_invalid_field_and_a_taken_email() {
    let api = Api::in_memory().await;

    let invalid = api
        .call(
            Method::POST,
            "/v1/users",
            None,
            &[],
            Some(json!({"email": "nope", "password": "short", "display_name": " "})),
        )
        .await;
    assert_eq!(
        invalid.invalid_fields(),
        ["email", "password", "display_name"]
    );

    api.user("ann@example.org").await;
    let taken = api
        .call(Method::POST, "/v1/users", None, &[], Some(json!({"email": "ANN@example.org", "password": "password-123", "display_name": "Ann"})))
        .await;
    taken.problem(StatusCode::CONFLICT, "email_taken");
}

#[tokio::test]
async fn bodies_that_are_not_the_expected_json_get_400_413_415_or_422() {
    let api = Api::in_memory().await;
    let raw = |content_type: &str, body: String| {
        Request::builder()
            .method(Method::POST)
            .uri("/v1/users")
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap()
    };

    api.send(raw("application/json", "{\"email\": ".into()))
        .await
        .problem(StatusCode::BAD_REQUEST, "malformed_request");
    api.send(raw("text/plain", "{}".into()))
        .await
        .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let huge = format!("{{\"email\": \"{}\"}}", "a".repeat(1024 * 1024 + 1));
    api.send(raw("application/json", huge))
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    for wrong in [
        json!({"email": 1, "password": "password-123", "display_name": "A"}),
        json!({"email": "a@b.org", "password": "password-123"}),
        json!({"email": "a@b.org", "password": "password-123", "display_name": "A", "role": "admin"}),
    ] {
        let reply = api
            .call(Method::POST, "/v1/users", None, &[], Some(wrong))
            .await;
        reply.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
}

#[tokio::test]
async fn bad_credentials_and_bad_tokens_get_401_with_www_authenticate() {
    let api = Api::in_memory().await;
    api.user("ann@example.org").await;

    let wrong_password = api
        .call(
            Method::POST,
            "/v1/sessions",
            None,
            &[],
            Some(json!({"email": "ann@example.org", "password": "wrong-password"})),
        )
        .await;
    let unknown_email = api
        .call(
            Method::POST,
            "/v1/sessions",
            None,
            &[],
            Some(json!({"email": "bob@example.org", "password": "password-123"})),
        )
        .await;
    assert_eq!(
        wrong_password.problem(StatusCode::UNAUTHORIZED, "unauthenticated")["detail"],
        unknown_email.problem(StatusCode::UNAUTHORIZED, "unauthenticated")["detail"],
        "the two must be indistinguishable"
    );

    let garbage = api.get("/v1/todos", "garbage").await;
    let missing = api.call(Method::GET, "/v1/todos", None, &[], None).await;
    let basic = api
        .call(
            Method::GET,
            "/v1/todos",
            None,
            &[("authorization", "Basic YTpi")],
            None,
        )
        .await;
    for reply in [&wrong_password, &garbage, &missing, &basic] {
        reply.problem(StatusCode::UNAUTHORIZED, "unauthenticated");
        assert!(
            reply
                .header("www-authenticate")
                .unwrap()
                .starts_with("Bearer"),
            "{reply:?}"
        );
    }
}

#[tokio::test]
async fn only_admins_list_users() {
    let api = Api::in_memory().await;
    let member = api.user("member@example.org").await;
    let registration = application::users::Registration {
        email: domain::user::Email::parse("root@example.org").unwrap(),
        display_name: domain::user::DisplayName::new("Root").unwrap(),
        password: domain::user::Password::new("password-123".into()).unwrap(),
    };
    api.app
        .use_cases
        .register
        .create_with_role(registration, domain::user::Role::Admin)
        .await
        .unwrap();
    let admin = api.log_in("root@example.org").await;

    api.get("/v1/users", &member)
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    let page = api.get("/v1/users?limit=1", &admin).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        page.body["items"][0]["email"], "root@example.org",
        "newest first"
    );
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let next = api
        .get(&format!("/v1/users?limit=1&cursor={cursor}"), &admin)
        .await;
    assert_eq!(next.body["items"][0]["email"], "member@example.org");
    assert!(next.body["next_cursor"].is_null());
    assert_eq!(
        api.get("/v1/users?limit=0", &admin).await.invalid_fields(),
        ["limit"]
    );
}

#[tokio::test]
async fn a_todo_goes_through_its_whole_life() {
    let api = Api::in_memory().await;
    let token = api.user("ann@example.org").await;

    let created = api
        .call(
            Method::POST,
            "/v1/todos",
            Some(&token),
            &[],
            Some(json!({"title": " Buy milk ", "tags": ["Home"], "due_date": "2026-12-01"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/todos/{id}").as_str())
    );
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(created.body["title"], "Buy milk");
    assert_eq!(created.body["tags"], json!(["home"]));
    assert_eq!(created.body["status"], "open");
    let path = format!("/v1/todos/{id}");

    let got = api.get(&path, &token).await;
    assert_eq!(
        (got.status, got.header("etag")),
        (StatusCode::OK, Some("\"1\""))
    );

    let patched = api
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            &[("if-match", "\"1\"")],
            Some(json!({"title": "Buy oat milk", "due_date": null, "description": "2 litres"})),
        )
        .await;
    assert_eq!(
        (patched.status, patched.header("etag")),
        (StatusCode::OK, Some("\"2\""))
    );
    assert_eq!(patched.body["due_date"], json!(null));
    assert_eq!(patched.body["description"], "2 litres");

    let done = api
        .call(
            Method::POST,
            &format!("{path}/complete"),
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(
        (done.body["status"].as_str(), done.header("etag")),
        (Some("done"), Some("\"3\""))
    );
    assert!(done.body["completed_at"].is_string());
    let again = api
        .call(
            Method::POST,
            &format!("{path}/complete"),
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(
        again.header("etag"),
        Some("\"3\""),
        "completing twice is a no-op"
    );
    let reopened = api
        .call(
            Method::POST,
            &format!("{path}/reopen"),
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(
        (
            reopened.body["status"].as_str(),
            reopened.body["completed_at"].is_null()
        ),
        (Some("open"), true)
    );

    let tagged = api
        .call(
            Method::PUT,
            &format!("{path}/tags/Urgent"),
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(tagged.body["tags"], json!(["home", "urgent"]));
    let untagged = api
        .call(
            Method::DELETE,
            &format!("{path}/tags/home"),
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(untagged.body["tags"], json!(["urgent"]));
    let etag = untagged.header("etag").unwrap().to_owned();

    let deleted = api
        .call(
            Method::DELETE,
            &path,
            Some(&token),
            &[("if-match", &etag)],
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    api.get(&path, &token)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn writes_need_the_current_etag() {
    let api = Api::in_memory().await;
    let token = api.user("ann@example.org").await;
    let (id, _) = api.todo(&token, json!({"title": "Versioned"})).await;
    let path = format!("/v1/todos/{id}");
    let rename = Some(json!({"title": "Renamed"}));

    api.call(Method::PATCH, &path, Some(&token), &[], rename.clone())
        .await
        .problem(StatusCode::PRECONDITION_REQUIRED, "version_required");
    api.call(Method::DELETE, &path, Some(&token), &[], None)
        .await
        .problem(StatusCode::PRECONDITION_REQUIRED, "version_required");
    api.call(
        Method::PATCH,
        &path,
        Some(&token),
        &[("if-match", "*")],
        rename.clone(),
    )
    .await
    .problem(StatusCode::PRECONDITION_REQUIRED, "version_required");
    api.call(
        Method::PATCH,
        &path,
        Some(&token),
        &[("if-match", "\"2\"")],
        rename.clone(),
    )
    .await
    .problem(StatusCode::PRECONDITION_FAILED, "version_mismatch");
    // Not one strong ETag of ours (weak, unquoted, signed, zero-padded, a list, too long):
    // malformed, as the document's pattern for If-Match says.
    for malformed in [
        "W/\"1\"",
        "1",
        "\"+1\"",
        "\"01\"",
        "\"0\"",
        "\"1\", \"2\"",
        "\"1234567890123456789\"",
        "",
    ] {
        api.call(
            Method::PATCH,
            &path,
            Some(&token),
            &[("if-match", malformed)],
            rename.clone(),
        )
        .await
        .problem(StatusCode::BAD_REQUEST, "malformed_request");
    }
    assert_eq!(
        api.call(
            Method::PATCH,
            &path,
            Some(&token),
            &[("if-match", "\"1\"")],
            rename.clone()
        )
        .await
        .status,
        StatusCode::OK
    );
    api.call(
        Method::PATCH,
        &path,
        Some(&token),
        &[("if-match", "\"1\"")],
        rename,
    )
    .await
    .problem(StatusCode::PRECONDITION_FAILED, "version_mismatch");
    api.call(
        Method::DELETE,
        &path,
        Some(&token),
        &[("if-match", "\"1\"")],
        None,
    )
    .await
    .problem(StatusCode::PRECONDITION_FAILED, "version_mismatch");
}

#[tokio::test]
async fn invalid_todo_values_are_422_field_by_field() {
    let api = Api::in_memory().await;
    let token = api.user("ann@example.org").await;
    let (id, _) = api.todo(&token, json!({"title": "Valid"})).await;

    let bad = api
        .call(
            Method::POST,
            "/v1/todos",
            Some(&token),
            &[],
            Some(json!({"title": "", "description": " ", "tags": ["ok", "not ok"]})),
        )
        .await;
    assert_eq!(bad.invalid_fields(), ["title", "description", "tags[1]"]);
    let too_many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let many = api
        .call(
            Method::POST,
            "/v1/todos",
            Some(&token),
            &[],
            Some(json!({"title": "x", "tags": too_many})),
        )
        .await;
    assert_eq!(many.invalid_fields(), ["tags"]);
    let bad_date = api
        .call(
            Method::POST,
            "/v1/todos",
            Some(&token),
            &[],
            Some(json!({"title": "x", "due_date": "tomorrow"})),
        )
        .await;
    bad_date.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let bad_patch = api
        .call(
            Method::PATCH,
            &format!("/v1/todos/{id}"),
            Some(&token),
            &[("if-match", "\"1\"")],
            Some(json!({"title": "a\nb"})),
        )
        .await;
    assert_eq!(bad_patch.invalid_fields(), ["title"]);
    let bad_tag = api
        .call(
            Method::PUT,
            &format!("/v1/todos/{id}/tags/no_underscores"),
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(bad_tag.invalid_fields(), ["tag"]);

    for i in 0..20 {
        api.call(
            Method::PUT,
            &format!("/v1/todos/{id}/tags/t{i}"),
            Some(&token),
            &[],
            None,
        )
        .await;
    }
    let full = api
        .call(
            Method::PUT,
            &format!("/v1/todos/{id}/tags/one-more"),
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(full.invalid_fields(), ["tag"]);
}

#[tokio::test]
async fn lists_filter_and_page_newest_first() {
    let api = Api::in_memory().await;
    let token = api.user("ann@example.org").await;
    let (first, _) = api
        .todo(&token, json!({"title": "first", "tags": ["work"]}))
        .await;
    let (second, _) = api.todo(&token, json!({"title": "second"})).await;
    let (third, _) = api
        .todo(&token, json!({"title": "third", "tags": ["work"]}))
        .await;
    api.call(
        Method::POST,
        &format!("/v1/todos/{first}/complete"),
        Some(&token),
        &[],
        None,
    )
    .await;
    let ids = |reply: &support::Reply| {
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };

    assert_eq!(
        ids(&api.get("/v1/todos", &token).await),
        [third.as_str(), &second, &first]
    );
    assert_eq!(
        ids(&api.get("/v1/todos?status=done", &token).await),
        [first.as_str()]
    );
    assert_eq!(
        ids(&api.get("/v1/todos?status=open&tag=work", &token).await),
        [third.as_str()]
    );
    let page = api.get("/v1/todos?limit=2", &token).await;
    assert_eq!(ids(&page), [third.as_str(), &second]);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest = api
        .get(&format!("/v1/todos?limit=2&cursor={cursor}"), &token)
        .await;
    assert_eq!(ids(&rest), [first.as_str()]);
    assert!(rest.body["next_cursor"].is_null());

    let bad = api
        .get(
            "/v1/todos?status=later&limit=1000&tag=No%20Spaces&cursor=abc",
            &token,
        )
        .await;
    assert_eq!(bad.invalid_fields(), ["status", "tag", "cursor", "limit"]);

    // An empty value is a value, and invalid, for every parameter alike: leave one out to
    // leave it unset.
    let empty = api
        .get("/v1/todos?status=&tag=&cursor=&limit=", &token)
        .await;
    assert_eq!(empty.invalid_fields(), ["status", "tag", "cursor", "limit"]);

    // Only what the document's `integer` and `format: uuid` say: plain decimal digits, and
    // the hyphenated UUID that `next_cursor` is written in.
    let simple = cursor.replace('-', "");
    for query in [
        "limit=%2B2".to_owned(),
        "limit=%202".to_owned(),
        format!("cursor={simple}"),
        format!("cursor=%7B{cursor}%7D"),
        format!("cursor=urn:uuid:{cursor}"),
    ] {
        let bad = api.get(&format!("/v1/todos?{query}"), &token).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
    }
}

#[tokio::test]
async fn the_document_states_each_body_field_s_rule_and_every_shared_status() {
    let api = Api::in_memory().await;
    let doc = api
        .call(Method::GET, "/openapi.json", None, &[], None)
        .await
        .body;
    let schemas = &doc["components"]["schemas"];
    for body in [
        "RegisterRequest",
        "LogInRequest",
        "CreateTodoRequest",
        "UpdateTodoRequest",
    ] {
        assert_eq!(
            schemas[body]["additionalProperties"],
            json!(false),
            "{body}"
        );
    }
    let register = &schemas["RegisterRequest"]["properties"];
    assert_eq!(
        (
            &register["password"]["minLength"],
            &register["password"]["maxLength"]
        ),
        (&json!(8), &json!(128))
    );
    assert_eq!(register["display_name"]["pattern"], DisplayName::PATTERN);
    let email: Vec<&str> = register["email"]["allOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pattern"].as_str().unwrap())
        .collect();
    assert_eq!(email, Email::PATTERNS);
    let create = &schemas["CreateTodoRequest"]["properties"];
    assert_eq!(create["title"]["pattern"], Title::PATTERN);
    assert_eq!(create["description"]["pattern"], Description::PATTERN);
    assert_eq!(create["description"]["maxLength"], json!(10_000));
    assert_eq!(create["due_date"]["pattern"], DueDate::PATTERN);
    assert_eq!(create["due_date"]["format"], "date");
    assert_eq!(create["tags"]["maxItems"], json!(20));
    assert_eq!(create["tags"]["items"]["pattern"], Tag::PATTERN);
    let update = &schemas["UpdateTodoRequest"]["properties"];
    assert_eq!(update["title"]["type"], "string", "a title cannot be null");
    assert_eq!(update["due_date"]["type"], json!(["string", "null"]));

    // Every status a route can get from the shared layers and the extractors.
    let statuses = |method: &str, path: &str| -> Vec<String> {
        let responses = doc["paths"][path][method]["responses"].as_object().unwrap();
        responses.keys().cloned().collect()
    };
    assert_eq!(
        statuses("post", "/v1/sessions"),
        [
            "201", "400", "401", "413", "415", "422", "429", "500", "503"
        ]
    );
    assert_eq!(
        statuses("patch", "/v1/todos/{id}"),
        [
            "200", "400", "401", "404", "409", "412", "413", "415", "422", "428", "500", "503"
        ]
    );
    assert_eq!(
        statuses("get", "/v1/users/me"),
        ["200", "401", "500", "503"]
    );
}

#[tokio::test]
async fn a_patch_with_a_null_title_is_invalid_and_changes_nothing() {
    let api = Api::in_memory().await;
    let token = api.user("ann@example.org").await;
    let (id, etag) = api.todo(&token, json!({"title": "Keep me"})).await;
    let path = format!("/v1/todos/{id}");
    let refused = api
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            &[("if-match", etag.as_str())],
            Some(json!({"title": null, "description": "new"})),
        )
        .await;
    assert_eq!(refused.invalid_fields(), ["title"]);
    let todo = api.get(&path, &token).await;
    assert_eq!(
        (&todo.body["title"], &todo.body["description"]),
        (&json!("Keep me"), &json!(null))
    );
}

#[tokio::test]
async fn an_internationalised_email_is_refused_as_the_document_says() {
    let api = Api::in_memory().await;
    let response = api
        .call(
            Method::POST,
            "/v1/users",
            None,
            &[],
            Some(json!({"email": "jörg@example.org", "password": "long enough", "display_name": "Jörg"})),
        )
        .await;
    assert_eq!(response.invalid_fields(), ["email"]);
}

#[tokio::test]
async fn the_documented_list_parameters_carry_their_types_and_bounds() {
    let api = Api::in_memory().await;
    let doc = api
        .call(Method::GET, "/openapi.json", None, &[], None)
        .await
        .body;
    for path in ["/v1/todos", "/v1/users"] {
        let parameters = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
        let schema = |name: &str| {
            parameters
                .iter()
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("{path} has no {name}"))["schema"]
                .clone()
        };
        let limit = schema("limit");
        assert_eq!(
            (&limit["type"], &limit["minimum"], &limit["maximum"]),
            (&json!("integer"), &json!(1), &json!(100)),
            "{path}: {limit}"
        );
        assert_eq!(schema("cursor")["format"], "uuid", "{path}");
    }
    let parameters = doc["paths"]["/v1/todos"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let status = &parameters.iter().find(|p| p["name"] == "status").unwrap()["schema"];
    assert_eq!(status["enum"], json!(["open", "done"]), "{status}");
}

#[tokio::test]
async fn another_users_todo_is_not_found_on_every_route() {
    let api = Api::in_memory().await;
    let ann = api.user("ann@example.org").await;
    let bob = api.user("bob@example.org").await;
    let (id, etag) = api.todo(&ann, json!({"title": "Ann's"})).await;
    let path = format!("/v1/todos/{id}");

    for (method, route, headers, body) in [
        (Method::GET, path.clone(), vec![], None),
        (
            Method::PATCH,
            path.clone(),
            vec![("if-match", etag.as_str())],
            Some(json!({"title": "Bob's now"})),
        ),
        (
            Method::DELETE,
            path.clone(),
            vec![("if-match", etag.as_str())],
            None,
        ),
        (Method::POST, format!("{path}/complete"), vec![], None),
        (Method::POST, format!("{path}/reopen"), vec![], None),
        (Method::PUT, format!("{path}/tags/bob"), vec![], None),
        (Method::DELETE, format!("{path}/tags/bob"), vec![], None),
    ] {
        api.call(method.clone(), &route, Some(&bob), &headers, body)
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
    }
    assert!(
        api.get("/v1/todos", &bob).await.body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        api.get(&path, &ann).await.header("etag"),
        Some("\"1\""),
        "Ann's todo is untouched"
    );
}

#[tokio::test]
async fn unknown_paths_ids_and_methods_are_problems_too() {
    let api = Api::in_memory().await;
    let token = api.user("ann@example.org").await;

    api.get("/v1/nope", &token)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    api.get("/v1/todos/not-a-uuid", &token)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    api.get(NO_UUID, &token)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    api.call(Method::PUT, "/v1/todos", Some(&token), &[], None)
        .await
        .problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

#[tokio::test]
async fn request_ids_are_echoed_or_made_and_put_in_error_bodies() {
    let api = Api::in_memory().await;

    let given = api
        .call(
            Method::GET,
            "/v1/todos",
            None,
            &[("x-request-id", "trace-me-123")],
            None,
        )
        .await;
    assert_eq!(given.header("x-request-id"), Some("trace-me-123"));
    assert_eq!(
        given.problem(StatusCode::UNAUTHORIZED, "unauthenticated")["request_id"],
        "trace-me-123"
    );

    let made = api.call(Method::GET, "/healthz", None, &[], None).await;
    assert!(uuid::Uuid::parse_str(made.header("x-request-id").unwrap()).is_ok());

    // An id too long to put in every log line and span is replaced, not echoed.
    let long = "x".repeat(driving_http::MAX_REQUEST_ID_BYTES + 1);
    let replaced = api
        .call(
            Method::GET,
            "/v1/todos",
            None,
            &[("x-request-id", &long)],
            None,
        )
        .await;
    let id = replaced.header("x-request-id").unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert_eq!(
        replaced.problem(StatusCode::UNAUTHORIZED, "unauthenticated")["request_id"],
        id.as_str()
    );
    // So is one that a plain-text log line would split: a space or a tab.
    for spaced in ["trace me", "trace\tme"] {
        let replaced = api
            .call(
                Method::GET,
                "/healthz",
                None,
                &[("x-request-id", spaced)],
                None,
            )
            .await;
        let id = replaced.header("x-request-id").unwrap();
        assert!(
            uuid::Uuid::parse_str(id).is_ok(),
            "{spaced:?} kept as {id:?}"
        );
    }
    let longest = "x".repeat(driving_http::MAX_REQUEST_ID_BYTES);
    let kept = api
        .call(
            Method::GET,
            "/healthz",
            None,
            &[("x-request-id", &longest)],
            None,
        )
        .await;
    assert_eq!(kept.header("x-request-id"), Some(longest.as_str()));
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let api = Api::in_memory().await;

    assert_eq!(
        api.call(Method::GET, "/healthz", None, &[], None)
            .await
            .status,
        StatusCode::OK
    );
    let ready = api.call(Method::GET, "/readyz", None, &[], None).await;
    assert_eq!(
        (ready.status, ready.body["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
    api.call(Method::GET, NO_UUID, None, &[], None).await;

    let metrics = api.call(Method::GET, "/metrics", None, &[], None).await;
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/v1/todos/{id}",status="401"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_request_duration_seconds_bucket{le="#),
        "{text}"
    );
}

#[tokio::test]
async fn a_slow_request_times_out_with_503() {
    // Hashing a password takes far longer than a millisecond.
    let api = Api::with_config(&config(&[("HTTP_REQUEST_TIMEOUT_MS", "1")])).await;

    let reply = api
        .call(
            Method::POST,
            "/v1/users",
            None,
            &[],
            Some(json!({"email": "a@b.org", "password": "password-123", "display_name": "A"})),
        )
        .await;

    reply.problem(StatusCode::SERVICE_UNAVAILABLE, "timeout");
}

#[tokio::test]
async fn cors_answers_preflights_for_allowed_origins_only() {
    let api = Api::with_config(&config(&[(
        "HTTP_CORS_ALLOWED_ORIGINS",
        "https://app.example.org",
    )]))
    .await;
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/v1/todos")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .body(Body::empty())
            .unwrap()
    };

    let allowed = api.send(preflight("https://app.example.org")).await;
    let other = api.send(preflight("https://evil.example.com")).await;

    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example.org")
    );
    assert_eq!(other.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn an_unreachable_database_is_503_and_readyz_names_it() {
    let db = TestDatabase::new().await;
    let api = Api::with_config(&config(&[("DATABASE_URL", db.url())])).await;
    let token = api.user("ann@example.org").await;
    api.app.backends.postgres.as_ref().unwrap().close().await;

    api.get("/v1/users/me", &token)
        .await
        .problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    let ready = api.call(Method::GET, "/readyz", None, &[], None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.body["checks"]["postgres"], "down");
}

#[tokio::test]
async fn an_internal_error_is_an_opaque_500() {
    let db = TestDatabase::new().await;
    let api = Api::with_config(&config(&[("DATABASE_URL", db.url())])).await;
    let token = api.user("ann@example.org").await;
    let (id, _) = api.todo(&token, json!({"title": "soon corrupt"})).await;
    // A row that breaks a domain rule (written by hand, say) cannot become a Todo.
    sqlx::query("UPDATE todos SET tags = ARRAY['Not A Tag']")
        .execute(db.pool())
        .await
        .unwrap();

    let reply = api.get(&format!("/v1/todos/{id}"), &token).await;

    let problem = reply.problem(StatusCode::INTERNAL_SERVER_ERROR, "internal");
    assert!(
        problem.get("detail").is_none(),
        "no internals leak: {problem}"
    );
    assert!(
        !problem.to_string().contains("tag"),
        "no internals leak: {problem}"
    );
}

#[tokio::test]
async fn the_openapi_document_is_3_1_lists_every_route_and_resolves_every_reference() {
    let api = Api::in_memory().await;
    let doc = api
        .call(Method::GET, "/openapi.json", None, &[], None)
        .await
        .body;

    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let routes = [
        ("post", "/v1/users"),
        ("get", "/v1/users"),
        ("get", "/v1/users/me"),
        ("post", "/v1/sessions"),
        ("delete", "/v1/sessions"),
        ("delete", "/v1/sessions/current"),
        ("post", "/v1/todos"),
        ("get", "/v1/todos"),
        ("get", "/v1/todos/{id}"),
        ("patch", "/v1/todos/{id}"),
        ("delete", "/v1/todos/{id}"),
        ("post", "/v1/todos/{id}/complete"),
        ("post", "/v1/todos/{id}/reopen"),
        ("put", "/v1/todos/{id}/tags/{tag}"),
        ("delete", "/v1/todos/{id}/tags/{tag}"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
    ];
    for (method, path) in routes {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is missing from the document"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        routes.len(),
        "the document lists a route the test does not know"
    );

    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let (kind, name) = reference
            .strip_prefix("#/components/")
            .and_then(|r| r.split_once('/'))
            .filter(|(kind, _)| ["schemas", "responses"].contains(kind))
            .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
        assert!(
            doc["components"][kind][name].is_object(),
            "dangling $ref {reference}"
        );
    }
}

fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                if key == "$ref" {
                    out.push(inner.as_str().unwrap().to_owned());
                } else {
                    collect_refs(inner, out);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_docs_page_and_its_assets_are_served_by_the_app() {
    let api = Api::in_memory().await;

    let page = api.call(Method::GET, "/docs/", None, &[], None).await;
    let html = page.body.as_str().unwrap();
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !html.contains("https://"),
        "the page must not load anything from the internet"
    );
    for asset in [
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        assert_eq!(
            api.call(Method::GET, asset, None, &[], None).await.status,
            StatusCode::OK,
            "{asset}"
        );
    }
}

// Hostile input: whatever a client sends, the answer is a bounded problem document.

#[tokio::test]
async fn a_due_date_outside_years_1_to_9999_is_422_and_the_extremes_are_kept() {
    let api = Api::in_memory().await;
    let token = api.user("ann@example.org").await;

    for bad in ["-5000-01-01", "0000-12-31", "+10000-01-01"] {
        let reply = api
            .call(
                Method::POST,
                "/v1/todos",
                Some(&token),
                &[],
                Some(json!({"title": "Out of range", "due_date": bad})),
            )
            .await;
        assert_eq!(reply.invalid_fields(), ["due_date"], "{bad}");
    }
    for extreme in ["0001-01-01", "9999-12-31"] {
        let created = api
            .call(
                Method::POST,
                "/v1/todos",
                Some(&token),
                &[],
                Some(json!({"title": "At the edge", "due_date": extreme})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
        assert_eq!(created.body["due_date"], extreme);
    }
}

#[tokio::test]
async fn framework_rejections_unknown_routes_and_methods_are_problem_documents() {
    let api = Api::in_memory().await;
    let token = api.user("ann@example.org").await;
    let (id, _) = api.todo(&token, json!({"title": "Target"})).await;

    // A path segment that is not UTF-8, and a query parameter given twice, are refused by
    // axum's own extractors before any handler runs.
    api.get("/v1/todos/%FF", &token)
        .await
        .problem(StatusCode::BAD_REQUEST, "malformed_request");
    api.get(&format!("/v1/todos/{id}/tags/%FF"), &token)
        .await
        .problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    api.call(
        Method::PUT,
        &format!("/v1/todos/{id}/tags/%FF"),
        Some(&token),
        &[],
        None,
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "malformed_request");
    let twice = api.get("/v1/todos?limit=1&limit=2", &token).await;
    twice.problem(StatusCode::BAD_REQUEST, "malformed_request");
    assert!(
        twice.body["detail"].as_str().unwrap().contains("limit"),
        "{twice:?}"
    );
    api.get("/v1/users?cursor=a&cursor=b", &token)
        .await
        .problem(StatusCode::BAD_REQUEST, "malformed_request");
    api.get("/no/such/route", &token)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    api.call(Method::DELETE, "/healthz", None, &[], None)
        .await
        .problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let invented = Request::builder()
        .method(Method::from_bytes(b"FOOBAR123").unwrap())
        .uri("/v1/todos")
        .body(Body::empty())
        .unwrap();
    api.send(invented)
        .await
        .problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

#[tokio::test]
async fn a_flood_of_bad_tags_gets_one_short_answer() {
    let api = Api::in_memory().await;
    let token = api.user("ann@example.org").await;

    // About 1 MiB of empty tags: refused on the count, before any tag is looked at.
    let flood = vec![""; 30_000];
    let reply = api
        .call(
            Method::POST,
            "/v1/todos",
            Some(&token),
            &[],
            Some(json!({"title": "Flood", "tags": flood})),
        )
        .await;
    assert_eq!(reply.invalid_fields(), ["tags"]);
    assert!(reply.body.to_string().len() < 2_000, "{reply:?}");

    // Twenty bad tags fit the count; their messages are listed, but only up to the cap.
    let bad: Vec<String> = (0..20).map(|i| format!("bad tag {i}")).collect();
    let mut body = json!({"title": "", "description": " ", "tags": bad});
    body["due_date"] = json!("0000-01-01");
    let reply = api
        .call(Method::POST, "/v1/todos", Some(&token), &[], Some(body))
        .await;
    let fields = reply.invalid_fields();
    assert_eq!(fields.len(), 20, "{reply:?}");
    assert_eq!(&fields[..2], ["title", "description"]);
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("the first 20 are listed, and 3 more are not"),
        "{reply:?}"
    );
}

#[tokio::test]
async fn invented_methods_and_unmatched_routes_add_no_metric_series() {
    let api = Api::in_memory().await;
    for method in ["FOOBAR123", "FOOBAR124", "PROPFIND"] {
        let request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri("/healthz")
            .body(Body::empty())
            .unwrap();
        api.send(request).await;
    }
    for path in ["/a", "/b/c", "/v1/todos/x/y/z"] {
        api.call(Method::GET, path, None, &[], None).await;
    }

    let text = api
        .call(Method::GET, "/metrics", None, &[], None)
        .await
        .body;
    let text = text.as_str().unwrap();
    assert!(
        !text.contains("FOOBAR") && !text.contains("PROPFIND"),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="other",route="/healthz",status="405"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 3"#),
        "{text}"
    );
}

#[tokio::test]
async fn logging_out_everywhere_ends_every_session_of_the_user_and_no_other() {
    let api = Api::in_memory().await;
    let laptop = api.user("ann@example.org").await;
    let phone = api.log_in("ann@example.org").await;
    let bob = api.user("bob@example.org").await;

    let reply = api
        .call(Method::DELETE, "/v1/sessions", Some(&phone), &[], None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");

    for token in [&laptop, &phone] {
        api.get("/v1/users/me", token)
            .await
            .problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    }
    assert_eq!(api.get("/v1/users/me", &bob).await.status, StatusCode::OK);
    api.call(Method::DELETE, "/v1/sessions", None, &[], None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn password_hashing_beyond_its_bound_is_shed_with_503_and_retry_after() {
    // One hash at a time, and no waiting for a turn: concurrent logins beyond the first
    // are refused at once instead of piling up on the blocking pool.
    let api = Api::with_config(&config(&[
        ("PASSWORD_HASH_CONCURRENCY", "1"),
        ("PASSWORD_HASH_MAX_WAIT_MS", "0"),
    ]))
    .await;
    api.user("ann@example.org").await;

    let logins = (0..8).map(|_| {
        api.call(
            Method::POST,
            "/v1/sessions",
            None,
            &[],
            Some(json!({"email": "ann@example.org", "password": "password-123"})),
        )
    });
    let replies = futures_util::future::join_all(logins).await;

    let shed: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(!shed.is_empty(), "{replies:?}");
    for reply in &shed {
        reply.problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
        assert_eq!(reply.header("retry-after"), Some("1"), "{reply:?}");
    }
    assert!(
        replies.iter().all(|r| r.status == StatusCode::CREATED
            || r.status == StatusCode::SERVICE_UNAVAILABLE),
        "{replies:?}"
    );
    assert!(replies.iter().any(|r| r.status == StatusCode::CREATED));
}
