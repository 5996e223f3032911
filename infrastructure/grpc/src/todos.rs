//! `todo.v1.TodoService`: each method parses its request, calls one use case, and maps the
//! result. No business rule lives here.

use std::{pin::Pin, sync::Arc};

use application::{
    UseCases,
    todos::{Watch, WatchEnd},
};
use futures_util::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request, Response, Status};

use crate::{
    api::{self, todo_service_server::TodoService},
    auth::caller_of,
    convert,
    status::{refusal, report},
};

/// The response metadata that says an answer is the replay of an earlier call with the same
/// `request_id`.
const REPLAYED: &str = "idempotent-replayed";

/// Marks `response` as a replay when it is one.
fn replayed<T>(mut response: Response<T>, replayed: bool) -> Response<T> {
    if replayed {
        response.metadata_mut().insert(
            REPLAYED,
            tonic::metadata::MetadataValue::from_static("true"),
        );
    }
    response
}

/// The stream `WatchTodos` answers with.
type EventStream = Pin<Box<dyn Stream<Item = Result<api::TodoEvent, Status>> + Send>>;

/// The todo service over the use cases.
#[derive(Debug, Clone)]
pub struct TodoApi {
    use_cases: Arc<UseCases>,
    /// Cancelled when the server begins to shut down: open streams end then.
    closing: CancellationToken,
}

impl TodoApi {
    /// The service over `use_cases`; its streams end when `closing` is cancelled.
    pub fn new(use_cases: Arc<UseCases>, closing: CancellationToken) -> Self {
        Self { use_cases, closing }
    }
}

#[tonic::async_trait]
impl TodoService for TodoApi {
    type WatchTodosStream = EventStream;

    async fn watch_todos(
        &self,
        request: Request<api::WatchTodosRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let caller = caller_of(&request)?;
        let after = convert::parse_after(&request.get_ref().after).map_err(report)?;
        let events = self
            .use_cases
            .watch_todos
            .execute(Watch {
                actor: &caller.actor,
                session: &caller.token,
                after,
            })
            .await
            .map_err(report)?;
        let closing = self.closing.clone();
        let events = events.take_until(self.closing.clone().cancelled_owned());
        let stream = events.map(|item| match item {
            Ok(event) => Ok(convert::todo_event(&event)),
            Err(end) => {
                let code = match end {
                    WatchEnd::Lagged(_) => Code::ResourceExhausted,
                    WatchEnd::Interrupted => Code::Unavailable,
                    WatchEnd::SessionEnded => Code::Unauthenticated,
                };
                Err(refusal(code, end.code(), end.message()))
            }
        });
        // Said only when the stream ended because the server is closing.
        let goodbye = futures_util::stream::once(async move {
            closing.is_cancelled().then(|| {
                Err(Status::unavailable(
                    "the server is shutting down; watch again with `after` set to the last \
                     event received",
                ))
            })
        })
        .filter_map(std::future::ready);
        Ok(Response::new(Box::pin(stream.chain(goodbye))))
    }

    async fn get_todo(
        &self,
        request: Request<api::GetTodoRequest>,
    ) -> Result<Response<api::Todo>, Status> {
        let caller = caller_of(&request)?;
        let id = convert::parse_todo_name("name", &request.get_ref().name).map_err(report)?;
        let todo = self
            .use_cases
            .get_todo
            .execute(&caller.actor, id)
            .await
            .map_err(report)?;
        Ok(Response::new(convert::todo(&todo)))
    }

    async fn list_todos(
        &self,
        request: Request<api::ListTodosRequest>,
    ) -> Result<Response<api::ListTodosResponse>, Status> {
        let caller = caller_of(&request)?;
        let filter = convert::todo_filter(request.get_ref()).map_err(report)?;
        let page = self
            .use_cases
            .list_todos
            .execute(&caller.actor, filter)
            .await
            .map_err(report)?;
        Ok(Response::new(convert::todo_page(&page)))
    }

