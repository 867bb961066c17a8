//! Running the service: on AWS Lambda through `lambda_http`, or on a local socket.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use cache::{Clock, DynamoStore, Store, SystemClock, Tiered};

use crate::config::{Config, ConnectionLimits};
use crate::inspect::{Inspector, Lifetimes};
use crate::routes::{AppState, app};

/// Builds the state the routes share from the configuration: the registry client and the
/// cache (memory only, or in front of the DynamoDB table `MQUERY_TABLE`).
pub async fn state(config: &Config) -> Result<AppState, registry::Error> {
    state_with_clock(config, Arc::new(SystemClock)).await
}

/// [`state`] with a clock of the caller's, so tests can move time.
pub async fn state_with_clock(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<AppState, registry::Error> {
    let mut client_config = config.client.clone();
    if let Some(arn) = &config.docker_hub_secret_arn {
        // anonymous pulls still work: a secret that cannot be read is logged, not fatal
        match crate::secrets::docker_hub_credentials(arn, config.secrets_endpoint.clone()).await {
            Ok(credentials) => {
                tracing::info!(
                    username = credentials.username(),
                    "Docker Hub account read from Secrets Manager"
                );
                client_config.docker_hub_credentials = Some(credentials);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the Docker Hub secret; pulls stay anonymous");
            }
        }
    }
    let client = registry::Client::new(client_config)?;
    let store = match &config.table {
        Some(table) => Some(Arc::new(
            DynamoStore::connect(table.clone(), config.dynamodb_endpoint.clone()).await,
        ) as Arc<dyn Store>),
        None => None,
    };
    let cache = Tiered::new(config.cache_memory, store, Arc::clone(&clock));
    Ok(AppState::new(Inspector::new(
        client,
        cache,
        clock,
        Lifetimes::new(config.cache_ttl),
    )))
}

/// Runs in Lambda: one event at a time through the same router.
pub async fn run_lambda(state: AppState) -> Result<(), lambda_http::Error> {
    lambda_http::run(app(state)).await
}

/// The header and idle timeout while the server is under pressure: more than 3/4 of
/// `max_connections` open. Envoy's overload manager shrinks its downstream idle timers the
/// same way under load (the `envoy.overload_actions.reduce_timeouts` action, timer
/// `HTTP_DOWNSTREAM_CONNECTION_IDLE`, in Envoy's api/envoy/config/overload/v3/overload.proto).
pub const PRESSED_HEADER_TIMEOUT: Duration = Duration::from_secs(1);

/// How often the acceptor, while under pressure, closes the connections that have waited
/// for headers longer than [`PRESSED_HEADER_TIMEOUT`].
const REAP_EVERY: Duration = Duration::from_millis(100);

/// How long the acceptor, at the cap with no connection to shed, waits for a free slot before
/// looking again (a busy connection may have finished its request in the meantime).
const RECHECK: Duration = Duration::from_millis(50);

/// How long requests in flight may take to finish after SIGTERM.
const DRAIN: Duration = Duration::from_secs(10);

/// A single-threaded runtime: Lambda's (one event at a time) and each local worker's.
pub fn single_thread_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// The local server with one worker thread per core, each a single-threaded runtime, as nginx
/// runs a worker process per core: `runtime` (a current-thread runtime) accepts, and hands
/// each connection, in turn, to a worker, where it lives until it closes; no task moves
/// between threads. One accept queue and one connection cap, kept by the acceptor: at the cap
/// it closes the connection that has waited longest for a request's headers to make room (see
/// [`Board`]). On SIGTERM the acceptor stops and drains every worker's connections.
pub fn serve_local(
    runtime: tokio::runtime::Runtime,
    listen: SocketAddr,
    state: AppState,
    limits: ConnectionLimits,
    workers: usize,
) -> std::io::Result<()> {
    let mut handles = Vec::new();
    let mut threads = Vec::new();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // one core: the acceptor serves its connections itself
    let workers = if workers <= 1 { 0 } else { workers };
    for worker in 0..workers {
        let (ready, handle) = std::sync::mpsc::channel();
        let mut stopped = stopped.clone();
        let thread = std::thread::Builder::new()
            .name(format!("mquery-worker-{worker}"))
            .spawn(move || -> std::io::Result<()> {
                let runtime = single_thread_runtime()?;
                let _ = ready.send(runtime.handle().clone());
                // the worker runs the connections the acceptor spawns on it, until told to stop
                runtime.block_on(async move {
                    let _ = stopped.wait_for(|&stop| stop).await;
                });
                // blocking work still running (a DNS lookup, a large parse) does not hold up
                // the exit past the drain
                runtime.shutdown_timeout(Duration::from_secs(1));
                Ok(())
            })?;
        threads.push(thread);
        match handle.recv() {
            Ok(handle) => handles.push(handle),
            Err(_) => return Err(std::io::Error::other("a worker thread did not start")),
        }
    }
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        accept_loop(listener, state, limits, &handles).await
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    let _ = stop.send(true);
    for thread in threads {
        match thread.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "a worker failed"),
            Err(_) => tracing::error!("a worker panicked"),
        }
    }
    result
}

