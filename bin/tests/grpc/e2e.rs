//! End to end over gRPC: a tonic client against the real server on an ephemeral port, over
//! Postgres and Redis, on the same port as REST and GraphQL.

use crate::support;

use std::time::Duration;

use driving_grpc::{
    api::{self, todo_service_client::TodoServiceClient, user_service_client::UserServiceClient},
    status::{CURRENT_VERSION, ERROR_DOMAIN},
};
use prost_types::FieldMask;
use support::server::{TestApp, authed, spawn_app, spawn_app_behind_a_proxy, spawn_app_with};
use tonic::{Code, Status, transport::Channel};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_types::StatusExt;

const PASSWORD: &str = "password-123";

/// The ErrorInfo reason of `status`, after checking it has one, from this service.
fn reason(status: &Status) -> String {
    let details = status.get_error_details();
    let info = details
        .error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo on {status:?}"));
    assert_eq!(info.domain, ERROR_DOMAIN);
    info.reason.clone()
}

/// Asserts `result` failed with `code` and `expected` as the reason.
#[track_caller]
fn assert_status<T: std::fmt::Debug>(
    result: Result<T, Status>,
    code: Code,
    expected: &str,
) -> Status {
    let status = result.expect_err("the call should fail");
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(reason(&status), expected, "{status:?}");
    status
}

struct Clients {
    users: UserServiceClient<Channel>,
    todos: TodoServiceClient<Channel>,
}

async fn clients(app: &TestApp) -> Clients {
    let channel = app.grpc().await;
    Clients {
        users: UserServiceClient::new(channel.clone()),
        todos: TodoServiceClient::new(channel),
    }
}

impl Clients {
    /// Registers `email` and logs in over gRPC: the token.
    async fn user(&mut self, email: &str) -> String {
        self.users
            .register(api::RegisterRequest {
                email: email.into(),
                password: PASSWORD.into(),
                display_name: "Grpc".into(),
            })
            .await
            .unwrap();
        self.log_in(email).await
    }

