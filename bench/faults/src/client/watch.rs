//! The live side of a client: one gRPC subscription per user, resumed after every cut.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use driving_grpc::api::{self, todo_service_client::TodoServiceClient};
use tokio_util::sync::CancellationToken;
use tonic::transport::Endpoint;

use super::ATTEMPT;

#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// Every event, in the order it arrived, as (event id, todo id, version).
    pub(crate) events: Vec<(String, String, i64)>,
    ids: HashSet<String>,
    /// Events that arrived twice (the streams drop repeats; this counts what got past).
    pub(crate) repeats: u64,
    /// Resumes the server refused.
    pub(crate) refused_resumes: Vec<String>,
    /// How many times the stream was opened.
    pub(crate) opened: u64,
}

/// Watches `token`'s todos over gRPC until `stop`, on one replica after another,
/// resuming after the last event seen whenever the stream ends. `ready` is told once the
/// first stream is open.
pub(crate) async fn watch(
    replicas: Vec<String>,
    token: String,
    seen: Arc<Mutex<Seen>>,
    stop: CancellationToken,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut replica = 0;
    while !stop.is_cancelled() {
        let after = seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .events
            .last()
            .map(|(id, _, _)| id.clone())
            .unwrap_or_default();
        let opened = async {
            let channel = Endpoint::from_shared(replicas[replica].clone())
                .ok()?
                .connect_timeout(ATTEMPT)
                .connect()
                .await
                .ok()?;
            let mut request = tonic::Request::new(api::WatchTodosRequest { after });
            if let Ok(value) = format!("Bearer {token}").parse() {
                request.metadata_mut().insert("authorization", value);
            }
            Some(
                TodoServiceClient::new(channel)
                    .watch_todos(request)
                    .await
                    .map(tonic::Response::into_inner),
            )
        };
        match tokio::time::timeout(ATTEMPT, opened).await {
            Ok(Some(Ok(mut stream))) => {
                seen.lock().unwrap_or_else(|e| e.into_inner()).opened += 1;
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
                loop {
                    let message = tokio::select! {
                        message = stream.message() => message,
                        () = stop.cancelled() => return,
                    };
                    match message {
                        Ok(Some(event)) => {
                            let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                            if seen.ids.insert(event.event_id.clone()) {
                                seen.events.push((
                                    event.event_id,
                                    event.name.trim_start_matches("todos/").to_owned(),
                                    event.version,
                                ));
                            } else {
                                seen.repeats += 1;
                            }
                        }
                        Ok(None) => break,
                        Err(status) => {
                            if status.code() == tonic::Code::InvalidArgument {
                                seen.lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .refused_resumes
                                    .push(status.message().to_owned());
                            }
                            break;
                        }
                    }
                }
            }
            Ok(Some(Err(status))) if status.code() == tonic::Code::InvalidArgument => {
                seen.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .refused_resumes
                    .push(status.message().to_owned());
            }
            _ => {}
        }
        replica = (replica + 1) % replicas.len();
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
            () = stop.cancelled() => return,
        }
    }
}
