//! Running the service: on AWS Lambda through `lambda_http`, or on a local socket.

use std::net::SocketAddr;

use std::sync::Arc;

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
    let client = registry::Client::new(config.client.clone())?;
    let store = match &config.table {
        Some(table) => Some(Store::Dynamo(
            DynamoStore::connect(table.clone(), config.dynamodb_endpoint.clone()).await,
        )),
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

/// Serves on `listener` until SIGTERM or SIGINT, then finishes the requests in flight.
pub async fn run_local(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!("listening on http://{addr}");
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
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