/// Accepts connections until SIGTERM or Ctrl-C, serving them here or, in turn, on `workers`;
/// then drains them.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ConnectionLimits,
    workers: &[tokio::runtime::Handle],
) -> std::io::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(
        max_connections = limits.max_connections,
        header_timeout_ms = limits.header_timeout.as_millis() as u64,
        write_timeout_ms = limits.write_timeout.as_millis() as u64,
        workers = workers.len().max(1),
        "listening on http://{addr}"
    );
    let service = TowerToHyperService::new(app(state));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let cap = limits.max_connections.max(1);
    let slots = Arc::new(tokio::sync::Semaphore::new(cap));
    let mut board = Board::new(cap);
    let pressed = limits.header_timeout.min(PRESSED_HEADER_TIMEOUT);
    let mut reap = tokio::time::interval(REAP_EVERY);
    reap.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let graceful = GracefulShutdown::new();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let mut next = 0usize;
    'accept: loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            _ = reap.tick() => {
                // under pressure the header timeout shrinks, for new and idle connections
                if board.pressed(cap - slots.available_permits()) {
                    board.shed_waiting_longer_than(pressed);
                }
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // out of descriptors, or the peer left before accept: wait, then go on
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => slot,
            // at the cap: make room by closing the connection that has waited longest for its
            // headers, then take its slot; when every connection is busy, wait for one to end
            Err(_) => loop {
                board.shed_oldest_waiting();
                tokio::select! {
                    () = &mut shutdown => break 'accept,
                    slot = Arc::clone(&slots).acquire_owned() => match slot {
                        Ok(slot) => break slot,
                        Err(_) => break 'accept,
                    },
                    () = tokio::time::sleep(RECHECK) => {}
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let tracked = board.add();
        let held = Held {
            tracked: Arc::clone(&tracked),
            _slot: slot,
        };
        let (http, watcher) = (http.clone(), graceful.watcher());
        let service = Tracking {
            inner: service.clone(),
            tracked: Arc::clone(&tracked),
        };
        let write_timeout = limits.write_timeout;
        let serve = move |stream: tokio::net::TcpStream| async move {
            let io = TokioIo::new(WriteTimeout::new(stream, write_timeout));
            let connection = watcher.watch(http.serve_connection(io, service));
            tokio::select! {
                result = connection => if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended");
                },
                () = held.tracked.shed.notified() => {
                    tracing::debug!(%peer, "connection shed: it had not sent its headers");
                }
            }
            drop(held);
        };
        match workers.get(next % workers.len().max(1)) {
            None => drop(tokio::spawn(serve(stream))),
            Some(worker) => {
                next = next.wrapping_add(1);
                // the worker's own reactor drives the socket from here on
                let stream = match stream.into_std() {
                    Ok(stream) => stream,
                    Err(e) => {
                        tracing::warn!(%peer, error = %e, "cannot hand over a connection");
                        continue;
                    }
                };
                worker.spawn(async move {
                    match tokio::net::TcpStream::from_std(stream) {
                        Ok(stream) => serve(stream).await,
                        Err(e) => {
                            tracing::warn!(%peer, error = %e, "cannot hand over a connection")
                        }
                    }
                });
            }
        }
    }
    drop(listener);
    tracing::info!(connections = graceful.count(), "draining");
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after {DRAIN:?}; stopping anyway");
    }
    tracing::info!("stopped");
    Ok(())
}

