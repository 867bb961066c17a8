//! The local server's write timeout: a socket whose writes fail once a blocked write has made
//! no progress for too long.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection's socket whose writes fail with `TimedOut` once a pending write has made no
/// progress for the write timeout: a client that reads nothing cannot hold a response (and
/// the memory of its body) longer than that. The timer runs only while a write is blocked
/// and restarts at each write that moves bytes: like nginx's `send_timeout` (declared in
/// src/http/ngx_http_core_module.c, armed on the blocked write event in `ngx_http_writer`,
/// src/http/ngx_http_request.c), it bounds the gap between two writes, not the whole answer,
/// so a slow reader on a slow link is not cut off. hyper has no write timeout of its own.
#[derive(Debug)]
pub(super) struct WriteTimeout {
    stream: tokio::net::TcpStream,
    limit: Duration,
    /// Created the first time a write blocks (most connections never do), then reset.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    armed: bool,
}

impl WriteTimeout {
    pub(super) fn new(stream: tokio::net::TcpStream, limit: Duration) -> WriteTimeout {
        WriteTimeout {
            stream,
            limit,
            timer: None,
            armed: false,
        }
    }

    /// Passes a finished write through (progress, or an error: the timer stops); a blocked
    /// one starts the timer if it is not running, and fails once it has run out.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        if polled.is_ready() {
            self.armed = false;
            return polled;
        }
        let deadline = tokio::time::Instant::now() + self.limit;
        let timer = match &mut self.timer {
            Some(timer) => {
                if !self.armed {
                    timer.as_mut().reset(deadline);
                }
                timer
            }
            None => self
                .timer
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        self.armed = true;
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client read nothing within the write timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for WriteTimeout {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteTimeout {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.watch(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_flush(cx);
        this.watch(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_shutdown(cx);
        this.watch(cx, polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A socket pair whose far end reads nothing.
    async fn unread_pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let (client, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        (accepted.expect("accept").0, client.expect("connect"))
    }

    #[tokio::test]
    async fn a_write_that_makes_no_progress_fails_at_the_write_timeout() {
        use tokio::io::AsyncWriteExt;
        let (server, _client) = unread_pair().await;
        let limit = Duration::from_millis(300);
        let mut stream = WriteTimeout::new(server, limit);
        let chunk = vec![0u8; 64 << 10];
        let started = Instant::now();
        let error = loop {
            if let Err(e) = stream.write_all(&chunk).await {
                break e;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "never blocked");
        };
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= limit, "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_reader_that_keeps_reading_is_not_cut_off() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (server, mut client) = unread_pair().await;
        let limit = Duration::from_millis(300);
        let mut stream = WriteTimeout::new(server, limit);
        // the reader takes what has arrived every 50 ms: writes wait, in all far longer than
        // the limit, but never the limit at once
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 1 << 20];
            let mut total = 0;
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                match client.read(&mut buf).await {
                    Ok(0) | Err(_) => return total,
                    Ok(n) => total += n,
                }
            }
        });
        let chunk = vec![0u8; 256 << 10];
        let started = Instant::now();
        let (mut written, mut waited) = (0, Duration::ZERO);
        while started.elapsed() < Duration::from_millis(1500) {
            let write = Instant::now();
            stream
                .write_all(&chunk)
                .await
                .expect("a write that makes progress is not cut off");
            waited += write.elapsed();
            written += chunk.len();
        }
        assert!(waited > limit * 2, "the writes waited {waited:?} in all");
        drop(stream);
        let read = reader.await.expect("reader");
        assert_eq!(read, written);
    }
}
