//! One attempt at each write, over each protocol, and how its answer is sorted into
//! success, a retry, or a refusal.

use driving_grpc::api::{self, todo_service_client::TodoServiceClient};
use serde_json::{Value, json};
use tonic::transport::Channel;

use super::{ATTEMPT, Done, Failure, Protocol};

/// Sorts an HTTP answer: the body on `expected`, a retry on a 5xx, 429 or a transport
/// error, a refusal otherwise.
async fn http_answer(
    sent: Result<reqwest::Response, reqwest::Error>,
    expected: u16,
) -> Result<(Value, reqwest::header::HeaderMap), Failure> {
    let response = sent.map_err(|e| Failure::Retry(e.to_string()))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .text()
        .await
        .map_err(|e| Failure::Retry(e.to_string()))?;
    if status.as_u16() == expected {
        let body = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&body).map_err(|e| Failure::Retry(e.to_string()))?
        };
        return Ok((body, headers));
    }
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(Failure::Retry(format!("{status}")));
    }
    Err(Failure::Refused(format!("{status} {body}")))
}

/// The version an `ETag` header names.
fn etag_version(headers: &reqwest::header::HeaderMap) -> i64 {
    headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_matches('"').parse().ok())
        .unwrap_or(0)
}

fn replayed(headers: &reqwest::header::HeaderMap) -> bool {
    headers.get("idempotent-replayed").is_some()
}

/// A GraphQL answer: the data of `field`, or a retry on a code a retry can help with.
async fn graphql_answer(
    sent: Result<reqwest::Response, reqwest::Error>,
    field: &str,
) -> Result<(Value, bool), Failure> {
    let response = sent.map_err(|e| Failure::Retry(e.to_string()))?;
    let status = response.status();
    let replay = response.headers().get("idempotent-replayed").is_some();
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(Failure::Retry(format!("{status}")));
    }
    let body: Value = response
        .json()
        .await
        .map_err(|e| Failure::Retry(e.to_string()))?;
    if let Some(error) = body["errors"].get(0) {
        let code = error["extensions"]["code"].as_str().unwrap_or_default();
        return match code {
            "unavailable" | "timeout" | "overloaded" | "internal" | "contended" => {
                Err(Failure::Retry(code.to_owned()))
            }
            _ => Err(Failure::Refused(body.to_string())),
        };
    }
    Ok((body["data"][field].clone(), replay))
}

/// A gRPC request with the bearer token and the attempt's deadline.
fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request.set_timeout(ATTEMPT);
    request
}

/// A gRPC status: a retry when one can help.
fn grpc_failure(status: tonic::Status) -> Failure {
    use tonic::Code::*;
    match status.code() {
        Unavailable | DeadlineExceeded | Unknown | Internal | Cancelled | Aborted
        | ResourceExhausted => Failure::Retry(status.to_string()),
        _ => Failure::Refused(status.to_string()),
    }
}

fn grpc_replayed<T>(response: &tonic::Response<T>) -> bool {
    response.metadata().get("idempotent-replayed").is_some()
}

