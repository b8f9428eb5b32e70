//! A TCP proxy on loopback that can cut a connection halfway: the
//! operator's link to the API dropping in the middle of a transfer, for
//! the tests that check a file transfer resumes.
//!
//! Every connection to [`CutProxy::addr`] is forwarded to the target; the
//! first connection that moves more than [`CutProxy::cut_once_after`]
//! bytes (both directions together) is shut down there, once, and later
//! connections pass untouched.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The proxy; it stops accepting when dropped.
pub struct CutProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Bytes after which the next connection is cut; 0: none armed.
    cut_after: AtomicU64,
    /// How many connections were cut.
    cuts: AtomicU64,
    stopped: AtomicBool,
}

impl CutProxy {
    /// Forwards a new loopback port to `target`.
    pub fn start(target: SocketAddr) -> std::io::Result<CutProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                let budget = s.cut_after.swap(0, Ordering::SeqCst);
                forward(client, server, budget, s.clone());
            }
        });
        Ok(CutProxy { addr, shared })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts the next connection once it has moved `bytes`.
    pub fn cut_once_after(&self, bytes: u64) {
        self.shared.cut_after.store(bytes, Ordering::SeqCst);
    }

    /// How many connections were cut so far.
    pub fn cuts(&self) -> u64 {
        self.shared.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn forward(client: TcpStream, server: TcpStream, budget: u64, shared: Arc<Shared>) {
    let moved = Arc::new(AtomicU64::new(0));
    let cut = Arc::new(AtomicBool::new(false));
    let pairs = [
        (client.try_clone(), server.try_clone()),
        (server.try_clone(), client.try_clone()),
    ];
    for (from, to) in pairs {
        let (Ok(mut from), Ok(mut to)) = (from, to) else {
            return;
        };
        let (moved, cut, shared) = (moved.clone(), cut.clone(), shared.clone());
        let (client, server) = (client.try_clone(), server.try_clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            while let Ok(n @ 1..) = from.read(&mut buf) {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
                let total = moved.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
                if budget > 0 && total >= budget && !cut.swap(true, Ordering::SeqCst) {
                    shared.cuts.fetch_add(1, Ordering::SeqCst);
                    for s in [&client, &server].into_iter().flatten() {
                        let _ = s.shutdown(Shutdown::Both);
                    }
                    return;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        });
    }
}
