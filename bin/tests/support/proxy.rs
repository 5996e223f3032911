//! A TCP proxy that can be cut or frozen: the way a test makes a server unreachable
//! without stopping it (other tests share it), or makes a peer vanish without a FIN.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::{
    net::{TcpListener, TcpStream},
    task::AbortHandle,
};

/// Forwards connections to a target until [`Proxy::cut`], which drops every open connection
/// and refuses new ones until [`Proxy::restore`], or [`Proxy::freeze`], which stops
/// forwarding bytes either way while keeping every connection open: to each end, the other
/// has stopped answering.
pub struct Proxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    frozen: tokio::sync::watch::Sender<bool>,
    open: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Proxy {
    /// A proxy on an ephemeral local port to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::<AbortHandle>::new()));
        let (frozen, thawed) = tokio::sync::watch::channel(false);
        let accept = {
            let (cut, open) = (cut.clone(), open.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    if cut.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let thawed = thawed.clone();
                    let forward = tokio::spawn(async move {
                        if let Ok(outbound) = TcpStream::connect(target).await {
                            let (from_client, to_client) = inbound.into_split();
                            let (from_server, to_server) = outbound.into_split();
                            tokio::join!(
                                pump(from_client, to_server, thawed.clone()),
                                pump(from_server, to_client, thawed),
                            );
                        }
                    });
                    open.lock().unwrap().push(forward.abort_handle());
                }
            })
            .abort_handle()
        };
        Self {
            addr,
            cut,
            frozen,
            open,
            accept,
        }
    }

    /// Stops forwarding, in both directions, without closing anything.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    /// Forwards again after [`Proxy::freeze`], what was held first.
    pub fn thaw(&self) {
        self.frozen.send_replace(false);
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every connection through the proxy and refuses new ones.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for connection in self.open.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` whenever the proxy is not frozen; closes `to` when `from` ends.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut thawed: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        if thawed.wait_for(|frozen| !frozen).await.is_err() {
            return;
        }
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // What was read as the proxy froze is held, not delivered.
        if thawed.wait_for(|frozen| !frozen).await.is_err()
            || to.write_all(&buffer[..n]).await.is_err()
        {
            return;
        }
    }
    let _ = to.shutdown().await;
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}
