//! A TCP proxy the harness can cut, slow down, or make lose answers: one in front of each
//! backing service, and one in front of each replica, between it and the clients.

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
    /// Losing answers: the first bytes back from the target are dropped, and the
    /// connection with them, so the client never learns what its request did.
    losing: AtomicBool,
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
                    let up = pump(from_client, to_server, state.clone(), Way::Up);
                    let down = pump(from_server, to_client, state, Way::Down);
                    tokio::pin!(up, down);
                    // Both ways run until both end, unless an answer was lost: then the
                    // connection ends at once, both halves dropped.
                    let (mut up_done, mut down_done) = (false, false);
                    while !(up_done && down_done) {
                        tokio::select! {
                            _ = &mut up, if !up_done => up_done = true,
                            lost = &mut down, if !down_done => {
                                if lost {
                                    break;
                                }
                                down_done = true;
                            }
                        }
                    }
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

    /// Until [`Proxy::restore`], every connection that gets an answer from the target loses
    /// it: the answer is dropped and the connection closed. The request itself went
    /// through, so whatever it wrote is written; the client sees only a broken
    /// connection, and has to find out by retrying.
    pub(crate) fn lose_answers(&self) {
        self.state.losing.store(true, Ordering::SeqCst);
    }

    /// Forwards again, at full speed.
    pub(crate) fn restore(&self) {
        self.state.delay_ms.store(0, Ordering::SeqCst);
        self.state.cut.store(false, Ordering::SeqCst);
        self.state.losing.store(false, Ordering::SeqCst);
    }
}

/// Which way a pump copies: up (client to target) or down (target to client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Up,
    Down,
}

/// Copies `from` to `to`, each chunk after the current delay; closes `to` when `from` ends.
/// Going down while answers are being lost, it stops at the first chunk, dropping it: the
/// caller then drops both halves, which closes the connection both ways. True if it lost
/// an answer.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    state: Arc<State>,
    way: Way,
) -> bool {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if way == Way::Down && state.losing.load(Ordering::SeqCst) {
            return true;
        }
        let delay = state.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return false;
        }
    }
    let _ = to.shutdown().await;
    false
}
