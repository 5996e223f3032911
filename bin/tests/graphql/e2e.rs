//! GraphQL end-to-end: the real server on port 0 over Postgres and Redis, driven over HTTP
//! as a client would, GraphQL-over-HTTP semantics included.

use crate::support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::server::{TestApp, spawn_app};

const CREATE: &str = "mutation($i: CreateTodoInput!) { createTodo(input: $i) { id version } }";

impl TestApp {
    /// The data of an operation that must succeed.
    async fn gql_data(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let (status, body) = self.graphql(token, query, variables).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        body["data"].clone()
    }

    /// Registers and logs in over GraphQL; the token.
    async fn gql_user(&self, email: &str) -> String {
        self.gql_data(
            None,
            "mutation($i: RegisterInput!) { register(input: $i) { id } }",
            json!({"i": {"email": email, "password": "password-123", "displayName": "E2E"}}),
        )
        .await;
        let data = self
            .gql_data(
                None,
                "mutation($e: String!, $p: String!) { logIn(email: $e, password: $p) { token } }",
                json!({"e": email, "p": "password-123"}),
            )
            .await;
        data["logIn"]["token"].as_str().unwrap().to_owned()
    }
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no code: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_todo_lives_and_dies_over_graphql_on_postgres_and_redis() {
    let app = spawn_app().await;
    let token = app.gql_user("ann@example.org").await;

    let created = app
        .gql_data(
            Some(&token),
            CREATE,
            json!({"i": {"title": "Plan", "tags": ["trip"], "dueDate": "9999-12-31"}}),
        )
        .await;
    let id = created["createTodo"]["id"].as_str().unwrap().to_owned();
    let vars = json!({"id": id});
    for _ in 0..2 {
        // The second read is served from the Redis cache: the same answer.
        let read = app
            .gql_data(
                Some(&token),
                "query($id: ID!) { todo(id: $id) { title dueDate version } }",
                vars.clone(),
            )
            .await;
        assert_eq!(
            read["todo"],
            json!({"title": "Plan", "dueDate": "9999-12-31", "version": 1})
        );
    }
    let updated = app
        .gql_data(
            Some(&token),
            "mutation($id: ID!) { updateTodo(id: $id, expectedVersion: 1, input: {title: \"Plan the trip\"}) { title version } }",
            vars.clone(),
        )
        .await;
    assert_eq!(
        updated["updateTodo"],
        json!({"title": "Plan the trip", "version": 2})
    );
    let read = app
        .gql_data(
            Some(&token),
            "query($id: ID!) { todo(id: $id) { title version } }",
            vars.clone(),
        )
        .await;
    assert_eq!(
        read["todo"]["version"], 2,
        "the update invalidated the cache"
    );
    app.gql_data(
        Some(&token),
        "mutation($id: ID!) { completeTodo(id: $id) { id } }",
        vars.clone(),
    )
    .await;
    app.gql_data(
        Some(&token),
        "mutation($id: ID!) { addTag(id: $id, tag: \"booked\") { id } }",
        vars.clone(),
    )
    .await;
    let listed = app
        .gql_data(
            Some(&token),
            "{ todos(status: DONE, tag: \"booked\") { edges { node { id version } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["todos"]["edges"],
        json!([{"node": {"id": id, "version": 4}}])
    );

    // A query over GET works; a mutation over GET is refused and changes nothing.
    let get = |query: &str| {
        let url = url::Url::parse_with_params(&format!("{}/graphql", app.base), [("query", query)])
            .unwrap();
        app.client
            .get(url)
            .bearer_auth(&token)
            .header("accept", "application/graphql-response+json")
            .send()
    };
    let response = get("{ me { email } }").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/graphql-response+json"
    );
    assert_eq!(
        response.json::<Value>().await.unwrap()["data"]["me"]["email"],
        "ann@example.org"
    );
    // The GraphQL-over-HTTP parameter names: `operationName` picks one of several
    // operations, and `variables` is JSON.
    let url = url::Url::parse_with_params(
        &format!("{}/graphql", app.base),
        [
            ("query", "query A { me { id } } query B($s: TodoStatus) { todos(status: $s) { edges { node { id } } } }"),
            ("operationName", "B"),
            ("variables", r#"{"s": "DONE"}"#),
        ],
    )
    .unwrap();
    let response = app
        .client
        .get(url)
        .bearer_auth(&token)
        .header("accept", "application/graphql-response+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap()["data"]["todos"]["edges"][0]["node"]["id"],
        json!(id)
    );
    let response = get(&format!(
        "mutation {{ deleteTodo(id: \"{id}\", expectedVersion: 4) }}"
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(code(&response.json().await.unwrap()), "method_not_allowed");

    let deleted = app
        .gql_data(
            Some(&token),
            "mutation($id: ID!) { deleteTodo(id: $id, expectedVersion: 4) }",
            vars.clone(),
        )
        .await;
    assert_eq!(deleted["deleteTodo"], id);
    let (status, body) = app
        .graphql(
            Some(&token),
            "query($id: ID!) { todo(id: $id) { id } }",
            vars,
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::OK, "not_found"));

    app.gql_data(Some(&token), "mutation { logOut }", json!({}))
        .await;
    let (_, body) = app
        .graphql(Some(&token), "{ me { email } }", json!({}))
        .await;
    assert_eq!(code(&body), "unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_todo_is_not_found_on_every_operation() {
    let app = spawn_app().await;
    let ann = app.gql_user("ann@example.org").await;
    let bob = app.gql_user("bob@example.org").await;
    let id = app
        .gql_data(Some(&ann), CREATE, json!({"i": {"title": "Ann's"}}))
        .await["createTodo"]["id"]
        .clone();

    for operation in [
        "query($id: ID!) { todo(id: $id) { id } }",
        "mutation($id: ID!) { updateTodo(id: $id, expectedVersion: 1, input: {title: \"mine\"}) { id } }",
        "mutation($id: ID!) { completeTodo(id: $id) { id } }",
        "mutation($id: ID!) { reopenTodo(id: $id) { id } }",
        "mutation($id: ID!) { addTag(id: $id, tag: \"x\") { id } }",
        "mutation($id: ID!) { removeTag(id: $id, tag: \"x\") { id } }",
        "mutation($id: ID!) { deleteTodo(id: $id, expectedVersion: 1) }",
    ] {
        let (status, body) = app.graphql(Some(&bob), operation, json!({"id": id})).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::OK, "not_found"),
            "{operation}"
        );
    }
    let mine = app
        .gql_data(
            Some(&ann),
            "query($id: ID!) { todo(id: $id) { title version } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(mine["todo"], json!({"title": "Ann's", "version": 1}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_updates_with_one_version_give_one_success_and_one_mismatch() {
    let app = spawn_app().await;
    let token = app.gql_user("ann@example.org").await;
    let id = app
        .gql_data(Some(&token), CREATE, json!({"i": {"title": "Contested"}}))
        .await["createTodo"]["id"]
        .clone();
    let update = "mutation($id: ID!, $t: String!) { updateTodo(id: $id, expectedVersion: 1, input: {title: $t}) { title version } }";

    let (a, b) = tokio::join!(
        app.graphql(Some(&token), update, json!({"id": id, "t": "Writer A"})),
        app.graphql(Some(&token), update, json!({"id": id, "t": "Writer B"})),
    );

    let results = [&a.1, &b.1];
    let winners: Vec<&&Value> = results
        .iter()
        .filter(|r| r.get("errors").is_none())
        .collect();
    let losers: Vec<&&Value> = results
        .iter()
        .filter(|r| r.get("errors").is_some())
        .collect();
    assert_eq!((winners.len(), losers.len()), (1, 1), "{results:?}");
    assert_eq!(code(losers[0]), "version_mismatch");
    assert_eq!(losers[0]["errors"][0]["extensions"]["currentVersion"], 2);
    let stored = app
        .gql_data(
            Some(&token),
            "query($id: ID!) { todo(id: $id) { title version } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(stored["todo"], winners[0]["data"]["updateTodo"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depth_complexity_and_size_limits_answer_400_with_their_codes() {
    let app = spawn_app().await;
    let token = app.gql_user("ann@example.org").await;
    // Past the depth limit (15), and past the parser's own nesting limit (32).
    let nest = |levels: usize| {
        (0..levels).fold("name".to_owned(), |inner, _| {
            format!("ofType {{ {inner} }}")
        })
    };
    let deep = format!("{{ __type(name: \"Todo\") {{ {} }} }}", nest(18));
    let deeper = format!("{{ __type(name: \"Todo\") {{ {} }} }}", nest(40));
    let fields = "id title description tags dueDate status completedAt version createdAt updatedAt";
    let complex = format!(
        "{{ a: todos(first: 100) {{ edges {{ node {{ {fields} }} }} }} b: todos(first: 100) {{ edges {{ node {{ {fields} }} }} }} c: todos(first: 100) {{ edges {{ node {{ {fields} }} }} }} }}"
    );
    let large = format!("{{ me {{ {} }} }}", "id ".repeat(10_000));
    for (query, expected) in [
        (deep.as_str(), "query_too_deep"),
        (deeper.as_str(), "query_too_deep"),
        (complex.as_str(), "query_too_complex"),
        (large.as_str(), "query_too_large"),
        ("{ me { id ", "malformed_request"),
        ("{ me { nope } }", "malformed_request"),
    ] {
        let (status, body) = app.graphql(Some(&token), query, json!({})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{expected}: {body}");
        assert_eq!(code(&body), expected, "{body}");
        assert!(
            body.get("data").is_none() || body["data"].is_null(),
            "{body}"
        );
    }
    // Within every limit: answered.
    let (status, body) = app.graphql(Some(&token), "{ me { id } }", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_kinds_of_malformed_input_get_a_clear_error_and_never_an_internal_one() {
    let app = spawn_app().await;
    let token = app.gql_user("ann@example.org").await;
    let id = app
        .gql_data(Some(&token), CREATE, json!({"i": {"title": "Target"}}))
        .await["createTodo"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = |content_type: &'static str, body: Vec<u8>| {
        app.client
            .post(format!("{}/graphql", app.base))
            .bearer_auth(&token)
            .header("accept", "application/graphql-response+json")
            .header("content-type", content_type)
            .body(body)
    };
    let op = |query: &str, variables: Value| {
        serde_json::to_vec(&json!({"query": query, "variables": variables})).unwrap()
    };
    let requests = vec![
        (
            "broken query text",
            post("application/json", op("{ todos { edges ", json!({}))),
        ),
        (
            "body not JSON",
            post("application/json", b"{not json".to_vec()),
        ),
        (
            "body not UTF-8",
            post("application/json", b"\xff\xfe\x00".to_vec()),
        ),
        (
            "body a batch",
            post(
                "application/json",
                b"[{\"query\": \"{ me { id } }\"}]".to_vec(),
            ),
        ),
        ("no query", post("application/json", b"{}".to_vec())),
        (
            "text/plain",
            post("text/plain", op("{ me { id } }", json!({}))),
        ),
        (
            "a media type that only starts like JSON",
            post("application/jsonx", op("{ me { id } }", json!({}))),
        ),
        (
            "unknown field",
            post("application/json", op("{ me { password } }", json!({}))),
        ),
        (
            "unknown argument",
            post(
                "application/json",
                op("{ todos(last: 3) { edges { cursor } } }", json!({})),
            ),
        ),
        (
            "wrong variable type",
            post(
                "application/json",
                op(
                    "query($id: ID!) { todo(id: $id) { id } }",
                    json!({"id": {"a": 1}}),
                ),
            ),
        ),
        (
            "missing variable",
            post(
                "application/json",
                op("query($id: ID!) { todo(id: $id) { id } }", json!({})),
            ),
        ),
        (
            "variables not an object",
            post(
                "application/json",
                br#"{"query": "{ me { id } }", "variables": [1]}"#.to_vec(),
            ),
        ),
        (
            "wrong enum value",
            post(
                "application/json",
                op(
                    "{ todos(status: ARCHIVED) { edges { cursor } } }",
                    json!({}),
                ),
            ),
        ),
        (
            "int out of range",
            post(
                "application/json",
                op(
                    "{ todos(first: 99999999999) { edges { cursor } } }",
                    json!({}),
                ),
            ),
        ),
        (
            "negative page",
            post(
                "application/json",
                op("{ todos(first: -5) { edges { cursor } } }", json!({})),
            ),
        ),
        (
            "garbage cursor",
            post(
                "application/json",
                op(
                    "{ todos(after: \"\\u0000\") { edges { cursor } } }",
                    json!({}),
                ),
            ),
        ),
        (
            "garbage id",
            post(
                "application/json",
                op("{ todo(id: \"💩\") { id } }", json!({})),
            ),
        ),
        (
            "huge version",
            post(
                "application/json",
                op(
                    &format!(
                        "mutation {{ updateTodo(id: \"{id}\", expectedVersion: 9223372036854775807, input: {{}}) {{ id }} }}"
                    ),
                    json!({}),
                ),
            ),
        ),
        (
            "unknown operation name",
            post(
                "application/json",
                br#"{"query": "query A { me { id } }", "operationName": "B"}"#.to_vec(),
            ),
        ),
        (
            "two operations, no name",
            post(
                "application/json",
                op("query A { me { id } } query B { me { id } }", json!({})),
            ),
        ),
        (
            "900 kB query",
            post(
                "application/json",
                op(&"{ me { id } }".repeat(70_000), json!({})),
            ),
        ),
        (
            "a 100 kB password",
            post(
                "application/json",
                op(
                    "mutation($p: String!) { logIn(email: \"a@b.org\", password: $p) { token } }",
                    json!({"p": "p".repeat(100_000)}),
                ),
            ),
        ),
        (
            "invalid title",
            post(
                "application/json",
                op(CREATE, json!({"i": {"title": "\u{1b}[31m"}})),
            ),
        ),
    ];
    assert!(requests.len() >= 20);
    for (what, request) in requests {
        let response = request.send().await.unwrap();
        let status = response.status();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(!status.is_server_error(), "{what}: {status} {body}");
        let code = body["errors"][0]["extensions"]["code"]
            .as_str()
            .or_else(|| body["code"].as_str())
            .unwrap_or_else(|| panic!("{what}: no code in {body}"));
        assert_ne!(code, "internal", "{what}: {body}");
        assert!(content_type.contains("json"), "{what}: {content_type}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_name_never_picks_an_anonymous_operation() {
    let app = spawn_app().await;
    let token = app.gql_user("ann@example.org").await;
    for body in [
        json!({"query": "{ me { id } }", "operationName": "X"}),
        json!({"query": "mutation { logOut }", "operationName": ""}),
    ] {
        let response = app
            .client
            .post(format!("{}/graphql", app.base))
            .bearer_auth(&token)
            .header("accept", "application/graphql-response+json")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(code(&answer), "malformed_request", "{answer}");
        assert!(answer["data"].is_null(), "{answer}");
    }
    // Nothing ran: the session the refused `logOut` named is still live.
    let (status, body) = app.graphql(Some(&token), "{ me { id } }", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["data"]["me"]["id"].is_string(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_error_reveals_nothing() {
    let app = spawn_app().await;
    let token = app.gql_user("ann@example.org").await;
    let id = app
        .gql_data(
            Some(&token),
            CREATE,
            json!({"i": {"title": "soon corrupt"}}),
        )
        .await["createTodo"]["id"]
        .clone();
    sqlx::query("UPDATE todos SET tags = ARRAY['Not A Tag']")
        .execute(app.db.pool())
        .await
        .unwrap();

    let (status, body) = app
        .graphql(
            Some(&token),
            "query($id: ID!) { todo(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(code(&body), "internal");
    assert_eq!(body["errors"][0]["message"], "internal error");
    assert!(!body.to_string().contains("tag"), "{body}");
}

/// The security headers of a page a browser renders: a policy that allows only the app's
/// own scripts (no inline or remote ones) and connections, no sniffing, no referrer.
fn assert_browser_page_headers(headers: &reqwest::header::HeaderMap) {
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'self'",
        "script-src 'self';",
        "connect-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} not in {csp}");
    }
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_has_the_browser_page_headers() {
    let app = spawn_app().await;
    for path in ["/docs/", "/docs/swagger-ui.css"] {
        let page = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert_browser_page_headers(page.headers());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_and_its_assets_are_served_by_the_app() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(format!("{}/graphiql", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_browser_page_headers(page.headers());
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("https://") && !html.contains("http://"),
        "{html}"
    );
    for asset in [
        "/graphiql/graphiql.min.js",
        "/graphiql/graphiql.min.css",
        "/graphiql/react.production.min.js",
        "/graphiql/react-dom.production.min.js",
        "/graphiql/init.js",
    ] {
        assert!(html.contains(asset), "{asset} is not on the page");
        let response = app
            .client
            .get(format!("{}{asset}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        assert_browser_page_headers(response.headers());
        assert!(response.bytes().await.unwrap().len() > 100, "{asset}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_mb_query_is_refused_with_413_before_it_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = spawn_app().await;
    // A raw connection: announce 10 MB, send only the start, and read the answer.
    let mut socket = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{\"query\": \"{{ me",
        10 * 1024 * 1024
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), socket.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);

    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
}