    async fn log_in(&mut self, email: &str) -> String {
        self.users
            .log_in(api::LogInRequest {
                email: email.into(),
                password: PASSWORD.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .token
    }

    async fn create(&mut self, token: &str, title: &str) -> api::Todo {
        self.todos
            .create_todo(authed(
                api::CreateTodoRequest {
                    todo: Some(api::Todo {
                        title: title.into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
    }
}

fn named(name: &str) -> api::GetTodoRequest {
    api::GetTodoRequest { name: name.into() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_works_end_to_end() {
    let app = spawn_app().await;
    let mut c = clients(&app).await;

    let user = c
        .users
        .register(api::RegisterRequest {
            email: "Ann@Example.org".into(),
            password: PASSWORD.into(),
            display_name: "Ann".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(user.name.starts_with("users/"));
    assert_eq!(user.email, "ann@example.org");
    assert_eq!(user.role(), api::Role::Member);
    let session = c
        .users
        .log_in(api::LogInRequest {
            email: "ann@example.org".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let token = session.token.clone();
    assert!(session.expire_time.is_some());
    assert_eq!(session.user.unwrap().name, user.name);
    let me = c
        .users
        .get_me(authed(api::GetMeRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.name, user.name);

    // Create, get, list.
    let created = c
        .todos
        .create_todo(authed(
            api::CreateTodoRequest {
                todo: Some(api::Todo {
                    title: "  Write the gRPC adapter ".into(),
                    description: "Over the same use cases".into(),
                    tags: vec!["Work".into(), "rust".into()],
                    due_date: "2026-12-24".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(created.name.starts_with("todos/"));
    assert_eq!(created.title, "Write the gRPC adapter");
    assert_eq!(created.tags, ["rust", "work"]);
    assert_eq!(created.due_date, "2026-12-24");
    assert_eq!(created.status(), api::TodoStatus::Open);
    assert_eq!(created.etag, "1");
    assert!(created.complete_time.is_none());
    let got = c
        .todos
        .get_todo(authed(named(&created.name), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, created);
    for n in 0..2 {
        c.create(&token, &format!("More {n}")).await;
    }
    let first = c
        .todos
        .list_todos(authed(
            api::ListTodosRequest {
                page_size: 2,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.todos.len(), 2);
    assert_eq!(first.todos[0].title, "More 1", "newest first");
    assert!(!first.next_page_token.is_empty());
    let second = c
        .todos
        .list_todos(authed(
            api::ListTodosRequest {
                page_size: 2,
                page_token: first.next_page_token.clone(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.todos.len(), 1);
    assert_eq!(second.todos[0].name, created.name);
    assert!(second.next_page_token.is_empty(), "the last page");

    // Update through a mask: the title changes, the description is cleared, the due date
    // is left alone because the mask does not name it.
    let updated = c
        .todos
        .update_todo(authed(
            api::UpdateTodoRequest {
                todo: Some(api::Todo {
                    name: created.name.clone(),
                    etag: created.etag.clone(),
                    title: "Ship the gRPC adapter".into(),
                    description: String::new(),
                    due_date: "2000-01-01".into(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["title".into(), "description".into()],
                }),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.title, "Ship the gRPC adapter");
    assert_eq!(updated.description, "");
    assert_eq!(updated.due_date, "2026-12-24");
    assert_eq!(updated.etag, "2");

    // The custom methods.
    let done = c
        .todos
        .complete_todo(authed(
            api::CompleteTodoRequest {
                name: created.name.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.status(), api::TodoStatus::Done);
    assert!(done.complete_time.is_some());
    let done_only = c
        .todos
        .list_todos(authed(
            api::ListTodosRequest {
                status: api::TodoStatus::Done.into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done_only.todos.len(), 1);
    let reopened = c
        .todos
        .reopen_todo(authed(
            api::ReopenTodoRequest {
                name: created.name.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reopened.status(), api::TodoStatus::Open);
    assert!(reopened.complete_time.is_none());
    let tagged = c
        .todos
        .add_tag(authed(
            api::AddTagRequest {
                name: created.name.clone(),
                tag: "Urgent".into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tagged.tags, ["rust", "urgent", "work"]);
    let by_tag = c
        .todos
        .list_todos(authed(
            api::ListTodosRequest {
                tag: "urgent".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_tag.todos.len(), 1);
    let untagged = c
        .todos
        .remove_tag(authed(
            api::RemoveTagRequest {
                name: created.name.clone(),
                tag: "rust".into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(untagged.tags, ["urgent", "work"]);

    // Delete at the current etag; then it is gone.
    c.todos
        .delete_todo(authed(
            api::DeleteTodoRequest {
                name: created.name.clone(),
                etag: untagged.etag.clone(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap();
    assert_status(
        c.todos.get_todo(authed(named(&created.name), &token)).await,
        Code::NotFound,
        "not_found",
    );

    // An admin lists users; a member may not.
    assert_status(
        c.users
            .list_users(authed(api::ListUsersRequest::default(), &token))
            .await,
        Code::PermissionDenied,
        "forbidden",
    );
    let admin = app.admin("root@example.org").await;
    let users = c
        .users
        .list_users(authed(
            api::ListUsersRequest {
                page_size: 1,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(users.users.len(), 1);
    assert_eq!(users.users[0].role(), api::Role::Admin, "newest first");
    assert!(!users.next_page_token.is_empty());

    // Logging out ends the session.
    c.users
        .log_out(authed(api::LogOutRequest {}, &token))
        .await
        .unwrap();
    assert_status(
        c.users.get_me(authed(api::GetMeRequest {}, &token)).await,
        Code::Unauthenticated,
        "unauthenticated",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_error_maps_to_its_status_with_its_details() {
    let app = spawn_app().await;
    let mut c = clients(&app).await;
    let token = c.user("ann@example.org").await;

    // Invalid input: INVALID_ARGUMENT, with a BadRequest listing every field.
    let status = assert_status(
        c.todos
            .create_todo(authed(
                api::CreateTodoRequest {
                    todo: Some(api::Todo {
                        title: " ".into(),
                        due_date: "tomorrow".into(),
                        tags: vec!["no spaces".into()],
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &token,
            ))
            .await,
        Code::InvalidArgument,
        "validation_failed",
    );
    let details = status.get_error_details();
    let fields: Vec<_> = details
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(fields, ["todo.title", "todo.due_date", "todo.tags[0]"]);

    // Unauthenticated: no token, a bad token, a token of another scheme.
    assert_status(
        c.users.get_me(api::GetMeRequest {}).await,
        Code::Unauthenticated,
        "unauthenticated",
    );
    assert_status(
        c.users
            .get_me(authed(api::GetMeRequest {}, "not-a-token"))
            .await,
        Code::Unauthenticated,
        "unauthenticated",
    );
    let mut basic = tonic::Request::new(api::GetMeRequest {});
    basic
        .metadata_mut()
        .insert("authorization", "Basic YW5uOnB3".parse().unwrap());
    assert_status(
        c.users.get_me(basic).await,
        Code::Unauthenticated,
        "unauthenticated",
    );
    // A wrong password and an unknown email get the same answer.
    for email in ["ann@example.org", "nobody@example.org"] {
        assert_status(
            c.users
                .log_in(api::LogInRequest {
                    email: email.into(),
                    password: "wrong-password".into(),
                })
                .await,
            Code::Unauthenticated,
            "unauthenticated",
        );
    }

    // Not found, version mismatch (with the current version), already exists, forbidden.
    assert_status(
        c.todos
            .get_todo(authed(
                named("todos/01890a5d-ac96-774b-bcce-b302099a8057"),
                &token,
            ))
            .await,
        Code::NotFound,
        "not_found",
    );
    let todo = c.create(&token, "Versioned").await;
    let status = assert_status(
        c.todos
            .delete_todo(authed(
                api::DeleteTodoRequest {
                    name: todo.name.clone(),
                    etag: "7".into(),
                    ..Default::default()
                },
                &token,
            ))
            .await,
        Code::Aborted,
        "version_mismatch",
    );
    assert_eq!(
        status.get_error_details().error_info().unwrap().metadata[CURRENT_VERSION],
        "1"
    );
    assert_status(
        c.users
            .register(api::RegisterRequest {
                email: "ann@example.org".into(),
                password: PASSWORD.into(),
                display_name: "Again".into(),
            })
            .await,
        Code::AlreadyExists,
        "email_taken",
    );
    assert_status(
        c.users
            .list_users(authed(api::ListUsersRequest::default(), &token))
            .await,
        Code::PermissionDenied,
        "forbidden",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_and_internal_say_no_more_than_they_should() {
    // Postgres goes away under a running server: UNAVAILABLE, with nothing about the cause.
    let (app, proxy) = spawn_app_behind_a_proxy(&[("DATABASE_ACQUIRE_TIMEOUT_MS", "300")]).await;
    let mut c = clients(&app).await;
    let token = c.user("ann@example.org").await;
    proxy.cut();
    let status = assert_status(
        c.todos
            .list_todos(authed(api::ListTodosRequest::default(), &token))
            .await,
        Code::Unavailable,
        "unavailable",
    );
    assert!(!status.message().contains("127.0.0.1"), "{status:?}");
    proxy.restore();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_todo_is_not_found_on_every_rpc() {
    let app = spawn_app().await;
    let mut c = clients(&app).await;
    let ann = c.user("ann@example.org").await;
    let bob = c.user("bob@example.org").await;
    let todo = c.create(&ann, "Ann's").await;
    let name = todo.name.clone();

    let t = &mut c.todos;
    let results: Vec<(&str, Result<(), Status>)> = vec![
        (
            "get",
            t.get_todo(authed(named(&name), &bob)).await.map(drop),
        ),
        (
            "update",
            t.update_todo(authed(
                api::UpdateTodoRequest {
                    todo: Some(api::Todo {
                        name: name.clone(),
                        etag: "1".into(),
                        title: "Bob's now".into(),
                        ..Default::default()
                    }),
                    update_mask: None,
                    ..Default::default()
                },
                &bob,
            ))
            .await
            .map(drop),
        ),
        (
            "delete",
            t.delete_todo(authed(
                api::DeleteTodoRequest {
                    name: name.clone(),
                    etag: "1".into(),
                    ..Default::default()
                },
                &bob,
            ))
            .await
            .map(drop),
        ),
        (
            "complete",
            t.complete_todo(authed(
                api::CompleteTodoRequest { name: name.clone() },
                &bob,
            ))
            .await
            .map(drop),
        ),
        (
            "reopen",
            t.reopen_todo(authed(api::ReopenTodoRequest { name: name.clone() }, &bob))
                .await
                .map(drop),
        ),
        (
            "add tag",
            t.add_tag(authed(
                api::AddTagRequest {
                    name: name.clone(),
                    tag: "bob".into(),
                },
                &bob,
            ))
            .await
            .map(drop),
        ),
        (
            "remove tag",
            t.remove_tag(authed(
                api::RemoveTagRequest {
                    name: name.clone(),
                    tag: "bob".into(),
                },
                &bob,
            ))
            .await
            .map(drop),
        ),
    ];
    for (rpc, result) in results {
        let status = result.expect_err(rpc);
        assert_eq!(status.code(), Code::NotFound, "{rpc}: {status:?}");
        assert_eq!(reason(&status), "not_found", "{rpc}");
    }
    let listed = t
        .list_todos(authed(api::ListTodosRequest::default(), &bob))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.todos.is_empty(), "Bob lists none of Ann's todos");
    let unchanged = t
        .get_todo(authed(named(&name), &ann))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unchanged, todo, "nothing Bob did changed Ann's todo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_updates_with_one_etag_give_one_ok_and_one_aborted() {
    let app = spawn_app().await;
    let mut c = clients(&app).await;
    let token = c.user("ann@example.org").await;
    let todo = c.create(&token, "Contended").await;

    let update = |title: &str| {
        let mut client = c.todos.clone();
        let request = authed(
            api::UpdateTodoRequest {
                todo: Some(api::Todo {
                    name: todo.name.clone(),
                    etag: todo.etag.clone(),
                    title: title.into(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["title".into()],
                }),
                ..Default::default()
            },
            &token,
        );
        tokio::spawn(async move { client.update_todo(request).await })
    };
    let (a, b) = tokio::join!(update("First"), update("Second"));
    let outcomes = [a.unwrap(), b.unwrap()];
    let ok: Vec<_> = outcomes.iter().filter_map(|r| r.as_ref().ok()).collect();
    let aborted: Vec<_> = outcomes.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(ok.len(), 1, "{outcomes:?}");
    assert_eq!(aborted.len(), 1, "{outcomes:?}");
    assert_eq!(aborted[0].code(), Code::Aborted);
    assert_eq!(reason(aborted[0]), "version_mismatch");
    assert_eq!(ok[0].get_ref().etag, "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_postgres_down_and_back() {
    let (app, proxy) = spawn_app_behind_a_proxy(&[
        ("GRPC_HEALTH_INTERVAL_MS", "100"),
        ("DATABASE_ACQUIRE_TIMEOUT_MS", "300"),
        // A probe waits half of it at most.
        ("HTTP_REQUEST_TIMEOUT_MS", "1000"),
    ])
    .await;
    let mut health = HealthClient::new(app.grpc().await);
    let check = |service: &str| HealthCheckRequest {
        service: service.into(),
    };
    let mut watch = health
        .watch(check("todo.v1.TodoService"))
        .await
        .unwrap()
        .into_inner();
    // Waits until the watch stream reports `wanted`: a repeat of the current status may
    // come first, and is skipped.
    let mut until_watched = async |wanted: ServingStatus| {
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let status = watch.message().await.unwrap().unwrap().status();
                if status == wanted {
                    return;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {wanted:?} from the watch stream within 5 s"));
    };
    until_watched(ServingStatus::Serving).await;
    assert_eq!(
        health.check(check("")).await.unwrap().into_inner().status(),
        ServingStatus::Serving
    );

    proxy.cut();
    until_watched(ServingStatus::NotServing).await;
    for service in ["", "todo.v1.TodoService", "todo.v1.UserService"] {
        assert_eq!(
            health
                .check(check(service))
                .await
                .unwrap()
                .into_inner()
                .status(),
            ServingStatus::NotServing,
            "{service:?}"
        );
    }

    proxy.restore();
    until_watched(ServingStatus::Serving).await;
    assert_eq!(
        health.check(check("")).await.unwrap().into_inner().status(),
        ServingStatus::Serving
    );

    // A server that hangs rather than refusing: without the probe's patience, the check
    // would wait on its pooled connection for as long as TCP does, and health would keep
    // saying SERVING meanwhile.
    proxy.freeze();
    until_watched(ServingStatus::NotServing).await;
    proxy.thaw();
    until_watched(ServingStatus::Serving).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_both_services_in_v1_and_v1alpha() {
    use tonic_reflection::pb::{v1, v1alpha};

    let app = spawn_app().await;
    let channel = app.grpc().await;

    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = v1::server_reflection_client::ServerReflectionClient::new(channel.clone())
        .server_reflection_info(tokio_stream_once(request))
        .await
        .unwrap()
        .into_inner();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        stream.message().await.unwrap().unwrap().message_response
    else {
        panic!("not a list of services");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "todo.v1.TodoService",
        "todo.v1.UserService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }

    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut stream = v1alpha::server_reflection_client::ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream_once(request))
        .await
        .unwrap()
        .into_inner();
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        stream.message().await.unwrap().unwrap().message_response
    else {
        panic!("not a list of services");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"todo.v1.TodoService"), "{names:?}");
    assert!(names.contains(&"todo.v1.UserService"), "{names:?}");
}

/// A request stream of one message.
fn tokio_stream_once<T: Send + 'static>(message: T) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::iter([message])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_status() {
    let app = spawn_app_with(&[("GRPC_MAX_MESSAGE_BYTES", "4096")]).await;
    let mut c = clients(&app).await;
    let token = c.user("ann@example.org").await;
    let todo = c.create(&token, "Target").await;
    let t = &mut c.todos;

    // A name that is not a todo's names nothing; a missing one is a missing field.
    for name in [
        "todos/not-a-uuid",
        "todos/",
        "users/01890a5d-ac96-774b-bcce-b302099a8057",
        "x",
    ] {
        assert_status(
            t.get_todo(authed(named(name), &token)).await,
            Code::NotFound,
            "not_found",
        );
    }
    assert_status(
        t.get_todo(authed(named(""), &token)).await,
        Code::InvalidArgument,
        "validation_failed",
    );
    // Empty required fields.
    assert_status(
        t.create_todo(authed(
            api::CreateTodoRequest {
                todo: None,
                ..Default::default()
            },
            &token,
        ))
        .await,
        Code::InvalidArgument,
        "validation_failed",
    );
    assert_status(
        t.delete_todo(authed(
            api::DeleteTodoRequest {
                name: todo.name.clone(),
                etag: String::new(),
                ..Default::default()
            },
            &token,
        ))
        .await,
        Code::InvalidArgument,
        "validation_failed",
    );
    assert_status(
        t.update_todo(authed(
            api::UpdateTodoRequest {
                todo: Some(api::Todo {
                    name: todo.name.clone(),
                    etag: "1".into(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["status".into()],
                }),
                ..Default::default()
            },
            &token,
        ))
        .await,
        Code::InvalidArgument,
        "validation_failed",
    );
    for (page_size, status) in [(-1, 0), (101, 0), (0, 7)] {
        assert_status(
            t.list_todos(authed(
                api::ListTodosRequest {
                    page_size,
                    status,
                    ..Default::default()
                },
                &token,
            ))
            .await,
            Code::InvalidArgument,
            "validation_failed",
        );
    }
    assert_status(
        t.list_todos(authed(
            api::ListTodosRequest {
                page_token: "garbage".into(),
                ..Default::default()
            },
            &token,
        ))
        .await,
        Code::InvalidArgument,
        "validation_failed",
    );

    // A message over the limit: RESOURCE_EXHAUSTED, with a reason all the same.
    assert_status(
        t.create_todo(authed(
            api::CreateTodoRequest {
                todo: Some(api::Todo {
                    title: "Big".into(),
                    description: "x".repeat(8 * 1024),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &token,
        ))
        .await,
        Code::ResourceExhausted,
        "payload_too_large",
    );

    // A deadline that has already passed.
    // (tonic's client would give up by itself, so a bare client sends it.)
    let status = raw_unary(
        &app,
        "/todo.v1.TodoService/GetTodo",
        &token,
        "0m",
        named(&todo.name),
    )
    .await;
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_eq!(reason(&status), "timeout");
    // The server still answers the next call.
    t.get_todo(authed(named(&todo.name), &token)).await.unwrap();
}

/// One unary call over a bare HTTP/2 client, framed by hand as the gRPC spec says; the
/// status, from the headers or the trailers.
async fn raw_unary(
    app: &TestApp,
    path: &str,
    token: &str,
    timeout: &str,
    message: impl prost::Message,
) -> Status {
    use axum::body::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper_util::{client::legacy::Client, rt::TokioExecutor};

    let encoded = message.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(encoded.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(&encoded);
    let request = axum::http::Request::post(format!("{}{path}", app.base))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-timeout", timeout)
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::from(frame)))
        .unwrap();
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let response = client.request(request).await.unwrap();
    let headers = response.headers().clone();
    let collected = response.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().unwrap_or_default();
    Status::from_header_map(&headers)
        .or_else(|| Status::from_header_map(&trailers))
        .expect("a gRPC status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clients_deadline_is_honoured_by_the_server() {
    let app = spawn_app_with(&[("DATABASE_STATEMENT_TIMEOUT_MS", "600000")]).await;
    let mut c = clients(&app).await;
    let token = c.user("ann@example.org").await;
    let todo = c.create(&token, "Locked").await;
    let mut blocker = app.db.pool().begin().await.unwrap();
    sqlx::query("SELECT 1 FROM todos WHERE id = $1::uuid FOR UPDATE")
        .bind(todo.name.trim_start_matches("todos/"))
        .execute(&mut *blocker)
        .await
        .unwrap();

    let request = api::UpdateTodoRequest {
        todo: Some(api::Todo {
            name: todo.name.clone(),
            etag: "1".into(),
            title: "Never".into(),
            ..Default::default()
        }),
        update_mask: None,
        ..Default::default()
    };
    // tonic's client would also enforce the deadline itself and race the server, so this
    // call comes from a bare HTTP/2 client that only sends `grpc-timeout`: whatever answers
    // DEADLINE_EXCEEDED is the server.
    let started = std::time::Instant::now();
    let status = raw_unary(
        &app,
        "/todo.v1.TodoService/UpdateTodo",
        &token,
        "300m",
        request,
    )
    .await;
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_eq!(reason(&status), "timeout");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    blocker.rollback().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_echoed_and_calls_are_counted_by_method_and_code() {
    let app = spawn_app().await;
    let mut c = clients(&app).await;
    let token = c.user("ann@example.org").await;

    let mut request = authed(named("todos/01890a5d-ac96-774b-bcce-b302099a8057"), &token);
    request
        .metadata_mut()
        .insert("x-request-id", "grpc-test-42".parse().unwrap());
    let status = c.todos.get_todo(request).await.unwrap_err();
    assert_eq!(
        status
            .metadata()
            .get("x-request-id")
            .unwrap()
            .to_str()
            .unwrap(),
        "grpc-test-42"
    );
    let ok = c
        .users
        .get_me(authed(api::GetMeRequest {}, &token))
        .await
        .unwrap();
    assert!(
        ok.metadata().get("x-request-id").is_some(),
        "one is made when none is sent"
    );

    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        r#"grpc_server_handled_total{grpc_service="todo.v1.TodoService",grpc_method="GetTodo",grpc_code="NOT_FOUND"} 1"#,
        r#"grpc_server_handled_total{grpc_service="todo.v1.UserService",grpc_method="GetMe",grpc_code="OK"} 1"#,
        r#"grpc_server_handling_seconds_count{grpc_service="todo.v1.UserService",grpc_method="GetMe"} 1"#,
    ] {
        assert!(metrics.contains(series), "{series} missing from\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rpc_in_flight_completes_during_graceful_shutdown() {
    let app = spawn_app_with(&[("DATABASE_STATEMENT_TIMEOUT_MS", "600000")]).await;
    let mut c = clients(&app).await;
    let token = c.user("ann@example.org").await;
    let todo = c.create(&token, "Almost done").await;
    let mut blocker = app.db.pool().begin().await.unwrap();
    sqlx::query("SELECT 1 FROM todos WHERE id = $1::uuid FOR UPDATE")
        .bind(todo.name.trim_start_matches("todos/"))
        .execute(&mut *blocker)
        .await
        .unwrap();
    let mut client = c.todos.clone();
    let request = authed(
        api::UpdateTodoRequest {
            todo: Some(api::Todo {
                name: todo.name.clone(),
                etag: "1".into(),
                title: "Done while draining".into(),
                ..Default::default()
            }),
            update_mask: None,
            ..Default::default()
        },
        &token,
    );
    let in_flight = tokio::spawn(async move { client.update_todo(request).await });
    app.wait_until_an_update_waits_for_a_lock().await;

    app.shutdown.cancel();
    app.wait_until_new_connections_are_refused().await;
    blocker.rollback().await.unwrap();

    let answered = tokio::time::timeout(Duration::from_secs(5), in_flight)
        .await
        .expect("answered within the drain timeout")
        .unwrap()
        .expect("the call in flight completes");
    assert_eq!(answered.get_ref().title, "Done while draining");
    tokio::time::timeout(Duration::from_secs(5), app.server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
