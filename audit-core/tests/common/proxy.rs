//! A TCP proxy for the tests of sinks that reach a server (PostgreSQL, NATS): it cuts every
//! connection and refuses new ones, or freezes them (a partition: nothing passes, nothing is
//! closed), then lets them through again.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A TCP proxy to a server that can cut every connection and refuse new ones.
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    frozen: tokio::sync::watch::Sender<bool>,
    /// Sockets a freeze holds open without passing anything.
    held: Arc<Mutex<Vec<tokio::net::TcpStream>>>,
}

impl Proxy {
    pub async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (frozen, _) = tokio::sync::watch::channel(false);
        let held: Arc<Mutex<Vec<tokio::net::TcpStream>>> = Arc::default();
        let (up2, links2, frozen2, held2) =
            (up.clone(), links.clone(), frozen.clone(), held.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                if *frozen2.borrow() {
                    held2.lock().unwrap().push(inbound);
                    continue;
                }
                let upstream = upstream.clone();
                let (mut freeze, held) = (frozen2.subscribe(), held2.clone());
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        let froze = tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => false,
                            _ = freeze.wait_for(|f| *f) => true,
                        };
                        if froze {
                            held.lock().unwrap().extend([inbound, outbound]);
                        }
                    }
                });
                links2.lock().unwrap().push(link);
            }
        });
        Proxy {
            addr,
            up,
            links,
            frozen,
            held,
        }
    }

    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// A partition: open connections stay open and carry nothing; new ones are accepted and
    /// hang. Nobody hears a close or a reset.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    /// Ends a freeze: the held sockets are closed (as a partition's end finds them timed
    /// out), new connections pass again.
    pub fn thaw(&self) {
        self.frozen.send_replace(false);
        self.held.lock().unwrap().clear();
    }
}
