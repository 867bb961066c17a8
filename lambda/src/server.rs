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

/// Serves on `listener` until SIGTERM or SIGINT, then finishes the requests in flight.
pub async fn run_local(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ConnectionLimits,
) -> std::io::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(
        max_connections = limits.max_connections,
        header_timeout_ms = limits.header_timeout.as_millis() as u64,
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
        let connection = http.serve_connection(TokioIo::new(stream), service.clone());
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            drop(slot);
        });
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
