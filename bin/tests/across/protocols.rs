//! One table of scenarios, run through REST, GraphQL and gRPC against one server, asserting
//! the same outcome on each: the proof that the adapters are thin, and that a rule lives in
//! the use cases, once.
//!
//! A case is one line of the table: an operation and the outcome every protocol must give.
//! Each protocol says how it performs an operation once, in one match arm, so a new case over
//! an existing operation takes no protocol code at all, and a new operation one arm per
//! protocol.

use crate::support;

use driving_grpc::api::{
    self, todo_service_client::TodoServiceClient, user_service_client::UserServiceClient,
};
use reqwest::Method;
use serde_json::{Value, json};
use support::server::{TestApp, authed, spawn_app};
use tonic::{Status, transport::Channel};
use tonic_types::StatusExt;

/// Who calls.
#[derive(Debug, Clone, Copy)]
enum Caller {
    /// No token at all.
    Nobody,
    /// A token that is no session's.
    BadToken,
    /// A member who owns the todo.
    Ann,
    /// Another member.
    Bob,
    /// An administrator.
    Admin,
}

/// Which todo.
#[derive(Debug, Clone, Copy)]
enum Which {
    /// Ann's todo, at version 1.
    AnnsTodo,
    /// A well-formed id that names no todo.
    Missing,
}

