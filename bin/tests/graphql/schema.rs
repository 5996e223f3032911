//! GraphQL schema tests: every operation, its success and each of its error codes, through
//! `Schema::execute` on the in-memory wiring (no HTTP, no sockets). The HTTP semantics and
//! the real backends are in `graphql_e2e.rs`.

use crate::support;

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use application::{Ports, Settings, UseCases, users::Registration};
use async_trait::async_trait;
use backend::{Application, server::graphql_settings};
use domain::{
    error::{InfraError, RepositoryError},
    ports::{TodoQuery, TodoRepository},
    todo::{DueDate, Todo, TodoId, TodoStatus, Version},
    user::{DisplayName, Email, Password, Role, UserId},
};
use driving_graphql::{GraphqlSchema, GraphqlSettings, build_schema, with_caller};
use serde_json::{Value, json};
use support::config;

/// A schema over some use cases, and a way to call it as a given caller.
struct Gql {
    schema: GraphqlSchema,
    use_cases: Arc<UseCases>,
}

impl Gql {
    async fn in_memory() -> Self {
        Self::with(&[]).await
    }

    async fn with(vars: &[(&str, &str)]) -> Self {
        let config = config(vars);
        let app = Application::build(&config).await.unwrap();
        let schema = build_schema(app.use_cases.clone(), &graphql_settings(&config));
        Self {
            schema,
            use_cases: app.use_cases,
        }
    }

    async fn run(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables));
        let authorization = token.map(|t| format!("Bearer {t}"));
        let request = with_caller(request, authorization.as_deref(), &self.use_cases).await;
        serde_json::to_value(self.schema.execute(request).await).unwrap()
    }

    /// The data of a query that must succeed.
    async fn data(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let response = self.run(token, query, variables).await;
        assert!(response.get("errors").is_none(), "{response}");
        response["data"].clone()
    }

    /// The first error of a query that must fail.
    async fn error(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let response = self.run(token, query, variables).await;
        response["errors"][0].clone()
    }

    async fn code(&self, token: Option<&str>, query: &str, variables: Value) -> String {
        let error = self.error(token, query, variables).await;
        error["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no code: {error}"))
            .to_owned()
    }

    /// Registers `email` and logs in; the token.
    async fn user(&self, email: &str) -> String {
        self.data(
            None,
            "mutation($i: RegisterInput!) { register(input: $i) { id } }",
            json!({"i": {"email": email, "password": "password-123", "displayName": "Tester"}}),
        )
        .await;
        self.log_in(email).await
    }

    async fn log_in(&self, email: &str) -> String {
        let data = self
            .data(
                None,
                "mutation($e: String!, $p: String!) { logIn(email: $e, password: $p) { token } }",
                json!({"e": email, "p": "password-123"}),
            )
            .await;
        data["logIn"]["token"].as_str().unwrap().to_owned()
    }

    async fn admin(&self, email: &str) -> String {
        self.use_cases
            .register
            .create_with_role(
                Registration {
                    email: Email::parse(email).unwrap(),
                    display_name: DisplayName::new("Admin").unwrap(),
                    password: Password::new("password-123".into()).unwrap(),
                },
                Role::Admin,
            )
            .await
            .unwrap();
        self.log_in(email).await
    }

    /// Creates a todo; its id.
    async fn todo(&self, token: &str, input: Value) -> String {
        let data = self
            .data(
                Some(token),
                "mutation($i: CreateTodoInput!) { createTodo(input: $i) { id } }",
                json!({ "i": input }),
            )
            .await;
        data["createTodo"]["id"].as_str().unwrap().to_owned()
    }
}

const NO_TODO: &str = "0190b5d2-0000-7000-8000-000000000000";

