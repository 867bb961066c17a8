//! `mquery-lambda`: the service on AWS Lambda when `AWS_LAMBDA_RUNTIME_API` is set,
//! otherwise a local HTTP server on `MQUERY_LISTEN` (default 127.0.0.1:8080).
//! Bootstrap only: configuration, logging, then `service::server`.

use std::process::ExitCode;

use service::config::Config;
use service::server;

fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("mquery-lambda: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if config.lambda {
        // CloudWatch adds its own timestamps; JSON lines are queryable in Logs Insights
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(true)
            .with_ansi(false)
            .without_time()
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    // Lambda hands an instance one event at a time: one thread starts faster and uses less
    // memory. The local server serves many connections on every core.
    let runtime = if config.lambda {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("mquery-lambda: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let state = match server::state(&config).await {
            Ok(state) => state,
            Err(e) => {
                tracing::error!(error = %e, "cannot start");
                return ExitCode::FAILURE;
            }
        };
        if config.lambda {
            match server::run_lambda(state).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "lambda runtime failed");
                    ExitCode::FAILURE
                }
            }
        } else {
            let listener = match tokio::net::TcpListener::bind(config.listen).await {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::error!(listen = %config.listen, error = %e, "cannot listen");
                    return ExitCode::FAILURE;
                }
            };
            match server::run_local(listener, state, config.connections).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "server failed");
                    ExitCode::FAILURE
                }
            }
        }
    })
}