/// An operation, in no protocol's terms.
#[derive(Debug, Clone, Copy)]
enum Op {
    Register {
        email: &'static str,
        password: &'static str,
    },
    LogIn {
        email: &'static str,
        password: &'static str,
    },
    Me(Caller),
    GetTodo(Caller, Which),
    CreateTodo {
        by: Caller,
        title: &'static str,
        tags: usize,
    },
    UpdateTitle {
        by: Caller,
        todo: Which,
        version: i64,
    },
    DeleteTodo {
        by: Caller,
        todo: Which,
        version: i64,
    },
    CompleteTodo(Caller, Which),
    AddTag(Caller, Which, &'static str),
    /// Ann's todos, `page_size` at a time, after `after_last` (past the end) or from the start.
    ListTodos {
        by: Caller,
        page_size: i32,
        after_last: bool,
    },
    /// Ann's todos after a cursor exactly as given (REST `cursor`, GraphQL `after`, gRPC
    /// `page_token`).
    ListTodosAfter {
        by: Caller,
        cursor: &'static str,
    },
    ListUsers(Caller),
}

use Caller::*;
use Op::*;
use Which::*;

const PASSWORD: &str = "password-123";

/// The table: the operation, and the outcome: `ok` (with the number of items, for a list), or
/// the code of the shared error vocabulary.
const CASES: &[(&str, Op, &str)] = &[
    (
        "a cursor in the hyphenated form, past every todo",
        ListTodosAfter {
            by: Ann,
            cursor: "01890a5d-ac96-774b-bcce-b302099a8057",
        },
        "ok, 0",
    ),
    (
        "a cursor in braces",
        ListTodosAfter {
            by: Ann,
            cursor: "{01890a5d-ac96-774b-bcce-b302099a8057}",
        },
        "validation_failed",
    ),
    (
        "a cursor without hyphens",
        ListTodosAfter {
            by: Ann,
            cursor: "01890a5dac96774bbcceb302099a8057",
        },
        "validation_failed",
    ),
    (
        "a cursor as a URN",
        ListTodosAfter {
            by: Ann,
            cursor: "urn:uuid:01890a5d-ac96-774b-bcce-b302099a8057",
        },
        "validation_failed",
    ),
    (
        "an email that is taken",
        Register {
            email: "ann@example.org",
            password: PASSWORD,
        },
        "email_taken",
    ),
    (
        "an email that is not one",
        Register {
            email: "not-an-email",
            password: PASSWORD,
        },
        "validation_failed",
    ),
    (
        "a password too short",
        Register {
            email: "new@example.org",
            password: "short",
        },
        "validation_failed",
    ),
    (
        "a wrong password",
        LogIn {
            email: "ann@example.org",
            password: "wrong-password",
        },
        "unauthenticated",
    ),
    (
        "an unknown email",
        LogIn {
            email: "nobody@example.org",
            password: PASSWORD,
        },
        "unauthenticated",
    ),
    ("no token", Me(Nobody), "unauthenticated"),
    ("a bad token", Me(BadToken), "unauthenticated"),
    ("a good token", Me(Ann), "ok"),
    (
        "no token, on a todo",
        GetTodo(Nobody, AnnsTodo),
        "unauthenticated",
    ),
    ("another user's todo", GetTodo(Bob, AnnsTodo), "not_found"),
    (
        "a todo that does not exist",
        GetTodo(Ann, Missing),
        "not_found",
    ),
    ("one's own todo", GetTodo(Ann, AnnsTodo), "ok"),
    (
        "a stale version",
        UpdateTitle {
            by: Ann,
            todo: AnnsTodo,
            version: 99,
        },
        "version_mismatch",
    ),
    (
        "an update of another user's todo",
        UpdateTitle {
            by: Bob,
            todo: AnnsTodo,
            version: 1,
        },
        "not_found",
    ),
    (
        "a delete at a stale version",
        DeleteTodo {
            by: Ann,
            todo: AnnsTodo,
            version: 5,
        },
        "version_mismatch",
    ),
    (
        "a delete of another user's todo",
        DeleteTodo {
            by: Bob,
            todo: AnnsTodo,
            version: 1,
        },
        "not_found",
    ),
    (
        "an invalid title",
        CreateTodo {
            by: Ann,
            title: "   ",
            tags: 0,
        },
        "validation_failed",
    ),
    (
        "too many tags",
        CreateTodo {
            by: Ann,
            title: "Tagged",
            tags: 21,
        },
        "validation_failed",
    ),
    (
        "a valid todo",
        CreateTodo {
            by: Bob,
            title: "Bob's",
            tags: 20,
        },
        "ok",
    ),
    (
        "completing another user's todo",
        CompleteTodo(Bob, AnnsTodo),
        "not_found",
    ),
    (
        "an invalid tag",
        AddTag(Ann, AnnsTodo, "no spaces"),
        "validation_failed",
    ),
    (
        "the user list asked for by a member",
        ListUsers(Ann),
        "forbidden",
    ),
    (
        "the user list asked for by an admin",
        ListUsers(Admin),
        "ok, 3",
    ),
    (
        "a page past the end",
        ListTodos {
            by: Ann,
            page_size: 10,
            after_last: true,
        },
        "ok, 0",
    ),
    (
        "a page too large",
        ListTodos {
            by: Ann,
            page_size: 101,
            after_last: false,
        },
        "validation_failed",
    ),
];

/// What every protocol's runner can use: the server, tokens made over REST (a session is
/// a session, whichever protocol uses it), and Ann's todo.
struct World {
    app: TestApp,
    ann: String,
    bob: String,
    admin: String,
    anns_todo: String,
    users: UserServiceClient<Channel>,
    todos: TodoServiceClient<Channel>,
}

const MISSING: &str = "01890a5d-ac96-774b-bcce-b302099a8057";

impl World {
    fn token(&self, caller: Caller) -> Option<String> {
        match caller {
            Nobody => None,
            BadToken => Some("not-a-session".into()),
            Ann => Some(self.ann.clone()),
            Bob => Some(self.bob.clone()),
            Admin => Some(self.admin.clone()),
        }
    }

    fn id(&self, which: Which) -> String {
        match which {
            AnnsTodo => self.anns_todo.clone(),
            Missing => MISSING.into(),
        }
    }
}

fn tags(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("tag-{i}")).collect()
}

