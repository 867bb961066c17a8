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
    // memory. The local server runs one single-threaded runtime per core (server::serve_local);
    // this one builds the state, then accepts connections and hands them to the workers.
    let runtime = match service::server::single_thread_runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("mquery-lambda: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let state = match runtime.block_on(server::state(&config)) {
        Ok(state) => state,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    if config.lambda {
        return match runtime.block_on(server::run_lambda(state)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "lambda runtime failed");
                ExitCode::FAILURE
            }
        };
    }
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    match server::serve_local(runtime, config.listen, state, config.connections, workers) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(listen = %config.listen, error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}
