use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP proxy in front of the server: `cut` drops every connection through it, as a
/// network failure would, and `block` refuses new ones until `unblock`.
pub struct Proxy {
    pub addr: SocketAddr,
    blocked: Arc<AtomicBool>,
    frozen: tokio::sync::watch::Sender<bool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let blocked = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (b, l) = (blocked.clone(), links.clone());
        let frozen = tokio::sync::watch::channel(false).0;
        let f = frozen.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if b.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let mut freeze = f.subscribe();
                let link = tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        // Frozen: both sockets stay open and nothing moves, like a dead
                        // route that TCP has not noticed yet.
                        _ = async { drop(freeze.wait_for(|f| *f).await) } => {
                            std::future::pending::<()>().await
                        }
                    }
                });
                l.lock().unwrap().push(link);
            }
        });
        Proxy {
            addr,
            blocked,
            frozen,
            links,
            accept,
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Drops every open connection and refuses new ones until [`Proxy::unblock`].
    pub fn cut_and_block(&self) {
        self.blocked.store(true, Ordering::SeqCst);
        self.cut();
    }

    pub fn cut(&self) {
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    pub fn unblock(&self) {
        self.blocked.store(false, Ordering::SeqCst);
    }

    /// Stops forwarding on open connections without closing them, and refuses new ones.
    pub fn freeze(&self) {
        self.blocked.store(true, Ordering::SeqCst);
        self.frozen.send_replace(true);
    }

    /// Undoes [`Proxy::freeze`] for new connections (frozen ones stay dead).
    pub fn thaw(&self) {
        self.frozen.send_replace(false);
        self.unblock();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