/// REST: the outcome is `ok` for a 2xx, else the problem's `code`.
async fn rest(w: &World, op: Op) -> String {
    let (method, path, by, if_match, body): (Method, String, Caller, Option<i64>, Option<Value>) =
        match op {
            Register { email, password } => (
                Method::POST,
                "/v1/users".into(),
                Nobody,
                None,
                Some(json!({"email": email, "password": password, "display_name": "Table"})),
            ),
            LogIn { email, password } => (
                Method::POST,
                "/v1/sessions".into(),
                Nobody,
                None,
                Some(json!({"email": email, "password": password})),
            ),
            Me(by) => (Method::GET, "/v1/users/me".into(), by, None, None),
            GetTodo(by, t) => (
                Method::GET,
                format!("/v1/todos/{}", w.id(t)),
                by,
                None,
                None,
            ),
            CreateTodo { by, title, tags: n } => (
                Method::POST,
                "/v1/todos".into(),
                by,
                None,
                Some(json!({"title": title, "tags": tags(n)})),
            ),
            UpdateTitle { by, todo, version } => (
                Method::PATCH,
                format!("/v1/todos/{}", w.id(todo)),
                by,
                Some(version),
                Some(json!({"title": "Updated"})),
            ),
            DeleteTodo { by, todo, version } => (
                Method::DELETE,
                format!("/v1/todos/{}", w.id(todo)),
                by,
                Some(version),
                None,
            ),
            CompleteTodo(by, t) => (
                Method::POST,
                format!("/v1/todos/{}/complete", w.id(t)),
                by,
                None,
                None,
            ),
            AddTag(by, t, tag) => (
                Method::PUT,
                format!("/v1/todos/{}/tags/{}", w.id(t), tag.replace(' ', "%20")),
                by,
                None,
                None,
            ),
            ListTodos {
                by,
                page_size,
                after_last,
            } => (
                Method::GET,
                match after_last {
                    true => format!("/v1/todos?limit={page_size}&cursor={}", w.anns_todo),
                    false => format!("/v1/todos?limit={page_size}"),
                },
                by,
                None,
                None,
            ),
            ListTodosAfter { by, cursor } => (
                Method::GET,
                format!(
                    "/v1/todos?cursor={}",
                    cursor.replace('{', "%7B").replace('}', "%7D")
                ),
                by,
                None,
                None,
            ),
            ListUsers(by) => (Method::GET, "/v1/users".into(), by, None, None),
        };
    let etag = if_match.map(|v| format!("\"{v}\""));
    let headers: Vec<(&str, &str)> = etag.iter().map(|e| ("if-match", e.as_str())).collect();
    let (status, _, body) = w
        .app
        .json(method, &path, w.token(by).as_deref(), &headers, body)
        .await;
    if status.is_success() {
        match body["items"].as_array() {
            Some(items) => format!("ok, {}", items.len()),
            None => "ok".into(),
        }
    } else {
        body["code"].as_str().unwrap_or("(no code)").to_owned()
    }
}

