//! The service scans too: `POST /v1/check` and the page's "check a file" form take a file (a
//! Compose file, Kubernetes YAML, a Dockerfile or a list), look each distinct image up once,
//! all at once, through the same cache as every route, and answer `stack::check`'s report:
//! the document `mquery check --json` prints.

use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use registry::Sense;
use stack::check::{Asked, Outcome, Plan, StackReport, gather};

use crate::error::AppError;
use crate::inspect::{Inspector, parse_image};

/// The largest file a check reads.
pub const MAX_FILE: usize = 1 << 20;
/// The most distinct images one check looks up.
pub const MAX_IMAGES: usize = 200;
/// The most lookups one check has in flight: half the client's 64, so a check of a large
/// stack leaves the other half to everyone else's requests.
const CHECK_IN_FLIGHT: usize = 32;
/// How long a client has to send its body (the local server's header timeout does not cover
/// it).
const BODY_DEADLINE: Duration = Duration::from_secs(20);

/// The 413 for `what` over `limit` bytes.
pub fn too_large(what: &str, limit: usize) -> AppError {
    AppError::PayloadTooLarge(format!(
        "{what} is larger than {} KiB; a check reads at most that much",
        limit / 1024
    ))
}

/// Reads a request body of at most `limit` bytes; `what` names it in the 413's sentence.
pub async fn read_body(body: Body, limit: usize, what: &str) -> Result<Bytes, AppError> {
    let collected = tokio::time::timeout(BODY_DEADLINE, Limited::new(body, limit).collect()).await;
    match collected {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(what, limit)),
        Ok(Err(e)) => Err(AppError::InvalidParameter(format!(
            "the request body could not be read: {e}"
        ))),
        Err(_) => Err(AppError::InvalidParameter(format!(
            "the request body did not arrive within {} s",
            BODY_DEADLINE.as_secs()
        ))),
    }
}

/// The file as text: checks read UTF-8 (YAML and Dockerfiles are).
pub fn text(body: &[u8]) -> Result<&str, AppError> {
    std::str::from_utf8(body).map_err(|e| {
        AppError::InvalidParameter(format!(
            "the file is not UTF-8 text (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// Scans `text` (named `name` in `file:line`), looks every distinct image up concurrently
/// (at most [`CHECK_IN_FLIGHT`] at once, within the client's per-registry bulkheads) and
/// judges them. More than [`MAX_IMAGES`] distinct images is a 413, before any lookup.
pub async fn check(
    inspector: &Inspector,
    name: &str,
    text: &str,
    asked: Option<Asked>,
    sense: Sense,
) -> Result<StackReport, AppError> {
    let mut plan = Plan::new(asked);
    plan.add(name, text, &stack::Context::default());
    if plan.len() > MAX_IMAGES {
        return Err(AppError::PayloadTooLarge(format!(
            "the file names {} distinct images; a check looks up at most {MAX_IMAGES} (split the file)",
            plan.len()
        )));
    }
    let outcomes = gather(&plan.references(), CHECK_IN_FLIGHT, |image| {
        let inspector = inspector.clone();
        async move { lookup(&inspector, &image).await }
    })
    .await;
    Ok(plan.judge(outcomes, sense))
}

/// One image's v1 document, or its error document (the 5xx message names only the registry,
/// as on every route; the inspector logs the detail).
async fn lookup(inspector: &Inspector, image: &str) -> Outcome {
    let failure = match parse_image(Some(image)) {
        Ok((image, reference)) => match inspector.inspect(&image, &reference).await {
            Ok(answer) => return Ok(answer.report(&image)),
            Err(failure) => failure,
        },
        Err(failure) => failure,
    };
    Err(failure
        .error
        .to_report(failure.image.as_deref(), failure.reference.as_deref()))
}