// What a connection is doing, in the low two bits of its word.
/// Waiting for a request's headers or reading them (a new or an idle keep-alive connection).
const WAITING: u64 = 0;
/// Handling a request: from the moment its headers are in until its response body is sent.
const BUSY: u64 = 1;
/// Closed by the acceptor; its task is ending and its slot is on the way back.
const SHED: u64 = 2;
/// Its task has ended and its slot is free.
const CLOSED: u64 = 3;
const STATE_BITS: u64 = 0b11;

/// One connection as the acceptor sees it. Its word packs what the connection is doing (low
/// two bits) with the millisecond, counted from the server's start, at which it began waiting
/// for headers, so one load reads both and a decision to shed is a compare-and-swap against
/// exactly the word that was judged: a connection whose headers arrive meanwhile is busy and
/// is not shed, and a shed connection does not start a request. The connection's own worker
/// moves it between WAITING and BUSY; only the acceptor moves it from WAITING to SHED.
#[derive(Debug)]
struct Tracked {
    word: AtomicU64,
    epoch: Instant,
    /// Told once, by the acceptor, when it sheds the connection.
    shed: Notify,
}

impl Tracked {
    fn new(epoch: Instant) -> Tracked {
        Tracked {
            word: AtomicU64::new(waiting_since_now(epoch)),
            epoch,
            shed: Notify::new(),
        }
    }

    /// A request's headers are in: busy, unless the acceptor shed the connection first.
    fn begin_request(&self) -> bool {
        self.word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                matches!(word & STATE_BITS, WAITING | BUSY).then_some(BUSY)
            })
            .is_ok()
    }

    /// The response has been sent (or dropped): waiting for the next request's headers, from
    /// now on.
    fn end_request(&self) {
        let waiting = waiting_since_now(self.epoch);
        let _ = self
            .word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                (word & STATE_BITS == BUSY).then_some(waiting)
            });
    }
}

/// Milliseconds since `epoch`, the server's start.
fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX >> 2)
}

/// The word of a connection that waits for headers from now on.
fn waiting_since_now(epoch: Instant) -> u64 {
    (millis_since(epoch) << 2) | WAITING
}

/// What a connection's task holds while it lives: its slot, and its entry on the board, which
/// it marks closed as it ends (however it ends), before the slot is given back.
struct Held {
    tracked: Arc<Tracked>,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.tracked.word.store(CLOSED, Ordering::Release);
    }
}

/// The acceptor's list of the connections it handed out, to every worker. Only the acceptor
/// reads it, so it needs no lock: workers change nothing but each connection's own word. It
/// is scanned only at the cap and, under pressure, every [`REAP_EVERY`]; closed entries are
/// dropped as it is scanned, and it never holds more than twice the cap.
///
/// Shedding at the cap follows nginx, which, out of connections, closes the connections that
/// are only waiting for a request, longest-waiting first (`ngx_drain_connections` in nginx's
/// src/core/ngx_connection.c; connections become reusable in `ngx_http_wait_request_handler`,
/// src/http/ngx_http_request.c). Here a connection still sending its headers counts as
/// waiting too: that is the connection a slow-header (slowloris) attack holds.
#[derive(Debug)]
struct Board {
    cap: usize,
    epoch: Instant,
    connections: Vec<Arc<Tracked>>,
    /// When shedding was last logged at WARN (at most once a second).
    warned: Option<Instant>,
}

impl Board {
    fn new(cap: usize) -> Board {
        Board {
            cap,
            epoch: Instant::now(),
            connections: Vec::new(),
            warned: None,
        }
    }

    fn add(&mut self) -> Arc<Tracked> {
        if self.connections.len() >= 2 * self.cap {
            self.connections
                .retain(|c| c.word.load(Ordering::Acquire) != CLOSED);
        }
        let tracked = Arc::new(Tracked::new(self.epoch));
        self.connections.push(Arc::clone(&tracked));
        tracked
    }

    /// More than 3/4 of the cap open.
    fn pressed(&self, open: usize) -> bool {
        open.saturating_mul(4) > self.cap.saturating_mul(3)
    }