/// GraphQL: the outcome is `ok` without errors, else the first error's `extensions.code`.
async fn graphql(w: &World, op: Op) -> String {
    let (query, variables, by) = match op {
        Register { email, password } => (
            "mutation($i: RegisterInput!) { register(input: $i) { id } }",
            json!({"i": {"email": email, "password": password, "displayName": "Table"}}),
            Nobody,
        ),
        LogIn { email, password } => (
            "mutation($e: String!, $p: String!) { logIn(email: $e, password: $p) { token } }",
            json!({"e": email, "p": password}),
            Nobody,
        ),
        Me(by) => ("{ me { id } }", json!({}), by),
        GetTodo(by, t) => (
            "query($id: ID!) { todo(id: $id) { id } }",
            json!({"id": w.id(t)}),
            by,
        ),
        CreateTodo { by, title, tags: n } => (
            "mutation($i: CreateTodoInput!) { createTodo(input: $i) { id } }",
            json!({"i": {"title": title, "tags": tags(n)}}),
            by,
        ),
        UpdateTitle { by, todo, version } => (
            "mutation($id: ID!, $v: Int!) { updateTodo(id: $id, expectedVersion: $v, input: {title: \"Updated\"}) { id } }",
            json!({"id": w.id(todo), "v": version}),
            by,
        ),
        DeleteTodo { by, todo, version } => (
            "mutation($id: ID!, $v: Int!) { deleteTodo(id: $id, expectedVersion: $v) }",
            json!({"id": w.id(todo), "v": version}),
            by,
        ),
        CompleteTodo(by, t) => (
            "mutation($id: ID!) { completeTodo(id: $id) { id } }",
            json!({"id": w.id(t)}),
            by,
        ),
        AddTag(by, t, tag) => (
            "mutation($id: ID!, $t: String!) { addTag(id: $id, tag: $t) { id } }",
            json!({"id": w.id(t), "t": tag}),
            by,
        ),
        ListTodos {
            by,
            page_size,
            after_last,
        } => (
            "query($n: Int, $a: String) { todos(first: $n, after: $a) { edges { cursor } } }",
            json!({"n": page_size, "a": after_last.then(|| w.anns_todo.clone())}),
            by,
        ),
        ListTodosAfter { by, cursor } => (
            "query($a: String) { todos(after: $a) { edges { cursor } } }",
            json!({"a": cursor}),
            by,
        ),
        ListUsers(by) => ("{ users { edges { cursor } } }", json!({}), by),
    };
    let (_, body) = w
        .app
        .graphql(w.token(by).as_deref(), query, variables)
        .await;
    if let Some(error) = body["errors"].get(0) {
        return error["extensions"]["code"]
            .as_str()
            .unwrap_or("(no code)")
            .to_owned();
    }
    let data = &body["data"];
    match data["todos"]["edges"]
        .as_array()
        .or(data["users"]["edges"].as_array())
    {
        Some(edges) => format!("ok, {}", edges.len()),
        None => "ok".into(),
    }
}

/// gRPC: the outcome is `ok` for OK, else the ErrorInfo's reason.
async fn grpc(w: &World, op: Op) -> String {
    fn call<T>(w: &World, by: Caller, message: T) -> tonic::Request<T> {
        match w.token(by) {
            Some(token) => authed(message, &token),
            None => tonic::Request::new(message),
        }
    }
    let name = |t: Which| format!("todos/{}", w.id(t));
    let (mut users, mut todos) = (w.users.clone(), w.todos.clone());
    let outcome: Result<Option<usize>, Status> = match op {
        Register { email, password } => users
            .register(api::RegisterRequest {
                email: email.into(),
                password: password.into(),
                display_name: "Table".into(),
            })
            .await
            .map(|_| None),
        LogIn { email, password } => users
            .log_in(api::LogInRequest {
                email: email.into(),
                password: password.into(),
            })
            .await
            .map(|_| None),
        Me(by) => users
            .get_me(call(w, by, api::GetMeRequest {}))
            .await
            .map(|_| None),
        GetTodo(by, t) => todos
            .get_todo(call(w, by, api::GetTodoRequest { name: name(t) }))
            .await
            .map(|_| None),
        CreateTodo { by, title, tags: n } => {
            let todo = api::Todo {
                title: title.into(),
                tags: tags(n),
                ..Default::default()
            };
            todos
                .create_todo(call(
                    w,
                    by,
                    api::CreateTodoRequest {
                        todo: Some(todo),
                        ..Default::default()
                    },
                ))
                .await
                .map(|_| None)
        }
        UpdateTitle { by, todo, version } => {
            let todo = api::Todo {
                name: name(todo),
                etag: version.to_string(),
                title: "Updated".into(),
                ..Default::default()
            };
            let request = api::UpdateTodoRequest {
                todo: Some(todo),
                update_mask: None,
                ..Default::default()
            };
            todos.update_todo(call(w, by, request)).await.map(|_| None)
        }
        DeleteTodo { by, todo, version } => {
            let request = api::DeleteTodoRequest {
                name: name(todo),
                etag: version.to_string(),
                ..Default::default()
            };
            todos.delete_todo(call(w, by, request)).await.map(|_| None)
        }
        CompleteTodo(by, t) => todos
            .complete_todo(call(w, by, api::CompleteTodoRequest { name: name(t) }))
            .await
            .map(|_| None),
        AddTag(by, t, tag) => {
            let request = api::AddTagRequest {
                name: name(t),
                tag: tag.into(),
            };
            todos.add_tag(call(w, by, request)).await.map(|_| None)
        }
        ListTodos {
            by,
            page_size,
            after_last,
        } => {
            let request = api::ListTodosRequest {
                page_size,
                page_token: if after_last {
                    w.anns_todo.clone()
                } else {
                    String::new()
                },
                ..Default::default()
            };
            todos
                .list_todos(call(w, by, request))
                .await
                .map(|r| Some(r.into_inner().todos.len()))
        }
        ListTodosAfter { by, cursor } => {
            let request = api::ListTodosRequest {
                page_token: cursor.into(),
                ..Default::default()
            };
            todos
                .list_todos(call(w, by, request))
                .await
                .map(|r| Some(r.into_inner().todos.len()))
        }
        ListUsers(by) => users
            .list_users(call(w, by, api::ListUsersRequest::default()))
            .await
            .map(|r| Some(r.into_inner().users.len())),
    };
    match outcome {
        Ok(Some(n)) => format!("ok, {n}"),
        Ok(None) => "ok".into(),
        Err(status) => status
            .get_error_details()
            .error_info()
            .map_or_else(|| format!("(no reason: {status:?})"), |i| i.reason.clone()),
    }
}

