//! The OpenAPI document (`GET /openapi.json`, generated from the handlers by utoipa): the real
//! binary serves exactly docs/openapi.json, and `openapi-spec-validator` (PyPI, pinned in
//! scripts/requirements-ci.txt, in `.cache/venv`) accepts it and rejects a broken copy.
//!
//! After a change to the API, regenerate the file with
//! `MQUERY_UPDATE_OPENAPI=1 cargo nextest run -p mquery-lambda --test openapi` (then review
//! and commit its diff).

use std::path::{Path, PathBuf};
use std::process::Command;

use mquery_tests::process::ServiceProcess;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The document as the real binary serves it (no image is looked up).
async fn served() -> String {
    let server = ServiceProcess::start(Path::new(env!("CARGO_BIN_EXE_mquery-lambda")), &[]);
    let response = reqwest::get(format!("{}/openapi.json", server.base_url()))
        .await
        .expect("the service answers");
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(
        mquery_tests::header(headers, "content-type"),
        Some("application/json")
    );
    assert_eq!(
        mquery_tests::header(headers, "cache-control"),
        Some("public, max-age=3600")
    );
    response.text().await.expect("a body")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_served_document_is_docs_openapi_json() {
    let served = served().await;
    let doc: serde_json::Value = serde_json::from_str(&served).expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let path = root().join("docs/openapi.json");
    if std::env::var_os("MQUERY_UPDATE_OPENAPI").is_some_and(|v| v == "1") {
        std::fs::write(&path, &served).expect("write docs/openapi.json");
    }
    let kept = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        kept == served,
        "docs/openapi.json is not the document the service serves: regenerate it with \
         `MQUERY_UPDATE_OPENAPI=1 cargo nextest run -p mquery-lambda --test openapi` and commit it"
    );
}

/// `openapi-spec-validator`'s verdict on `doc`: whether it exited 0, and what it said.
fn validate(doc: &serde_json::Value) -> (bool, String) {
    let python = root().join(".cache/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test.sh, which installs openapi-spec-validator",
        python.display()
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, doc.to_string()).expect("write the document");
    let out = Command::new(python)
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("run openapi-spec-validator");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // an error repeats the whole document: its first lines say what is wrong
    let said: String = said.chars().take(2000).collect();
    (out.status.success(), said)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_document_validates_and_a_broken_copy_does_not() {
    let mut doc: serde_json::Value = serde_json::from_str(&served().await).expect("JSON");
    let (valid, said) = validate(&doc);
    assert!(valid, "openapi-spec-validator rejects the document: {said}");
    assert!(said.contains("OK"), "{said}");

    // a response without its required description, and a status that is not one
    let responses = &mut doc["paths"]["/healthz"]["get"]["responses"];
    let ok = responses["200"].as_object_mut().expect("a 200 response");
    ok.remove("description");
    responses["2000"] = serde_json::json!({"description": "no such status"});
    let (valid, said) = validate(&doc);
    assert!(
        !valid,
        "openapi-spec-validator accepts a broken document: {said}"
    );
    assert!(said.contains("description"), "{said}");
}