#[tokio::test]
async fn register_log_in_me_and_log_out() {
    let gql = Gql::in_memory().await;
    let registered = gql
        .data(
            None,
            "mutation { register(input: {email: \" Ann@Example.org \", password: \"password-123\", displayName: \"Ann\"}) { id email displayName role createdAt } }",
            json!({}),
        )
        .await;
    assert_eq!(registered["register"]["email"], "ann@example.org");
    assert_eq!(registered["register"]["role"], "MEMBER");

    let token = gql.log_in("ann@example.org").await;
    let me = gql
        .data(Some(&token), "{ me { id email } }", json!({}))
        .await;
    assert_eq!(me["me"]["id"], registered["register"]["id"]);

    let out = gql
        .data(Some(&token), "mutation { logOut }", json!({}))
        .await;
    assert_eq!(out["logOut"], true);
    assert_eq!(
        gql.code(Some(&token), "{ me { id } }", json!({})).await,
        "unauthenticated"
    );
}

#[tokio::test]
async fn registration_and_login_errors_use_the_shared_codes() {
    let gql = Gql::in_memory().await;
    let invalid = gql
        .error(
            None,
            "mutation { register(input: {email: \"nope\", password: \"short\", displayName: \" \"}) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(invalid["extensions"]["code"], "validation_failed");
    let fields: Vec<&str> = invalid["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "password", "displayName"]);

    gql.user("ann@example.org").await;
    let taken = gql
        .code(
            None,
            "mutation { register(input: {email: \"ANN@example.org\", password: \"password-123\", displayName: \"Ann\"}) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(taken, "email_taken");

    for (email, password) in [
        ("ann@example.org", "wrong-password"),
        ("nobody@example.org", "password-123"),
        ("not an email", "x"),
    ] {
        let code = gql
            .code(
                None,
                "mutation($e: String!, $p: String!) { logIn(email: $e, password: $p) { token } }",
                json!({"e": email, "p": password}),
            )
            .await;
        assert_eq!(code, "unauthenticated", "{email}");
    }
}

#[tokio::test]
async fn fields_that_need_a_user_refuse_no_token_and_bad_tokens() {
    let gql = Gql::in_memory().await;
    let queries = [
        "{ me { id } }",
        "{ todos { edges { cursor } } }",
        "{ users { edges { cursor } } }",
        &format!("{{ todo(id: \"{NO_TODO}\") {{ id }} }}"),
        "mutation { logOut }",
        "mutation { createTodo(input: {title: \"x\"}) { id } }",
    ];
    for query in queries {
        for token in [None, Some("not-a-token"), Some(&*"A".repeat(43))] {
            assert_eq!(
                gql.code(token, query, json!({})).await,
                "unauthenticated",
                "{query} with {token:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_todo_goes_through_its_whole_life() {
    let gql = Gql::in_memory().await;
    let token = gql.user("ann@example.org").await;
    let created = gql
        .data(
            Some(&token),
            "mutation { createTodo(input: {title: \"Plan\", description: \"two\\nlines\", dueDate: \"2027-01-15\", tags: [\"Travel\"]}) { id title description dueDate tags status version completedAt } }",
            json!({}),
        )
        .await["createTodo"]
        .clone();
    assert_eq!(
        (
            &created["title"],
            &created["dueDate"],
            &created["tags"],
            &created["status"],
            &created["version"]
        ),
        (
            &json!("Plan"),
            &json!("2027-01-15"),
            &json!(["travel"]),
            &json!("OPEN"),
            &json!(1)
        )
    );
    let id = created["id"].as_str().unwrap();
    let vars = json!({"id": id});

    let read = gql
        .data(
            Some(&token),
            "query($id: ID!) { todo(id: $id) { title version } }",
            vars.clone(),
        )
        .await;
    assert_eq!(read["todo"]["version"], 1);

    let updated = gql
        .data(
            Some(&token),
            "mutation($id: ID!) { updateTodo(id: $id, expectedVersion: 1, input: {title: \"Plan the trip\", description: null}) { title description version } }",
            vars.clone(),
        )
        .await;
    assert_eq!(
        updated["updateTodo"],
        json!({"title": "Plan the trip", "description": null, "version": 2})
    );
    let done = gql
        .data(
            Some(&token),
            "mutation($id: ID!) { completeTodo(id: $id) { status completedAt version } }",
            vars.clone(),
        )
        .await;
    assert_eq!(done["completeTodo"]["status"], "DONE");
    assert!(done["completeTodo"]["completedAt"].is_string());
    let reopened = gql
        .data(
            Some(&token),
            "mutation($id: ID!) { reopenTodo(id: $id) { status version } }",
            vars.clone(),
        )
        .await;
    assert_eq!(
        reopened["reopenTodo"],
        json!({"status": "OPEN", "version": 4})
    );
    let tagged = gql
        .data(
            Some(&token),
            "mutation($id: ID!) { addTag(id: $id, tag: \"booked\") { tags } }",
            vars.clone(),
        )
        .await;
    assert_eq!(tagged["addTag"]["tags"], json!(["booked", "travel"]));
    let untagged = gql
        .data(
            Some(&token),
            "mutation($id: ID!) { removeTag(id: $id, tag: \"travel\") { tags version } }",
            vars.clone(),
        )
        .await;
    assert_eq!(
        untagged["removeTag"],
        json!({"tags": ["booked"], "version": 6})
    );

    let deleted = gql
        .data(
            Some(&token),
            "mutation($id: ID!) { deleteTodo(id: $id, expectedVersion: 6) }",
            vars.clone(),
        )
        .await;
    assert_eq!(deleted["deleteTodo"], id);
    assert_eq!(
        gql.code(
            Some(&token),
            "query($id: ID!) { todo(id: $id) { id } }",
            vars
        )
        .await,
        "not_found"
    );
}

#[tokio::test]
async fn stale_versions_are_version_mismatch_with_the_current_version() {
    let gql = Gql::in_memory().await;
    let token = gql.user("ann@example.org").await;
    let id = gql.todo(&token, json!({"title": "Contested"})).await;
    let vars = json!({"id": id});
    gql.data(
        Some(&token),
        "mutation($id: ID!) { completeTodo(id: $id) { id } }",
        vars.clone(),
    )
    .await;

    for mutation in [
        "mutation($id: ID!) { updateTodo(id: $id, expectedVersion: 1, input: {title: \"late\"}) { id } }",
        "mutation($id: ID!) { deleteTodo(id: $id, expectedVersion: 1) }",
    ] {
        let error = gql.error(Some(&token), mutation, vars.clone()).await;
        assert_eq!(
            error["extensions"]["code"], "version_mismatch",
            "{mutation}"
        );
        assert_eq!(error["extensions"]["currentVersion"], 2, "{mutation}");
    }
    let error = gql
        .error(
            Some(&token),
            "mutation($id: ID!) { updateTodo(id: $id, expectedVersion: 0, input: {}) { id } }",
            vars,
        )
        .await;
    assert_eq!(error["extensions"]["code"], "validation_failed");
    assert_eq!(error["extensions"]["fields"][0]["field"], "expectedVersion");
}

#[tokio::test]
async fn invalid_todo_input_lists_every_field() {
    let gql = Gql::in_memory().await;
    let token = gql.user("ann@example.org").await;
    let error = gql
        .error(
            Some(&token),
            "mutation($i: CreateTodoInput!) { createTodo(input: $i) { id } }",
            json!({"i": {"title": " ", "description": " ", "dueDate": "-5000-01-01", "tags": ["ok", "bad tag"]}}),
        )
        .await;
    assert_eq!(error["extensions"]["code"], "validation_failed");
    let fields: Vec<&str> = error["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["title", "description", "dueDate", "tags[1]"]);

    let flood: Vec<String> = (0..30).map(|i| format!("t{i}")).collect();
    let error = gql
        .error(
            Some(&token),
            "mutation($i: CreateTodoInput!) { createTodo(input: $i) { id } }",
            json!({"i": {"title": "Flood", "tags": flood}}),
        )
        .await;
    assert_eq!(
        error["extensions"]["fields"],
        json!([{"field": "tags", "message": "a todo can have at most 20 tags"}])
    );

    let id = gql
        .todo(
            &token,
            json!({"title": "Full", "tags": (0..20).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
        )
        .await;
    let error = gql
        .error(
            Some(&token),
            "mutation($id: ID!) { addTag(id: $id, tag: \"one-more\") { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        (
            &error["extensions"]["code"],
            &error["extensions"]["fields"][0]["field"]
        ),
        (&json!("validation_failed"), &json!("tag"))
    );
    let error = gql
        .error(
            Some(&token),
            "mutation($id: ID!) { addTag(id: $id, tag: \"Not A Tag\") { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(error["extensions"]["code"], "validation_failed");

    // A todo always has a title: `null` is invalid, as on REST, not "leave it as it is".
    let error = gql
        .error(
            Some(&token),
            "mutation($id: ID!) { updateTodo(id: $id, expectedVersion: 1, input: {title: null}) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        error["extensions"]["fields"],
        json!([{"field": "title", "message": "must not be null: leave it out to keep the title"}])
    );
}

#[tokio::test]
async fn someone_elses_todo_is_not_found_on_every_operation() {
    let gql = Gql::in_memory().await;
    let ann = gql.user("ann@example.org").await;
    let bob = gql.user("bob@example.org").await;
    let id = gql.todo(&ann, json!({"title": "Ann's secret"})).await;

    let operations = [
        "query($id: ID!) { todo(id: $id) { id } }",
        "mutation($id: ID!) { updateTodo(id: $id, expectedVersion: 1, input: {title: \"mine\"}) { id } }",
        "mutation($id: ID!) { completeTodo(id: $id) { id } }",
        "mutation($id: ID!) { reopenTodo(id: $id) { id } }",
        "mutation($id: ID!) { addTag(id: $id, tag: \"x\") { id } }",
        "mutation($id: ID!) { removeTag(id: $id, tag: \"x\") { id } }",
        "mutation($id: ID!) { deleteTodo(id: $id, expectedVersion: 1) }",
    ];
    for operation in operations {
        for target in [id.as_str(), NO_TODO, "not-a-uuid"] {
            assert_eq!(
                gql.code(Some(&bob), operation, json!({"id": target})).await,
                "not_found",
                "{operation} on {target}"
            );
        }
    }
    let bobs = gql
        .data(Some(&bob), "{ todos { edges { cursor } } }", json!({}))
        .await;
    assert_eq!(bobs["todos"]["edges"], json!([]));
    let mine = gql
        .data(
            Some(&ann),
            "query($id: ID!) { todo(id: $id) { title version } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(mine["todo"], json!({"title": "Ann's secret", "version": 1}));
}

#[tokio::test]
async fn todos_page_newest_first_and_filter_like_rest() {
    let gql = Gql::in_memory().await;
    let token = gql.user("ann@example.org").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let tags = if i % 2 == 0 {
            json!(["even"])
        } else {
            json!([])
        };
        ids.push(
            gql.todo(&token, json!({"title": format!("todo {i}"), "tags": tags}))
                .await,
        );
    }
    gql.data(
        Some(&token),
        "mutation($id: ID!) { completeTodo(id: $id) { id } }",
        json!({"id": ids[0]}),
    )
    .await;

    let query = "query($after: String) { todos(first: 2, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = gql.data(Some(&token), query, json!({"after": after})).await["todos"].clone();
        for edge in page["edges"].as_array().unwrap() {
            assert_eq!(
                edge["cursor"], edge["node"]["id"],
                "a cursor is the todo's id"
            );
            seen.push(edge["node"]["id"].as_str().unwrap().to_owned());
        }
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);

    let filtered = gql
        .data(
            Some(&token),
            "{ todos(status: OPEN, tag: \"even\") { edges { node { title } } } }",
            json!({}),
        )
        .await;
    let titles: Vec<&str> = filtered["todos"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["todo 4", "todo 2"]);

    for (args, field) in [
        ("first: 101", "first"),
        ("first: 0", "first"),
        ("first: -1", "first"),
        ("after: \"garbage\"", "after"),
        ("tag: \"Not A Tag\"", "tag"),
    ] {
        let error = gql
            .error(
                Some(&token),
                &format!("{{ todos({args}) {{ edges {{ cursor }} }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(error["extensions"]["code"], "validation_failed", "{args}");
        assert_eq!(error["extensions"]["fields"][0]["field"], field, "{args}");
    }
}

#[tokio::test]
async fn only_admins_list_users_and_their_todo_counts() {
    let gql = Gql::in_memory().await;
    let member = gql.user("ann@example.org").await;
    gql.todo(&member, json!({"title": "one"})).await;
    let admin = gql.admin("root@example.org").await;

    assert_eq!(
        gql.code(Some(&member), "{ users { edges { cursor } } }", json!({}))
            .await,
        "forbidden"
    );
    let listed = gql
        .data(
            Some(&admin),
            "{ users(first: 10) { edges { node { email role todoCount open: todoCount(status: OPEN) done: todoCount(status: DONE) } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["users"]["edges"],
        json!([
            {"node": {"email": "root@example.org", "role": "ADMIN", "todoCount": 0, "open": 0, "done": 0}},
            {"node": {"email": "ann@example.org", "role": "MEMBER", "todoCount": 1, "open": 1, "done": 0}},
        ])
    );
    let mine = gql
        .data(Some(&member), "{ me { todoCount } }", json!({}))
        .await;
    assert_eq!(mine["me"]["todoCount"], 1);
}

#[tokio::test]
async fn depth_complexity_and_introspection_limits_are_clear_errors() {
    let gql = Gql::with(&[
        ("GRAPHQL_MAX_DEPTH", "3"),
        ("GRAPHQL_INTROSPECTION", "false"),
    ])
    .await;
    let token = gql.user("ann@example.org").await;
    let deep = gql
        .error(
            Some(&token),
            "{ todos { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(deep["extensions"]["code"], "query_too_deep", "{deep}");
    assert!(
        deep["message"].as_str().unwrap().contains("too deep"),
        "{deep}"
    );
    let introspection = gql
        .error(Some(&token), "{ __schema { types { name } } }", json!({}))
        .await;
    assert_eq!(
        introspection["extensions"]["code"], "introspection_disabled",
        "{introspection}"
    );

    let gql = Gql::in_memory().await;
    let token = gql.user("bob@example.org").await;
    // Each `todos(first: 100)` costs 100 edges × 12 fields = 1200; three of them are past
    // the default limit of 2500.
    let fields = "id title description tags dueDate status completedAt version createdAt updatedAt";
    let query = format!(
        "{{ a: todos(first: 100) {{ edges {{ node {{ {fields} }} }} }} b: todos(first: 100) {{ edges {{ node {{ {fields} }} }} }} c: todos(first: 100) {{ edges {{ node {{ {fields} }} }} }} }}"
    );
    let complex = gql.error(Some(&token), &query, json!({})).await;
    assert_eq!(
        complex["extensions"]["code"], "query_too_complex",
        "{complex}"
    );
    let introspection = gql
        .data(
            Some(&token),
            "{ __schema { queryType { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(introspection["__schema"]["queryType"]["name"], "Query");
}

/// A todo repository that counts the batched calls it gets, around the in-memory one.
struct CountingTodos {
    inner: Arc<dyn TodoRepository>,
    count_calls: AtomicUsize,
    owners_counted: AtomicUsize,
}

#[async_trait]
impl TodoRepository for CountingTodos {
    async fn insert(&self, todo: &Todo) -> Result<(), RepositoryError> {
        self.inner.insert(todo).await
    }
    async fn get(&self, id: TodoId) -> Result<Option<Todo>, InfraError> {
        self.inner.get(id).await
    }
    async fn update(&self, todo: &Todo, expected: Version) -> Result<(), RepositoryError> {
        self.inner.update(todo, expected).await
    }
    async fn delete(&self, id: TodoId, expected: Version) -> Result<(), RepositoryError> {
        self.inner.delete(id, expected).await
    }
    async fn list(&self, query: &TodoQuery) -> Result<Vec<Todo>, InfraError> {
        self.inner.list(query).await
    }
    async fn open_due_between(
        &self,
        first: DueDate,
        last: DueDate,
        after: Option<TodoId>,
        limit: u32,
    ) -> Result<Vec<Todo>, InfraError> {
        self.inner.open_due_between(first, last, after, limit).await
    }
    async fn count_by_owner(
        &self,
        owners: &[UserId],
        status: Option<TodoStatus>,
    ) -> Result<HashMap<UserId, u64>, InfraError> {
        self.count_calls.fetch_add(1, Ordering::SeqCst);
        self.owners_counted
            .fetch_add(owners.len(), Ordering::SeqCst);
        self.inner.count_by_owner(owners, status).await
    }
}

#[tokio::test]
async fn a_page_of_20_users_counts_their_todos_in_exactly_one_batched_call() {
    let app = Application::build(&config(&[])).await.unwrap();
    let store = driven_memory::MemoryStore::new();
    let counting = Arc::new(CountingTodos {
        inner: Arc::new(store.todos()),
        count_calls: AtomicUsize::new(0),
        owners_counted: AtomicUsize::new(0),
    });
    let ports = Ports {
        users: Arc::new(store.users()),
        todos: counting.clone(),
        unit_of_work: Arc::new(store.unit_of_work()),
        idempotency: Arc::new(store.idempotency()),
        sessions: Arc::new(driven_memory::MemorySessionStore::new(Arc::new(
            driven_system::clock::SystemClock,
        ))),
        todo_cache: Arc::new(driven_memory::NoTodoCache),
        hasher: Arc::new(driven_system::password::Argon2Hasher::new(Default::default()).unwrap()),
        clock: Arc::new(driven_system::clock::SystemClock),
        ticker: Arc::new(driven_system::clock::SystemClock),
        ids: Arc::new(driven_system::ids::UuidV7Generator),
        tokens: Arc::new(driven_system::tokens::RandomTokenGenerator),
        rate_limiter: Arc::new(driven_memory::MemoryRateLimiter::new()),
        events: Arc::new(driven_memory::MemoryEventBus::new(16, 16)),
        probes: Vec::new(),
    };
    drop(app);
    let use_cases = Arc::new(UseCases::new(ports, Settings::default()));
    let gql = Gql {
        schema: build_schema(use_cases.clone(), &GraphqlSettings::default()),
        use_cases,
    };
    for i in 0..25 {
        let token = gql.user(&format!("user{i}@example.org")).await;
        gql.todo(&token, json!({"title": "one"})).await;
    }
    let admin = gql.admin("root@example.org").await;

    let page = gql
        .data(
            Some(&admin),
            "{ users(first: 20) { edges { node { email todoCount } } } }",
            json!({}),
        )
        .await;

    let edges = page["users"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 20);
    assert_eq!(
        edges.iter().filter(|e| e["node"]["todoCount"] == 1).count(),
        19,
        "19 users with a todo, and the admin with none: {page}"
    );
    assert_eq!(counting.count_calls.load(Ordering::SeqCst), 1);
    assert_eq!(counting.owners_counted.load(Ordering::SeqCst), 20);
}
