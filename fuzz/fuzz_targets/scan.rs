//! The stack scanner survives any file: whatever the bytes and whichever kind its name hints
//! at (Compose, Dockerfile, list, Kubernetes), a scan and a check's plan neither panic, nor
//! overflow the stack (a 5,000-deep YAML once did), nor allocate without bound (libFuzzer's
//! -rss_limit_mb and -malloc_limit_mb in scripts/fuzz.sh turn an alias bomb or a runaway
//! expansion into a crash), and the report keeps the row limit of stack/src/limits.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use output::{ErrorBody, ErrorCode, ErrorReport};
use oci::Sense;
use stack::plan::Plan;
use stack::limits::MAX_ROWS;

/// The name a file is posted or read under: a hint for its kind, chosen by the first byte.
const NAMES: [&str; 8] = [
    "compose.yaml",
    "Dockerfile",
    "list.txt",
    "k8s.yaml",
    ".gitlab-ci.yml",
    "ci.yml",
    "devcontainer.json",
    "kustomization.yaml",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let name = NAMES[usize::from(selector) % NAMES.len()];
    // the service refuses a body that is not UTF-8 and the CLI reads text: lossy decoding
    // keeps every byte sequence reachable as some text
    let text = String::from_utf8_lossy(body);
    let context = stack::Context::default();

    let scan = stack::scan(name, &text, &context);
    for found in &scan.found {
        assert!(found.location.starts_with(name), "{found:?}");
    }

    let mut plan = Plan::new(None);
    plan.add(name, &text, &context);
    let references = plan.references();
    assert_eq!(references.len(), plan.len());
    // every lookup failed, as when no registry answers: each image is still a row
    let outcomes = references
        .iter()
        .map(|reference| {
            Err(ErrorReport {
                image: Some(reference.clone()),
                reference: None,
                error: ErrorBody {
                    code: ErrorCode::NotFound,
                    message: "not found".to_owned(),
                },
            })
        })
        .collect();
    let report = plan.judge(outcomes, Sense::Native);
    // at most MAX_ROWS places are kept; one more row says how many were not
    assert!(
        report.rows.len() <= MAX_ROWS + 1,
        "{} rows",
        report.rows.len()
    );
    let _ = report.table();
    let _ = serde_json::to_vec(&report);
});
