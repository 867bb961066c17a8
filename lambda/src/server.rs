//! Running the service: on AWS Lambda through `lambda_http`, or on a local socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

use cache::{Clock, DynamoStore, Store, SystemClock, Tiered};

use crate::config::Config;
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

/// Limits of the local server's connections (`MQUERY_MAX_CONNECTIONS`,
/// `MQUERY_HEADER_TIMEOUT_MS`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections open at once; at the cap the server stops accepting until one closes (the
    /// kernel's backlog holds the next ones).
    pub max_connections: usize,
    /// A request's headers must arrive within this time, and an idle keep-alive connection
    /// is closed after it: silent and slow clients cannot hold connections.
    pub header_timeout: Duration,
}

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
/// between threads. One accept queue and one connection cap: at the cap, new clients wait in
/// the backlog. On SIGTERM the acceptor stops and drains every worker's connections.
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
        workers = workers.len().max(1),
        "listening on http://{addr}"
    );
    let service = TowerToHyperService::new(app(state));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let mut next = 0usize;
    loop {
        // wait for a free slot before accepting: at the cap, new clients wait in the backlog
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
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
        let _ = stream.set_nodelay(true);
        let (http, service, watcher) = (http.clone(), service.clone(), graceful.watcher());
        let serve = move |stream: tokio::net::TcpStream| async move {
            let connection = http.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            drop(slot);
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