    async fn create_todo(
        &self,
        request: Request<api::CreateTodoRequest>,
    ) -> Result<Response<api::Todo>, Status> {
        let caller = caller_of(&request)?;
        let body = request.get_ref();
        let new = convert::new_todo(body.todo.as_ref()).map_err(report)?;
        let key = convert::request_id(&body.request_id).map_err(report)?;
        let use_case = &self.use_cases.create_todo;
        let (todo, replay) = match key {
            Some(key) => {
                let created = use_case
                    .execute_once(&caller.actor, new, key)
                    .await
                    .map_err(report)?;
                (created.value, created.replayed)
            }
            None => (
                use_case.execute(&caller.actor, new).await.map_err(report)?,
                false,
            ),
        };
        Ok(replayed(Response::new(convert::todo(&todo)), replay))
    }

    async fn update_todo(
        &self,
        request: Request<api::UpdateTodoRequest>,
    ) -> Result<Response<api::Todo>, Status> {
        let caller = caller_of(&request)?;
        let body = request.get_ref();
        let (id, expected, changes) =
            convert::update(body.todo.as_ref(), body.update_mask.as_ref()).map_err(report)?;
        let key = convert::request_id(&body.request_id).map_err(report)?;
        let use_case = &self.use_cases.update_todo;
        let (todo, replay) = match key {
            Some(key) => {
                let updated = use_case
                    .execute_once(&caller.actor, id, expected, changes, key)
                    .await
                    .map_err(report)?;
                (updated.value, updated.replayed)
            }
            None => (
                use_case
                    .execute(&caller.actor, id, expected, changes)
                    .await
                    .map_err(report)?,
                false,
            ),
        };
        Ok(replayed(Response::new(convert::todo(&todo)), replay))
    }

    async fn delete_todo(
        &self,
        request: Request<api::DeleteTodoRequest>,
    ) -> Result<Response<api::DeleteTodoResponse>, Status> {
        let caller = caller_of(&request)?;
        let body = request.get_ref();
        let id = convert::parse_todo_name("name", &body.name).map_err(report)?;
        let expected = convert::etag(&body.etag).map_err(report)?;
        let key = convert::request_id(&body.request_id).map_err(report)?;
        let use_case = &self.use_cases.delete_todo;
        let replay = match key {
            Some(key) => {
                use_case
                    .execute_once(&caller.actor, id, expected, key)
                    .await
                    .map_err(report)?
                    .replayed
            }
            None => {
                use_case
                    .execute(&caller.actor, id, expected)
                    .await
                    .map_err(report)?;
                false
            }
        };
        Ok(replayed(Response::new(api::DeleteTodoResponse {}), replay))
    }

    async fn complete_todo(
        &self,
        request: Request<api::CompleteTodoRequest>,
    ) -> Result<Response<api::Todo>, Status> {
        let caller = caller_of(&request)?;
        let id = convert::parse_todo_name("name", &request.get_ref().name).map_err(report)?;
        let todo = self
            .use_cases
            .complete_todo
            .execute(&caller.actor, id)
            .await
            .map_err(report)?;
        Ok(Response::new(convert::todo(&todo)))
    }

    async fn reopen_todo(
        &self,
        request: Request<api::ReopenTodoRequest>,
    ) -> Result<Response<api::Todo>, Status> {
        let caller = caller_of(&request)?;
        let id = convert::parse_todo_name("name", &request.get_ref().name).map_err(report)?;
        let todo = self
            .use_cases
            .reopen_todo
            .execute(&caller.actor, id)
            .await
            .map_err(report)?;
        Ok(Response::new(convert::todo(&todo)))
    }

    async fn add_tag(
        &self,
        request: Request<api::AddTagRequest>,
    ) -> Result<Response<api::Todo>, Status> {
        let caller = caller_of(&request)?;
        let body = request.get_ref();
        let id = convert::parse_todo_name("name", &body.name).map_err(report)?;
        let tag = convert::tag(&body.tag).map_err(report)?;
        let todo = self
            .use_cases
            .add_tag
            .execute(&caller.actor, id, tag)
            .await
            .map_err(report)?;
        Ok(Response::new(convert::todo(&todo)))
    }

    async fn remove_tag(
        &self,
        request: Request<api::RemoveTagRequest>,
    ) -> Result<Response<api::Todo>, Status> {
        let caller = caller_of(&request)?;
        let body = request.get_ref();
        let id = convert::parse_todo_name("name", &body.name).map_err(report)?;
        let tag = convert::tag(&body.tag).map_err(report)?;
        let todo = self
            .use_cases
            .remove_tag
            .execute(&caller.actor, id, &tag)
            .await
            .map_err(report)?;
        Ok(Response::new(convert::todo(&todo)))
    }
}
