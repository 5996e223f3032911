//! GraphQL over HTTP: `POST /graphql` for everything, `GET /graphql` for queries only.
//!
//! Follows the GraphQL-over-HTTP spec. A request that is refused before execution (the
//! document does not parse or validate, a limit is exceeded) answers 400 when the client
//! accepts `application/graphql-response+json`, and 200 with `application/json` for older
//! clients; a request that executes answers 200 with `errors` for the fields that failed.
//! Every error has `extensions.code`.

use std::{net::SocketAddr, sync::Arc};

use application::UseCases;
use async_graphql::{
    BatchResponse, Request, Response as GraphqlResponse, ServerError, dataloader::DataLoader,
};
use axum::{
    Extension,
    body::Bytes,
    extract::{ConnectInfo, RawQuery, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{
    admission::Transport,
    auth::{Caller, ClientAddress},
    error::codes,
    loaders::TodoCounts,
    replays::Replays,
    schema::{GraphqlSchema, Ran},
};

/// The media type of GraphQL responses in the GraphQL-over-HTTP spec.
const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// What the handlers need.
#[derive(Clone)]
pub(crate) struct GraphqlState {
    pub(crate) schema: GraphqlSchema,
    pub(crate) use_cases: Arc<UseCases>,
}

/// `POST /graphql`: one operation in a JSON body.
pub(crate) async fn post(
    State(state): State<GraphqlState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let accepts = Accepts::from(&headers);
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        // The media type, without its parameters (`; charset=utf-8`), exactly.
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return refused(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            codes::UNSUPPORTED_MEDIA_TYPE,
            "send the request as Content-Type: application/json",
            accepts,
        );
    }
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return refused(
            StatusCode::BAD_REQUEST,
            codes::MALFORMED_REQUEST,
            "batched requests are not supported: send one operation per request",
            accepts,
        );
    }
    let request: Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return refused(
                StatusCode::BAD_REQUEST,
                codes::MALFORMED_REQUEST,
                &format!("the body is not a GraphQL request: {error}"),
                accepts,
            );
        }
    };
    let from = client.map(|Extension(ConnectInfo(address))| ClientAddress(address.ip()));
    execute(&state, &headers, request, Transport::Post, accepts, from).await
}

/// `GET /graphql?query=...&variables=...&operationName=...`: queries only, because a GET
/// must never change anything (caches, prefetchers and crawlers send GETs freely).
pub(crate) async fn get(
    State(state): State<GraphqlState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let accepts = Accepts::from(&headers);
    let request = match get_request(query.as_deref().unwrap_or("")) {
        Ok(request) => request,
        Err(error) => {
            return refused(
                StatusCode::BAD_REQUEST,
                codes::MALFORMED_REQUEST,
                &format!("the query string is not a GraphQL request: {error}"),
                accepts,
            );
        }
    };
    let from = client.map(|Extension(ConnectInfo(address))| ClientAddress(address.ip()));
    execute(&state, &headers, request, Transport::Get, accepts, from).await
}

/// A GET request's parameters, named as GraphQL over HTTP names them: `query`,
/// `operationName`, and `variables` and `extensions` as JSON.
fn get_request(query_string: &str) -> Result<Request, String> {
    #[derive(serde::Deserialize)]
    struct Params {
        #[serde(default)]
        query: String,
        #[serde(rename = "operationName")]
        operation_name: Option<String>,
        variables: Option<String>,
        extensions: Option<String>,
    }

    let params: Params = serde_urlencoded::from_str(query_string).map_err(|e| e.to_string())?;
    let mut request = Request::new(params.query);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = params.variables {
        let variables = serde_json::from_str(&variables)
            .map_err(|e| format!("`variables` is not a JSON object: {e}"))?;
        request = request.variables(variables);
    }
    if let Some(extensions) = params.extensions {
        request.extensions = serde_json::from_str(&extensions)
            .map_err(|e| format!("`extensions` is not a JSON object: {e}"))?;
    }
    Ok(request)
}

