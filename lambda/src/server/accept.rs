//! The local server's accept loop: one accept queue and one connection cap, kept by the
//! acceptor, which hands each connection to a worker and drains them all on SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

use super::shedding::{Board, Held, Tracking};
use super::shutdown_signal;
use super::write_timeout::WriteTimeout;
use crate::config::ConnectionLimits;
use crate::routes::{AppState, app};

/// The header and idle timeout while the server is under pressure: more than 3/4 of
/// `max_connections` open. Envoy's overload manager shrinks its downstream idle timers the
/// same way under load (the `envoy.overload_actions.reduce_timeouts` action, timer
/// `HTTP_DOWNSTREAM_CONNECTION_IDLE`, in Envoy's api/envoy/config/overload/v3/overload.proto).
pub const PRESSED_HEADER_TIMEOUT: Duration = Duration::from_secs(1);

/// How often the acceptor, while under pressure, closes the connections that have waited
/// for headers longer than [`PRESSED_HEADER_TIMEOUT`].
pub(super) const REAP_EVERY: Duration = Duration::from_millis(100);

/// How long the acceptor, at the cap with no connection to shed, waits for a free slot before
/// looking again (a busy connection may have finished its request in the meantime).
const RECHECK: Duration = Duration::from_millis(50);

/// How long requests in flight may take to finish after SIGTERM.
const DRAIN: Duration = Duration::from_secs(10);

/// Accepts connections until SIGTERM or Ctrl-C, serving them here or, in turn, on `workers`;
/// then drains them.
pub(super) async fn accept_loop(
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