    /// Sheds the connection that has waited longest for its headers, unless a connection shed
    /// earlier is still closing (its slot is on the way). Returns whether a slot is coming.
    fn shed_oldest_waiting(&mut self) -> bool {
        self.connections
            .retain(|c| c.word.load(Ordering::Acquire) != CLOSED);
        // a connection whose headers arrive between the look and the swap is busy and stays;
        // then the next one is tried (a few times: each miss is a connection that just began
        // a request)
        for _ in 0..4 {
            let mut oldest: Option<(u64, &Arc<Tracked>)> = None;
            for connection in &self.connections {
                let word = connection.word.load(Ordering::Acquire);
                match word & STATE_BITS {
                    SHED => return true,
                    WAITING if oldest.is_none_or(|(seen, _)| word < seen) => {
                        oldest = Some((word, connection));
                    }
                    _ => {}
                }
            }
            let Some((word, connection)) = oldest else {
                return false;
            };
            if shed(connection, word) {
                self.warn(
                    "connection cap reached: closing the connection waiting longest for headers",
                );
                return true;
            }
        }
        false
    }

    /// Sheds every connection that has waited longer than `limit` for its headers.
    fn shed_waiting_longer_than(&mut self, limit: Duration) {
        let now = millis_since(self.epoch);
        let limit = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        let mut count = 0usize;
        self.connections
            .retain(|c| c.word.load(Ordering::Acquire) != CLOSED);
        for connection in &self.connections {
            let word = connection.word.load(Ordering::Acquire);
            if word & STATE_BITS == WAITING
                && now.saturating_sub(word >> 2) >= limit
                && shed(connection, word)
            {
                count += 1;
            }
        }
        if count > 0 {
            self.warn(&format!(
                "over 3/4 of the connection cap open: closed {count} connections waiting more \
                 than {limit} ms for headers"
            ));
        }
    }

    fn warn(&mut self, message: &str) {
        if self
            .warned
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(1))
        {
            self.warned = Some(Instant::now());
            tracing::warn!(max_connections = self.cap, "{message}");
        }
    }
}

/// Moves a connection from exactly `word` (waiting) to shed, and tells its task.
fn shed(connection: &Tracked, word: u64) -> bool {
    let shed = connection
        .word
        .compare_exchange(word, SHED, Ordering::AcqRel, Ordering::Acquire)
        .is_ok();
    if shed {
        // stores a permit if the task is not waiting yet: it ends as soon as it looks
        connection.shed.notify_one();
    }
    shed
}

/// The router as a hyper service that marks its connection busy while a request is handled:
/// hyper calls a service only once a request's headers are parsed, and drops the response
/// body once it has all been written to the connection's buffer.
#[derive(Debug, Clone)]
struct Tracking<S> {
    inner: S,
    tracked: Arc<Tracked>,
}

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, Infallible>> + Send>>;

impl<S> hyper::service::Service<Request<Incoming>> for Tracking<S>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = Boxed<Self::Response>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        if !self.tracked.begin_request() {
            // shed by the acceptor just as the headers came in: the task is already ending
            let mut response = Response::new(TrackedBody {
                body: Body::empty(),
                _busy: None,
            });
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            return Box::pin(std::future::ready(Ok(response)));
        }
        let busy = Busy(Arc::clone(&self.tracked));
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| TrackedBody {
                body,
                _busy: Some(busy),
            }))
        })
    }
}

/// Marks its connection waiting again when dropped: when hyper is done with the response
/// body, or when the request is abandoned.
#[derive(Debug)]
struct Busy(Arc<Tracked>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.end_request();
    }
}