fn version_of(value: &Value) -> i64 {
    value.as_i64().unwrap_or(0)
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn create_once(
    protocol: Protocol,
    http: &reqwest::Client,
    mut grpc: TodoServiceClient<Channel>,
    base: &str,
    token: &str,
    key: &str,
    title: &str,
    due: Option<&str>,
) -> Result<Done, Failure> {
    match protocol {
        Protocol::Rest => {
            let sent = http
                .post(format!("{base}/v1/todos"))
                .bearer_auth(token)
                .header("idempotency-key", key)
                .json(&json!({"title": title, "due_date": due}))
                .send()
                .await;
            let (body, headers) = http_answer(sent, 201).await?;
            Ok(Done {
                id: body["id"].as_str().unwrap_or_default().to_owned(),
                version: etag_version(&headers),
                replayed: replayed(&headers),
            })
        }
        Protocol::Graphql => {
            let query = "mutation($t: String!, $d: String, $k: String) { \
                         createTodo(input: {title: $t, dueDate: $d}, idempotencyKey: $k) \
                         { id version } }";
            let sent = http
                .post(format!("{base}/graphql"))
                .bearer_auth(token)
                .json(&json!({"query": query, "variables": {"t": title, "d": due, "k": key}}))
                .send()
                .await;
            let (todo, replay) = graphql_answer(sent, "createTodo").await?;
            Ok(Done {
                id: todo["id"].as_str().unwrap_or_default().to_owned(),
                version: version_of(&todo["version"]),
                replayed: replay,
            })
        }
        Protocol::Grpc => {
            let request = api::CreateTodoRequest {
                todo: Some(api::Todo {
                    title: title.into(),
                    due_date: due.unwrap_or_default().into(),
                    ..Default::default()
                }),
                request_id: key.into(),
            };
            let response = grpc
                .create_todo(authed(request, token))
                .await
                .map_err(grpc_failure)?;
            let replay = grpc_replayed(&response);
            let todo = response.into_inner();
            Ok(Done {
                id: todo.name.trim_start_matches("todos/").to_owned(),
                version: todo.etag.parse().unwrap_or(0),
                replayed: replay,
            })
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn update_once(
    protocol: Protocol,
    http: &reqwest::Client,
    mut grpc: TodoServiceClient<Channel>,
    base: &str,
    token: &str,
    id: &str,
    version: i64,
    key: &str,
    title: &str,
) -> Result<Done, Failure> {
    match protocol {
        Protocol::Rest => {
            let sent = http
                .patch(format!("{base}/v1/todos/{id}"))
                .bearer_auth(token)
                .header("if-match", format!("\"{version}\""))
                .header("idempotency-key", key)
                .json(&json!({"title": title}))
                .send()
                .await;
            let (_, headers) = http_answer(sent, 200).await?;
            Ok(Done {
                id: id.to_owned(),
                version: etag_version(&headers),
                replayed: replayed(&headers),
            })
        }
        Protocol::Graphql => {
            let query = "mutation($id: ID!, $v: Int!, $t: String!, $k: String) { \
                         updateTodo(id: $id, expectedVersion: $v, input: {title: $t}, \
                         idempotencyKey: $k) { version } }";
            let sent = http
                .post(format!("{base}/graphql"))
                .bearer_auth(token)
                .json(&json!({"query": query, "variables": {"id": id, "v": version, "t": title, "k": key}}))
                .send()
                .await;
            let (todo, replay) = graphql_answer(sent, "updateTodo").await?;
            Ok(Done {
                id: id.to_owned(),
                version: version_of(&todo["version"]),
                replayed: replay,
            })
        }
        Protocol::Grpc => {
            let request = api::UpdateTodoRequest {
                todo: Some(api::Todo {
                    name: format!("todos/{id}"),
                    etag: version.to_string(),
                    title: title.into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["title".to_owned()],
                }),
                request_id: key.into(),
            };
            let response = grpc
                .update_todo(authed(request, token))
                .await
                .map_err(grpc_failure)?;
            let replay = grpc_replayed(&response);
            Ok(Done {
                id: id.to_owned(),
                version: response.into_inner().etag.parse().unwrap_or(0),
                replayed: replay,
            })
        }
    }
}

pub(super) async fn complete_once(
    protocol: Protocol,
    http: &reqwest::Client,
    mut grpc: TodoServiceClient<Channel>,
    base: &str,
    token: &str,
    id: &str,
) -> Result<Done, Failure> {
    match protocol {
        Protocol::Rest => {
            let sent = http
                .post(format!("{base}/v1/todos/{id}/complete"))
                .bearer_auth(token)
                .send()
                .await;
            let (_, headers) = http_answer(sent, 200).await?;
            Ok(Done {
                id: id.to_owned(),
                version: etag_version(&headers),
                replayed: false,
            })
        }
        Protocol::Graphql => {
            let query = "mutation($id: ID!) { completeTodo(id: $id) { version } }";
            let sent = http
                .post(format!("{base}/graphql"))
                .bearer_auth(token)
                .json(&json!({"query": query, "variables": {"id": id}}))
                .send()
                .await;
            let (todo, _) = graphql_answer(sent, "completeTodo").await?;
            Ok(Done {
                id: id.to_owned(),
                version: version_of(&todo["version"]),
                replayed: false,
            })
        }
        Protocol::Grpc => {
            let request = api::CompleteTodoRequest {
                name: format!("todos/{id}"),
            };
            let todo = grpc
                .complete_todo(authed(request, token))
                .await
                .map_err(grpc_failure)?
                .into_inner();
            Ok(Done {
                id: id.to_owned(),
                version: todo.etag.parse().unwrap_or(0),
                replayed: false,
            })
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn delete_once(
    protocol: Protocol,
    http: &reqwest::Client,
    mut grpc: TodoServiceClient<Channel>,
    base: &str,
    token: &str,
    id: &str,
    version: i64,
    key: &str,
) -> Result<Done, Failure> {
    let replay = match protocol {
        Protocol::Rest => {
            let sent = http
                .delete(format!("{base}/v1/todos/{id}"))
                .bearer_auth(token)
                .header("if-match", format!("\"{version}\""))
                .header("idempotency-key", key)
                .send()
                .await;
            let (_, headers) = http_answer(sent, 204).await?;
            replayed(&headers)
        }
        Protocol::Graphql => {
            let query = "mutation($id: ID!, $v: Int!, $k: String) { \
                         deleteTodo(id: $id, expectedVersion: $v, idempotencyKey: $k) }";
            let sent = http
                .post(format!("{base}/graphql"))
                .bearer_auth(token)
                .json(&json!({"query": query, "variables": {"id": id, "v": version, "k": key}}))
                .send()
                .await;
            graphql_answer(sent, "deleteTodo").await?.1
        }
        Protocol::Grpc => {
            let request = api::DeleteTodoRequest {
                name: format!("todos/{id}"),
                etag: version.to_string(),
                request_id: key.into(),
            };
            let response = grpc
                .delete_todo(authed(request, token))
                .await
                .map_err(grpc_failure)?;
            grpc_replayed(&response)
        }
    };
    Ok(Done {
        id: id.to_owned(),
        version: version + 1,
        replayed: replay,
    })
}
