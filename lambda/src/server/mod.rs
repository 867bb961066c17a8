//! Running the service: on AWS Lambda through `lambda_http`, or on a local socket.
//!
//! - this file: the state from the configuration, Lambda, the local server's workers and
//!   shutdown signal;
//! - [`accept`]: the accept loop, the connection cap's wait and the drain;
//! - [`shedding`]: the board of open connections and what each is doing, shedding at the cap
//!   and under pressure;
//! - [`write_timeout`]: the socket whose blocked writes time out.

use crate::challenge_book::StoreBook;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cache::{Clock, DynamoStore, Store, SystemClock, Tiered};

use crate::config::{Config, ConnectionLimits};
use crate::freshness::Lifetimes;
use crate::inspect::Inspector;
use crate::routes::{AppState, app};

mod accept;
mod shedding;
mod write_timeout;

pub use accept::PRESSED_HEADER_TIMEOUT;

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
    let store = match &config.table {
        Some(table) => Some(Arc::new(
            DynamoStore::connect(table.clone(), config.dynamodb_endpoint.clone()).await,
        ) as Arc<dyn Store>),
        None => None,
    };
    // with a table, the registries' challenges outlive the instance (docs/registries.md);
    // in memory only, what the process learns is all it knows
    let client = match &store {
        Some(store) => registry::Client::with_book(
            client_config,
            Arc::new(StoreBook::new(Arc::clone(store), Arc::clone(&clock))),
        )?,
        None => registry::Client::new(client_config)?,
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
/// server/shedding.rs). On SIGTERM the acceptor stops and drains every worker's connections.
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
        accept::accept_loop(listener, state, limits, &handles).await
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

pub(super) async fn shutdown_signal() {
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
