//! The HTML page in a real headless Chromium: a person types an image, submits the form and
//! reads the platforms; hostile registry strings show as text and run nothing.
//! A screenshot of each page is written to target/screenshots/ to look at.

use std::path::{Path, PathBuf};

use mquery_tests::browser::Browser;
use mquery_tests::fixtures::{APP, Pusher, open_with_app};
use mquery_tests::process::ServiceProcess;
use serde_json::json;

fn screenshot(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/screenshots")
        .join(name)
}

#[tokio::test(flavor = "multi_thread")]
async fn form_submits_and_lists_platforms_and_hostile_strings_are_text() {
    let (registry, _) = open_with_app().await;
    let hostile = json!({
        "os": "linux",
        "architecture": "amd64",
        "variant": "<img src=x onerror=alert(1)><script>alert(2)</script>"
    });
    Pusher::open(&registry)
        .index_naming_one_image("evil/app", "v1", vec![hostile])
        .await;
    let binary = Path::new(env!("CARGO_BIN_EXE_mquery-lambda"));
    let service = ServiceProcess::start(binary, &[registry.insecure_env()]);
    let browser = Browser::start().await;

    // a person opens the page, types a reference and submits
    browser.goto(&format!("{}/", service.base_url())).await;
    let input = browser.find("input[name=image]").await;
    let image = registry.image(APP);
    browser.type_into(&input, &image).await;
    let submit = browser.find("button[type=submit]").await;
    browser.click(&submit).await;
    let result = browser.find("#result table").await;
    assert!(browser.url().await.contains("image="), "the form navigated");
    let table = browser.text(&result).await;
    for platform in [
        "linux/amd64",
        "linux/arm64/v8",
        "linux/arm/v7",
        "linux/ppc64le",
        "linux/s390x",
    ] {
        assert!(
            table.contains(platform),
            "{platform} missing from:\n{table}"
        );
    }
    let card = browser.text(&browser.find("#result").await).await;
    assert!(card.contains("Multi-platform"), "{card}");
    assert!(
        card.contains("Manifest list\nYes") || card.contains("Manifest list Yes"),
        "{card}"
    );
    browser.screenshot(&screenshot("result.png")).await;

    // registry-controlled markup is shown as text and never runs
    let evil = registry.image("evil/app:v1");
    browser
        .goto(&format!("{}/?image={}", service.base_url(), evil))
        .await;
    let table = browser.text(&browser.find("#result table").await).await;
    assert!(
        table.contains("linux/amd64/<img src=x onerror=alert(1)><script>alert(2)</script>"),
        "the hostile variant is visible as text:\n{table}"
    );
    assert!(!browser.alert_open().await, "no injected script ran");
    let injected = browser
        .execute(
            "return document.querySelectorAll('#result script, #result img:not([alt=\"platforms badge\"])').length",
        )
        .await;
    assert_eq!(injected, json!(0), "no element was injected");
    let badge_loaded = browser
        .execute("const i = document.querySelector('#result img'); return i.complete && i.naturalWidth > 0")
        .await;
    assert_eq!(badge_loaded, json!(true), "the badge preview renders");
    browser.screenshot(&screenshot("hostile.png")).await;

    // an invalid reference is explained on the page
    browser
        .goto(&format!("{}/?image=Not%20Valid", service.base_url()))
        .await;
    let card = browser.text(&browser.find("#result").await).await;
    assert!(card.contains("INVALID_REFERENCE"), "{card}");
    browser.close().await;
}
