//! The HTML page in a real headless Chromium: a person types an image, submits the form and
//! reads the platforms; hostile registry strings show as text and run nothing.
//! A screenshot of each page is written to target/screenshots/ to look at.

use std::path::{Path, PathBuf};

use mquery_tests::browser::Browser;
use mquery_tests::fixtures::{APP, Pusher, open_with_app, open_with_app_and_pi};
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

/// A person pastes a Compose file into the "check a file" form, asks about linux/arm64 and
/// reads one row per image; a hostile image field shows as text; an image links to its page.
#[tokio::test(flavor = "multi_thread")]
async fn a_pasted_compose_file_is_checked() {
    let (registry, _, _) = open_with_app_and_pi().await;
    let binary = Path::new(env!("CARGO_BIN_EXE_mquery-lambda"));
    let service = ServiceProcess::start(binary, &[registry.insecure_env()]);
    let browser = Browser::start().await;
    let r = registry.host();
    let compose = format!(
        "services:\n  web:\n    image: {r}/{APP}\n  edge:\n    image: {r}/acme/pi:v6\n  api:\n    build: ./api\n  evil:\n    image: \"<img src=x onerror=alert(1)>\"\n"
    );

    browser.goto(&format!("{}/", service.base_url())).await;
    let file = browser.find("textarea[name=file]").await;
    browser.type_into(&file, &compose).await;
    let platform = browser.find("#check-platform").await;
    browser.type_into(&platform, "linux/arm64").await;
    let submit = browser.find("#check-form button[type=submit]").await;
    browser.click(&submit).await;

    let table = browser.text(&browser.find("#result table").await).await;
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(
        rows.len(),
        5,
        "a header, two images, two rows not looked up:\n{table}"
    );
    assert!(
        rows[1].contains(&format!("{r}/{APP}")) && rows[1].contains("file:3"),
        "{table}"
    );
    assert!(
        rows[1].contains("linux/arm64: yes (linux/arm64/v8)"),
        "{table}"
    );
    assert!(rows[2].contains("linux/arm64: no"), "{table}");
    assert!(rows[3].contains("built locally"), "{table}");
    assert!(
        rows[4].contains("invalid reference \"<img src=x onerror=alert(1)>\""),
        "the hostile field is visible as text:\n{table}"
    );
    let summary = browser.text(&browser.find("#result .summary").await).await;
    assert_eq!(
        summary,
        "2 images: 1 supports linux/arm64, 1 does not, 0 failed, 1 not checked, 1 built locally"
    );
    assert!(!browser.alert_open().await, "no injected script ran");
    let injected = browser
        .execute("return document.querySelectorAll('#result img, #result script').length")
        .await;
    assert_eq!(injected, json!(0), "no element was injected");
    // the form keeps what was sent, to edit and check again
    let kept = browser
        .execute(
            "return [document.querySelector('textarea[name=file]').value, document.querySelector('#check-platform').value]",
        )
        .await;
    assert_eq!(kept, json!([compose, "linux/arm64"]));
    browser.screenshot(&screenshot("check.png")).await;

    // an image's row links to its own answer
    let link = browser.find("#result table a").await;
    browser.click(&link).await;
    let platforms = browser.text(&browser.find("#result table").await).await;
    assert!(browser.url().await.contains("image="), "the link navigated");
    assert!(platforms.contains("linux/ppc64le"), "{platforms}");
    browser.close().await;
}
