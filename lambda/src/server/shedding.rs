//! The local server's connection cap and its shedding: the acceptor's board of every open
//! connection and what each is doing, and the service wrapper that marks a connection busy
//! while it handles a request.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::{Request, Response, StatusCode};
use tokio::sync::Notify;

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
pub(super) struct Tracked {
    word: AtomicU64,
    epoch: Instant,
    /// Told once, by the acceptor, when it sheds the connection.
    pub(super) shed: Notify,
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
pub(super) struct Held {
    pub(super) tracked: Arc<Tracked>,
    pub(super) _slot: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.tracked.word.store(CLOSED, Ordering::Release);
    }
}

/// The acceptor's list of the connections it handed out, to every worker. Only the acceptor
/// reads it, so it needs no lock: workers change nothing but each connection's own word. It
/// is scanned only at the cap and, under pressure, every [`REAP_EVERY`](super::accept::REAP_EVERY); closed entries are
/// dropped as it is scanned, and it never holds more than twice the cap.
///
/// Shedding at the cap follows nginx, which, out of connections, closes the connections that
/// are only waiting for a request, longest-waiting first (`ngx_drain_connections` in nginx's
/// src/core/ngx_connection.c; connections become reusable in `ngx_http_wait_request_handler`,
/// src/http/ngx_http_request.c). Here a connection still sending its headers counts as
/// waiting too: that is the connection a slow-header (slowloris) attack holds.
#[derive(Debug)]
pub(super) struct Board {
    cap: usize,
    epoch: Instant,
    connections: Vec<Arc<Tracked>>,
    /// When shedding was last logged at WARN (at most once a second).
    warned: Option<Instant>,
}

impl Board {
    pub(super) fn new(cap: usize) -> Board {
        Board {
            cap,
            epoch: Instant::now(),
            connections: Vec::new(),
            warned: None,
        }
    }

    pub(super) fn add(&mut self) -> Arc<Tracked> {
        if self.connections.len() >= 2 * self.cap {
            self.connections
                .retain(|c| c.word.load(Ordering::Acquire) != CLOSED);
        }
        let tracked = Arc::new(Tracked::new(self.epoch));
        self.connections.push(Arc::clone(&tracked));
        tracked
    }

    /// More than 3/4 of the cap open.
    pub(super) fn pressed(&self, open: usize) -> bool {
        open.saturating_mul(4) > self.cap.saturating_mul(3)
    }

    /// Sheds the connection that has waited longest for its headers, unless a connection shed
    /// earlier is still closing (its slot is on the way). Returns whether a slot is coming.
    pub(super) fn shed_oldest_waiting(&mut self) -> bool {
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
    pub(super) fn shed_waiting_longer_than(&mut self, limit: Duration) {
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
pub(super) struct Tracking<S> {
    pub(super) inner: S,
    pub(super) tracked: Arc<Tracked>,
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
pub(super) struct TrackedBody {
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
}
