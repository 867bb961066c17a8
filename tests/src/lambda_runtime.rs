//! A Lambda function under cargo-lambda's own Runtime API emulator, on loopback only.
//!
//! - [`Emulator`]: `cargo lambda watch --only-lambda-apis` on a free port (the Runtime API the
//!   function polls, and the invoke API events are posted to), with a function timeout.
//! - [`Function`]: a function binary (`mquery-lambda`, or the hello-world example) started
//!   as Lambda starts a `provided.al2023` bootstrap: a clean environment with
//!   `AWS_LAMBDA_RUNTIME_API` and the `AWS_LAMBDA_FUNCTION_*` variables lambda_runtime reads.
//!   Its stdout and stderr are captured line by line, and it is killed on drop.
//! - [`RuntimeApiProxy`]: a TCP proxy between the function and the emulator that timestamps
//!   the function's first `GET .../runtime/invocation/next`, the end of its init phase (the
//!   emulator does not report an init duration). Every [`Function`] runs behind one, so
//!   "ready" means "asked for its first event", and the init duration is measured for free.
//!
//! Events go to the emulator's invoke route, `POST /2015-03-31/functions/_/invocations`, the
//! route `cargo lambda invoke` itself posts to ([`Emulator::invoke_with_cli`] runs that
//! command for comparison). Posting from reqwest saves a process start per event (20-60 ms
//! here) and times the invocation alone.
//!
//! cargo-lambda is installed by scripts/setup-test-env.sh into `.cache/venv` (pinned in
//! scripts/requirements-ci.txt); without it everything here fails, loudly, saying so.

use std::path::PathBuf;

mod capture;
mod emulator;
mod events;
mod function;
mod proxy;
mod response;

pub use capture::Captured;
pub use emulator::Emulator;
pub use events::{fill_event, http_api_event};
pub use function::Function;
pub use proxy::RuntimeApiProxy;
pub use response::{HttpResponse, Invocation};

/// The function name the emulator knows without a Cargo project to build: `_`, its default
/// function. Another name leaves `cargo lambda invoke` waiting for a function that never
/// polls.
pub const FUNCTION_NAME: &str = "_";

/// The memory size the function is told it has: template.yaml's default `MemorySize`.
pub const MEMORY_SIZE_MB: u32 = 256;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The pinned `cargo-lambda` binary. Panics, telling what to run, when it is not installed.
pub fn cargo_lambda() -> PathBuf {
    let path = root().join(".cache/venv/bin/cargo-lambda");
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup-test-env.sh (it installs cargo-lambda, pinned in \
         scripts/requirements-ci.txt, into .cache/venv)",
        path.display()
    );
    path
}
