//! The service scans too: `POST /v1/check` and the page's "check a file" form take a file (a
//! Compose file, Kubernetes YAML, a Dockerfile or a list), look each distinct image up once,
//! all at once, through the same cache as every route, and answer `stack::report`'s report:
//! the document `mquery check --json` prints.

use std::time::Duration;

use tokio::time::Instant;

use axum::body::{Body, Bytes};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use output::{ErrorReport, LookupResult};
use registry::{Sense, gather};
use stack::plan::{Asked, Plan};
use stack::report::StackReport;

use crate::error::AppError;
use crate::inspect::{Inspector, parse_image};

use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::{AppState, Format, openapi, params, set, typed};
use crate::freshness::{NO_STORE, preflight_max_age};

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
/// A whole check answers within this time of its request's arrival, with every row that
/// finished and the others marked as timed out: API Gateway ends every request at 29 s.
pub const CHECK_DEADLINE: Duration = Duration::from_secs(25);
/// The largest answer a check sends; a larger one is a 413 (split the file). Each of 200
/// images can list up to 1,024 platforms.
pub const MAX_ANSWER: usize = 8 << 20;

/// The 413 for `what` over `limit` bytes.
pub fn too_large(what: &str, limit: usize) -> AppError {
    AppError::payload_too_large(format!(
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
        Ok(Err(e)) => Err(AppError::invalid_parameter(format!(
            "the request body could not be read: {e}"
        ))),
        Err(_) => Err(AppError::invalid_parameter(format!(
            "the request body did not arrive within {} s",
            BODY_DEADLINE.as_secs()
        ))),
    }
}

/// The file as text: checks read UTF-8 (YAML and Dockerfiles are).
pub fn text(body: &[u8]) -> Result<&str, AppError> {
    std::str::from_utf8(body).map_err(|e| {
        AppError::invalid_parameter(format!(
            "the file is not UTF-8 text (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// Scans `text` (named `name` in `file:line`) on a blocking thread, off the async workers;
/// looks every distinct image up concurrently (at most [`CHECK_IN_FLIGHT`] at once, within
/// the client's per-registry bulkheads) until `deadline`, and judges them. More than
/// [`MAX_IMAGES`] distinct images is a 413, before any lookup.
pub async fn check(
    inspector: &Inspector,
    name: &str,
    text: String,
    asked: Option<Asked>,
    sense: Sense,
    deadline: Instant,
) -> Result<StackReport, AppError> {
    let name = name.to_owned();
    // no environment: a variable without a default stays unresolved; a Dockerfile's TARGET*
    // arguments hold the platform asked for; no other file is read (a Compose include is a
    // row that says so)
    let build = stack::Triple::host();
    let context = stack::Context {
        vars: None,
        target: asked
            .as_ref()
            .map(|(_, spec)| stack::Triple::target(spec, &build)),
        build,
        files: None,
    };
    let scanned = tokio::task::spawn_blocking(move || {
        let mut plan = Plan::new(asked);
        plan.add(&name, &text, &context);
        plan
    });
    let plan = scanned
        .await
        .map_err(|e| AppError::internal(format!("the scan failed: {e}")))?;
    if plan.len() > MAX_IMAGES {
        return Err(AppError::payload_too_large(format!(
            "the file names {} distinct images; a check looks up at most {MAX_IMAGES} (split the file)",
            plan.len()
        )));
    }
    let outcomes = gather(
        &plan.references(),
        CHECK_IN_FLIGHT,
        Some(deadline),
        |image| {
            let inspector = inspector.clone();
            async move { lookup(&inspector, &image).await }
        },
    )
    .await
    .into_iter()
    .map(|outcome| {
        outcome.unwrap_or_else(|u| Err(ErrorReport::of_image(u.item(), u.code(), u.to_string())))
    })
    .collect();
    Ok(plan.judge(outcomes, sense))
}

/// The report as JSON, written into at most [`MAX_ANSWER`] bytes: the writer refuses the
/// byte past the cap, so an oversized answer is never built whole.
pub fn answer(report: &StackReport) -> Result<Vec<u8>, AppError> {
    capped_json(report, MAX_ANSWER).map_err(|e| match e {
        None => AppError::payload_too_large(format!(
            "the answer would be larger than {} MiB; a check answers at most that (split the file)",
            MAX_ANSWER >> 20
        )),
        Some(e) => AppError::internal(format!("the answer did not serialize: {e}")),
    })
}

/// `value` as JSON in at most `cap` bytes; `Err(None)` past the cap.
fn capped_json<T: serde::Serialize>(
    value: &T,
    cap: usize,
) -> Result<Vec<u8>, Option<serde_json::Error>> {
    let mut out = Capped {
        bytes: Vec::new(),
        cap,
        over: false,
    };
    match serde_json::to_writer(&mut out, value) {
        Ok(()) => Ok(out.bytes),
        Err(_) if out.over => Err(None),
        Err(e) => Err(Some(e)),
    }
}

struct Capped {
    bytes: Vec<u8>,
    cap: usize,
    over: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.cap {
            self.over = true;
            return Err(std::io::Error::other("over the answer's cap"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One image's v1 document, or its error document (the 5xx message names only the registry,
/// as on every route; the inspector logs the detail).
async fn lookup(inspector: &Inspector, image: &str) -> LookupResult {
    let failure = match parse_image(Some(image)) {
        Ok((image, reference)) => match inspector.inspect(&image, &reference).await {
            Ok(answer) => return Ok(answer.report(&image)),
            Err(failure) => failure,
        },
        Err(failure) => failure,
    };
    Err(failure.report())
}

/// `POST /v1/check[?platform=P][&compatible=1][&name=FILE]`: the body is a Compose file,
/// Kubernetes YAML, a Dockerfile or a list (at most 1 MiB and 200 distinct images, else 413);
/// the answer is `mquery check --json`'s document, 200 whatever the verdicts (its `status`
/// says them).
#[utoipa::path(
    post,
    path = "/v1/check",
    tag = "check",
    params(openapi::CheckQuery),
    request_body(description = "The file, as is: UTF-8, at most 1 MiB, at most 200 distinct images; any Content-Type. Without a body, an empty file: `status` is `error`, with the problem `no image references found`", content(
        (Option<String> = "text/plain"),
        (Option<serde_json::Value> = "application/yaml"),
    )),
    responses(
        (status = 200, description = "The check document (docs/json.md), whatever the verdicts: its `status` says them", body = StackReport),
        openapi::CheckErrors,
    ),
)]
pub(super) async fn check_file(
    State(state): State<AppState>,
    uri: Uri,
    body: Body,
) -> Result<Response, AppError> {
    let deadline = Instant::now() + CHECK_DEADLINE;
    let p = params::query(&uri);
    let platform = p.platform()?;
    let name = p.file_name();
    let body = read_body(body, MAX_FILE, "the file").await?;
    let file = text(&body)?.to_owned();
    drop(body);
    let report = check(&state.inspector, &name, file, platform, p.sense(), deadline).await?;
    Ok(typed(
        StatusCode::OK,
        answer(&report)?,
        Format::Json,
        NO_STORE,
    ))
}

/// CORS preflight for `/v1/check`, as template.yaml's API answers it in production: a page on
/// another origin may post a file as `application/yaml`.
#[utoipa::path(
    options,
    path = "/v1/check",
    tag = "check",
    responses((status = 204, description = "The CORS preflight: `Access-Control-Allow-Methods: POST`, `Access-Control-Allow-Headers: content-type`")),
)]
pub(super) async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    set(&mut response, header::ACCESS_CONTROL_ALLOW_METHODS, "POST");
    set(
        &mut response,
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        "content-type",
    );
    set(
        &mut response,
        header::ACCESS_CONTROL_MAX_AGE,
        &preflight_max_age(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_over_its_cap_is_refused_while_written() {
        let rows: Vec<String> = (0..10_000).map(|i| format!("row {i}")).collect();
        let whole = serde_json::to_vec(&rows).expect("serializes");
        assert_eq!(capped_json(&rows, whole.len()).ok(), Some(whole.clone()));
        assert!(matches!(capped_json(&rows, whole.len() - 1), Err(None)));
        assert!(matches!(capped_json(&rows, 10), Err(None)));
    }
}
