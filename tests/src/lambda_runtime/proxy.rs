//! The proxy between a function and the emulator that sees the end of the function's init.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::bind_loopback;

/// A loopback TCP proxy in front of the emulator's Runtime API that records when the first
/// `GET .../runtime/invocation/next` passed through. Stops when dropped.
#[derive(Debug)]
pub struct RuntimeApiProxy {
    addr: SocketAddr,
    first_next: Arc<Mutex<Option<Instant>>>,
    task: tokio::task::JoinHandle<()>,
}

const NEXT_REQUEST: &[u8] = b"/2018-06-01/runtime/invocation/next";

impl RuntimeApiProxy {
    /// Proxies 127.0.0.1:(a free port) to 127.0.0.1:`upstream`. Needs a tokio runtime.
    pub async fn start(upstream: u16) -> RuntimeApiProxy {
        let (listener, addr) = bind_loopback().await;
        let first_next = Arc::new(Mutex::new(None));
        let seen = Arc::clone(&first_next);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let Some((client_read, client_write, server_read, server_write)) =
                        crate::proxy::splice(client, upstream).await
                    else {
                        return;
                    };
                    tokio::join!(
                        pipe(client_read, server_write, Some(seen)),
                        pipe(server_read, client_write, None)
                    );
                });
            }
        });
        RuntimeApiProxy {
            addr,
            first_next,
            task,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// When the first `next` request arrived, if one did.
    pub fn first_next(&self) -> Option<Instant> {
        *self.first_next.lock().expect("first next lock")
    }
}

impl Drop for RuntimeApiProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies `from` to `to`; with `seen`, records the arrival of the first chunk that starts a
/// `GET` of the Runtime API's `next` route.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    seen: Option<Arc<Mutex<Option<Instant>>>>,
) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Some(seen) = &seen {
                    let chunk = &buf[..n];
                    if chunk.starts_with(b"GET ")
                        && chunk.split(|b| *b == b'\n').next().is_some_and(|line| {
                            line.windows(NEXT_REQUEST.len()).any(|w| w == NEXT_REQUEST)
                        })
                    {
                        let now = Instant::now();
                        seen.lock().expect("first next lock").get_or_insert(now);
                    }
                }
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}
