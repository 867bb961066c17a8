//! Running the service: on AWS Lambda through `lambda_http`, or on a local socket.

use std::net::SocketAddr;

use crate::config::Config;
use crate::inspect::Inspector;
use crate::routes::{AppState, app};

/// Builds the state the routes share from the configuration.
pub fn state(config: &Config) -> Result<AppState, registry::Error> {
    let client = registry::Client::new(config.client.clone())?;
    Ok(AppState::new(Inspector::new(client)))
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
