//! What surrounds the stack: the reminder webhook its workers call, the backing services'
//! addresses, and the Redis keys a run leaves behind.

use std::sync::{Arc, Mutex};

use anyhow::Context;

/// The host and port of `url`.
pub(crate) fn address_of(
    url: &url::Url,
    default_port: u16,
) -> anyhow::Result<std::net::SocketAddr> {
    url.socket_addrs(|| Some(default_port))?
        .into_iter()
        .next()
        .context("the URL names no reachable address")
}

/// A webhook that records every reminder it is sent; its URL.
pub(crate) async fn webhook(
    reminders: Arc<Mutex<Vec<(String, String, String)>>>,
) -> anyhow::Result<String> {
    use axum::{Router, http::HeaderMap, routing::post};
    let app = Router::new().route(
        "/reminders",
        post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let reminders = reminders.clone();
            async move {
                let id = headers
                    .get("x-reminder-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                reminders.lock().unwrap_or_else(|e| e.into_inner()).push((
                    id,
                    body["todo_id"].as_str().unwrap_or_default().to_owned(),
                    body["due_date"].as_str().unwrap_or_default().to_owned(),
                ));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}/reminders"))
}

/// Deletes this run's keys from Redis.
pub(crate) async fn clear_redis(url: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(url) else {
        return;
    };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
    }
}