/// Runs one operation for the caller `headers` authenticate.
async fn execute(
    state: &GraphqlState,
    headers: &HeaderMap,
    request: Request,
    transport: Transport,
    accepts: Accepts,
    from: Option<ClientAddress>,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default());
    let request = with_caller(request, bearer, &state.use_cases).await;
    let replays = Replays::default();
    let mut request = request.data(replays.clone());
    if let Some(from) = from {
        request = request.data(from);
    }

    let Ran {
        mut response,
        admitted,
    } = state.schema.run(request, Some(transport)).await;
    mark_replays(&mut response, &replays.keys());
    if response.is_err() && !admitted {
        let method_not_allowed = response.errors.iter().any(|error| {
            error.extensions.as_ref().and_then(|e| e.get("code"))
                == Some(&async_graphql::Value::from(codes::METHOD_NOT_ALLOWED))
        });
        if method_not_allowed {
            let mut response = respond(StatusCode::METHOD_NOT_ALLOWED, response, accepts);
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
        if accepts.graphql_response {
            return respond(StatusCode::BAD_REQUEST, response, accepts);
        }
    }
    respond(StatusCode::OK, response, accepts)
}

/// Says which root fields' answers are replays (see [`Replays`]): all of them by name in
/// `extensions.idempotentReplayed`, and, when they are every field of the answer, with
/// the header `Idempotent-Replayed: true` as REST sends it.
fn mark_replays(response: &mut GraphqlResponse, replayed: &[String]) {
    if replayed.is_empty() {
        return;
    }
    let every_field = match &response.data {
        async_graphql::Value::Object(fields) => fields
            .keys()
            .all(|key| replayed.iter().any(|r| r == key.as_str())),
        _ => false,
    };
    if every_field {
        response.http_headers.insert(
            HeaderName::from_static("idempotent-replayed"),
            HeaderValue::from_static("true"),
        );
    }
    response.extensions.insert(
        "idempotentReplayed".to_owned(),
        async_graphql::Value::List(
            replayed
                .iter()
                .map(|key| async_graphql::Value::String(key.clone()))
                .collect(),
        ),
    );
}

/// `request` with what its resolvers need to know about the caller: who they are (from
/// `authorization`, the value of an `Authorization` header, checked once here) and a
/// DataLoader of their own. The HTTP handlers call this; tests that run the schema
/// directly call it too.
pub async fn with_caller(
    request: Request,
    authorization: Option<&str>,
    use_cases: &Arc<UseCases>,
) -> Request {
    let caller = Caller::authenticate(authorization, use_cases).await;
    let actor = match &caller {
        Caller::User { actor, .. } => Some(*actor),
        _ => None,
    };
    // A loader per request: it batches within one request only, for one caller.
    let counts = DataLoader::new(
        TodoCounts {
            use_cases: use_cases.clone(),
            actor,
        },
        tokio::spawn,
    );
    request.data(caller).data(counts)
}

/// Which response media type the client accepts.
#[derive(Debug, Clone, Copy)]
struct Accepts {
    graphql_response: bool,
}

impl From<&HeaderMap> for Accepts {
    fn from(headers: &HeaderMap) -> Self {
        Self {
            graphql_response: headers
                .get_all(header::ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.contains(GRAPHQL_RESPONSE)),
        }
    }
}

/// A GraphQL response body with `status`, in the media type the client accepts, and the
/// HTTP headers the execution set (`Idempotent-Replayed`).
fn respond(status: StatusCode, mut response: GraphqlResponse, accepts: Accepts) -> Response {
    let headers = std::mem::take(&mut response.http_headers);
    let body = match serde_json::to_vec(&BatchResponse::Single(response)) {
        Ok(body) => body,
        // Serialising a response of plain values cannot fail; answer opaquely if it does.
        Err(_) => br#"{"errors":[{"message":"internal error","extensions":{"code":"internal"}}]}"#
            .to_vec(),
    };
    let content_type = if accepts.graphql_response {
        GRAPHQL_RESPONSE
    } else {
        "application/json"
    };
    let mut response = (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response();
    response.headers_mut().extend(headers);
    response
}

/// A request refused before execution: one error with `code`, answered with `status` (or
/// 200 for a client that only accepts `application/json`, as the spec says; 405 and 415
/// stay, being about HTTP itself).
fn refused(status: StatusCode, code: &'static str, message: &str, accepts: Accepts) -> Response {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    let status = match status {
        StatusCode::BAD_REQUEST if !accepts.graphql_response => StatusCode::OK,
        status => status,
    };
    respond(status, GraphqlResponse::from_errors(vec![error]), accepts)
}
