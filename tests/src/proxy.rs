//! A TCP proxy on 127.0.0.1 in front of a loopback server: it adds a one-way latency to every
//! byte in each direction (a round trip costs twice the delay; bytes in flight do not wait
//! for one another, as on a real link) and counts the connections it accepted, so that
//! tests and benchmarks count connections and round trips of TLS clients they cannot look
//! inside.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Chunks in flight per direction: more waits for the writer (backpressure).
const IN_FLIGHT_CHUNKS: usize = 256;

/// A running proxy; it stops with the runtime that started it.
#[derive(Debug, Clone)]
pub struct Proxy {
    port: u16,
    connections: Arc<AtomicUsize>,
    /// The one-way delay in microseconds, read for each connection and chunk.
    delay_us: Arc<AtomicU64>,
}

impl Proxy {
    /// A proxy to `127.0.0.1:upstream` adding `delay` each way, on a free port.
    pub async fn start(upstream: u16, delay: Duration) -> Proxy {
        let (listener, addr) = crate::bind_loopback().await;
        Proxy::serve(listener, upstream, delay, addr.port())
    }

    /// A proxy on `127.0.0.1:port`, for a benchmark that chose its ports.
    pub async fn start_on(port: u16, upstream: u16, delay: Duration) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        Ok(Proxy::serve(listener, upstream, delay, port))
    }

    fn serve(listener: TcpListener, upstream: u16, delay: Duration, port: u16) -> Proxy {
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        let delay_us = Arc::new(AtomicU64::new(delay.as_micros() as u64));
        let current = Arc::clone(&delay_us);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let delay = Duration::from_micros(current.load(Ordering::Relaxed));
                tokio::spawn(async move {
                    // the connection itself crosses the link: SYN out, SYN-ACK back
                    tokio::time::sleep(delay * 2).await;
                    let Some((client_read, client_write, server_read, server_write)) =
                        splice(client, upstream).await
                    else {
                        return;
                    };
                    tokio::join!(
                        pipe(client_read, server_write, delay),
                        pipe(server_read, client_write, delay)
                    );
                });
            }
        });
        Proxy {
            port,
            connections,
            delay_us,
        }
    }

    /// Changes the delay for the connections accepted from now on (a benchmark measures the
    /// same case at two delays: the round trips are the difference over the delays').
    pub fn set_delay(&self, delay: Duration) {
        self.delay_us
            .store(delay.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// The halves of `client` and of a new connection to 127.0.0.1:`upstream`, both without
/// Nagle's delay: client read, client write, upstream read, upstream write.
pub async fn splice(
    client: TcpStream,
    upstream: u16,
) -> Option<(OwnedReadHalf, OwnedWriteHalf, OwnedReadHalf, OwnedWriteHalf)> {
    let server = TcpStream::connect(("127.0.0.1", upstream)).await.ok()?;
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    Some((client_read, client_write, server_read, server_write))
}

/// Copies `from` to `to`, each chunk delivered `delay` after it was read.
async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration) {
    let (chunks, mut due) = mpsc::channel::<(Instant, Vec<u8>)>(IN_FLIGHT_CHUNKS);
    let reader = async move {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if chunks
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((at, chunk)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        // the end of the stream arrives after the last byte
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