/// A response body that keeps its connection busy until hyper drops it.
#[derive(Debug)]
struct TrackedBody {
    body: Body,
    _busy: Option<Busy>,
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A connection's socket whose writes fail with `TimedOut` once a pending write has made no
/// progress for the write timeout: a client that reads nothing cannot hold a response (and
/// the memory of its body) longer than that. The timer runs only while a write is blocked
/// and restarts at each write that moves bytes: like nginx's `send_timeout` (declared in
/// src/http/ngx_http_core_module.c, armed on the blocked write event in `ngx_http_writer`,
/// src/http/ngx_http_request.c), it bounds the gap between two writes, not the whole answer,
/// so a slow reader on a slow link is not cut off. hyper has no write timeout of its own.
#[derive(Debug)]
struct WriteTimeout {
    stream: tokio::net::TcpStream,
    limit: Duration,
    /// Created the first time a write blocks (most connections never do), then reset.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    armed: bool,
}

impl WriteTimeout {
    fn new(stream: tokio::net::TcpStream, limit: Duration) -> WriteTimeout {
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

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A board of connections that began waiting `ages` ms ago (`None`: busy).
    fn board(ages: &[Option<u64>]) -> (Board, Vec<Arc<Tracked>>) {
        let mut board = Board::new(8);
        board.epoch = Instant::now() - Duration::from_secs(60);
        let now = millis_since(board.epoch);
        let tracked = ages
            .iter()
            .map(|age| {
                let tracked = board.add();
                match age {
                    Some(age) => tracked
                        .word
                        .store(((now - age) << 2) | WAITING, Ordering::SeqCst),
                    None => assert!(tracked.begin_request()),
                }
                tracked
            })
            .collect();
        (board, tracked)
    }

    fn state(tracked: &Tracked) -> u64 {
        tracked.word.load(Ordering::SeqCst) & STATE_BITS
    }

    #[test]
    fn at_the_cap_the_longest_waiting_connection_is_shed() {
        let (mut board, tracked) = board(&[Some(300), None, Some(5000), Some(10)]);
        assert!(board.shed_oldest_waiting());
        assert_eq!(state(&tracked[2]), SHED);
        assert_eq!(
            [0, 1, 3].map(|i| state(&tracked[i])),
            [WAITING, BUSY, WAITING]
        );
        // while it closes, its slot is on the way: nothing more is shed
        assert!(board.shed_oldest_waiting());
        assert_eq!(state(&tracked[0]), WAITING);
        // once closed, the next-longest waiting goes
        tracked[2].word.store(CLOSED, Ordering::SeqCst);
        assert!(board.shed_oldest_waiting());
        assert_eq!(state(&tracked[0]), SHED);
        // a shed connection does not start a request
        assert!(!tracked[0].begin_request());
        tracked[0].end_request();
        assert_eq!(state(&tracked[0]), SHED);
    }

    #[test]
    fn busy_connections_are_never_shed() {
        let (mut board, tracked) = board(&[None, None]);
        assert!(!board.shed_oldest_waiting());
        board.shed_waiting_longer_than(Duration::ZERO);
        assert_eq!(
            tracked.iter().map(|t| state(t)).collect::<Vec<_>>(),
            [BUSY; 2]
        );
        // the response sent, it waits for the next request's headers from now on
        tracked[0].end_request();
        assert_eq!(state(&tracked[0]), WAITING);
        board.shed_waiting_longer_than(Duration::from_secs(1));
        assert_eq!(state(&tracked[0]), WAITING);
        assert!(board.shed_oldest_waiting());
        assert_eq!(state(&tracked[0]), SHED);
    }

    #[test]
    fn a_connection_busy_since_the_look_is_not_shed() {
        let (_, tracked) = board(&[Some(2000)]);
        let seen = tracked[0].word.load(Ordering::SeqCst);
        assert!(tracked[0].begin_request());
        assert!(!shed(&tracked[0], seen));
        assert_eq!(state(&tracked[0]), BUSY);
    }

    #[test]
    fn under_pressure_connections_waiting_past_the_limit_are_shed() {
        let (mut board, tracked) = board(&[Some(1500), Some(200), None, Some(1000)]);
        assert!(!board.pressed(6));
        assert!(board.pressed(7));
        board.shed_waiting_longer_than(Duration::from_secs(1));
        assert_eq!(
            tracked.iter().map(|t| state(t)).collect::<Vec<_>>(),
            [SHED, WAITING, BUSY, SHED]
        );
    }

    #[test]
    fn closed_connections_leave_the_board() {
        let mut board = Board::new(2);
        for _ in 0..10 {
            let tracked = board.add();
            tracked.word.store(CLOSED, Ordering::SeqCst);
        }
        assert!(board.connections.len() <= 4, "{}", board.connections.len());
    }

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