/// A version has one text form on the protocols that carry it as text: REST's `If-Match`
/// and gRPC's `etag` (GraphQL's is an `Int`, which GraphQL itself parses).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_in_another_text_form_is_refused_on_rest_and_grpc_alike() {
    let app = spawn_app().await;
    let token = app.user("vic@example.org").await;
    let id = app.todo(&token, "Versioned").await;
    let mut todos = TodoServiceClient::new(app.grpc().await);
    for text in ["+1", "01", " 1", "1.0", "0x1"] {
        let (status, _, body) = app
            .json(
                Method::PATCH,
                &format!("/v1/todos/{id}"),
                Some(&token),
                &[("if-match", &format!("\"{text}\""))],
                Some(json!({"title": "Renamed"})),
            )
            .await;
        assert_eq!(
            (status.as_u16(), body["code"].as_str()),
            (400, Some("malformed_request")),
            "REST {text:?}"
        );
        let request = api::UpdateTodoRequest {
            todo: Some(api::Todo {
                name: format!("todos/{id}"),
                etag: text.into(),
                title: "Renamed".into(),
                ..Default::default()
            }),
            update_mask: None,
            ..Default::default()
        };
        let status = todos
            .update_todo(authed(request, &token))
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "gRPC {text:?}");
    }
    // The one form works on both.
    let request = api::UpdateTodoRequest {
        todo: Some(api::Todo {
            name: format!("todos/{id}"),
            etag: "1".into(),
            title: "Renamed".into(),
            ..Default::default()
        }),
        update_mask: None,
        ..Default::default()
    };
    assert_eq!(
        todos
            .update_todo(authed(request, &token))
            .await
            .unwrap()
            .into_inner()
            .etag,
        "2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_has_the_same_outcome_on_every_protocol() {
    assert!(CASES.len() >= 15);
    let app = spawn_app().await;
    let ann = app.user("ann@example.org").await;
    let bob = app.user("bob@example.org").await;
    let admin = app.admin("root@example.org").await;
    let anns_todo = app.todo(&ann, "Ann's only todo").await;
    let channel = app.grpc().await;
    let world = World {
        ann,
        bob,
        admin,
        anns_todo,
        users: UserServiceClient::new(channel.clone()),
        todos: TodoServiceClient::new(channel),
        app,
    };

    let mut mismatches = Vec::new();
    for (name, op, expected) in CASES {
        let outcomes = [
            ("REST", rest(&world, *op).await),
            ("GraphQL", graphql(&world, *op).await),
            ("gRPC", grpc(&world, *op).await),
        ];
        for (protocol, outcome) in outcomes {
            if outcome != *expected {
                mismatches.push(format!(
                    "{name} ({op:?}) over {protocol}: expected {expected}, got {outcome}"
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} outcomes differ:\n{}",
        mismatches.len(),
        CASES.len() * 3,
        mismatches.join("\n")
    );
}
