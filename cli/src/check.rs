//! `mquery check FILE...`: will a whole stack run on a platform? Every image reference of the
//! files (Compose, Kubernetes/Helm output, Dockerfiles, lists: `mquery_stack`) is looked up
//! once, all at once, and judged against `--platform` (or the platform the file itself asks
//! for: a Compose service's `platform:`, `FROM --platform=`). The plan and the report are
//! `stack::check`'s, shared with the service's `POST /v1/check`.

use std::io::{Read as _, Write as _};

use registry::Sense;
use stack::check::{Asked, Plan, Status};

use crate::{Backend, EXIT_ERROR, EXIT_PLATFORM_UNSUPPORTED, lookup_all};

/// Reads `files` (`-` is standard input); `Err` is a sentence for stderr.
fn read(files: &[String]) -> Result<Vec<(String, String)>, String> {
    files
        .iter()
        .map(|file| {
            let mut text = String::new();
            let read = if file == "-" {
                std::io::stdin().read_to_string(&mut text).map(|_| ())
            } else {
                std::fs::read_to_string(file).map(|t| text = t)
            };
            read.map(|()| (file.clone(), text))
                .map_err(|e| format!("cannot read {file}: {e}"))
        })
        .collect()
}

pub async fn run(
    backend: &Backend,
    files: &[String],
    platform: Option<Asked>,
    sense: Sense,
    json: bool,
) -> u8 {
    let texts = match read(files) {
        Ok(texts) => texts,
        Err(e) => {
            eprintln!("mquery: {e}");
            return EXIT_ERROR;
        }
    };
    let mut plan = Plan::new(platform);
    for (file, text) in &texts {
        plan.add(file, text, &stack::Context::default());
    }
    // one lookup per distinct reference, all at once (the client bounds concurrency)
    let outcomes = lookup_all(backend, &plan.references(), false).await;
    let report = plan.judge(outcomes, sense);
    let mut stdout = std::io::stdout().lock();
    if json {
        let text = serde_json::to_string_pretty(&report).unwrap_or_default();
        let _ = writeln!(stdout, "{text}");
    } else {
        let _ = write!(stdout, "{}", report.table());
    }
    let _ = stdout.flush();
    match report.status {
        Status::Ok => 0,
        Status::Unsupported => EXIT_PLATFORM_UNSUPPORTED,
        Status::Error => EXIT_ERROR,
    }
}
