//! A TCP proxy in front of a backing service, which the harness can cut or slow down.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::AbortHandle,
};

/// A proxy to one service. Every process of the stack reaches the service through it.
#[derive(Debug, Clone)]
pub(crate) struct Proxy {
    addr: SocketAddr,
    state: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Refusing: open connections were dropped, new ones are closed at once.
    cut: AtomicBool,
    /// Milliseconds each chunk waits before it is forwarded (0: none).
    delay_ms: AtomicU64,
    open: Mutex<Vec<AbortHandle>>,
}

impl Proxy {
    /// A proxy on an ephemeral local port to `target`.
    pub(crate) async fn start(target: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let accepting = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                if accepting.cut.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let state = accepting.clone();
                let forward = tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (from_client, to_client) = inbound.into_split();
                    let (from_server, to_server) = outbound.into_split();
                    tokio::join!(
                        pump(from_client, to_server, state.clone()),
                        pump(from_server, to_client, state),
                    );
                });
                let mut open = accepting.open.lock().unwrap_or_else(|e| e.into_inner());
                open.retain(|handle| !handle.is_finished());
                open.push(forward.abort_handle());
            }
        });
        Ok(Self { addr, state })
    }

    /// Where the proxy listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every open connection and refuses new ones until [`Proxy::restore`].
    pub(crate) fn cut(&self) {
        self.state.cut.store(true, Ordering::SeqCst);
        let open = std::mem::take(&mut *self.state.open.lock().unwrap_or_else(|e| e.into_inner()));
        for connection in open {
            connection.abort();
        }
    }

    /// Makes every chunk wait `delay` before it is forwarded, both ways, until
    /// [`Proxy::restore`].
    pub(crate) fn slow(&self, delay: Duration) {
        self.state
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Forwards again, at full speed.
    pub(crate) fn restore(&self) {
        self.state.delay_ms.store(0, Ordering::SeqCst);
        self.state.cut.store(false, Ordering::SeqCst);
    }
}

/// Copies `from` to `to`, each chunk after the current delay; closes `to` when `from` ends.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    state: Arc<State>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let delay = state.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
    let _ = to.shutdown().await;
}
