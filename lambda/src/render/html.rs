//! The HTML page: a search form and, for `/?image=`, the answer. The page is a `maud`
//! template, which escapes every string it interpolates; registry strings are also clipped,
//! and query values in links are percent-encoded.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use output::{ErrorReport, Report};
use stack::report::{StackReport, Status, Verdict};

use super::clip;

/// What the page shows under the form.
#[derive(Debug)]
pub enum PageContent<'a> {
    Nothing,
    Answer(&'a Report),
    Error(&'a ErrorReport),
    /// A checked file: the table of its images.
    Check(&'a StackReport),
}

/// What the "check a file" form was sent with, shown again above its answer.
#[derive(Debug, Default)]
pub struct CheckForm<'a> {
    pub file: &'a str,
    pub platform: &'a str,
    pub compatible: bool,
}

const STYLE: &str = r#"
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--ok:#1a7f37;--no:#9a6700;--err:#d1242f;--accent:#0969da}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:860px;margin:0 auto;padding:32px 20px 48px}
header h1{margin:0;font-size:28px;letter-spacing:-.5px}
header p{margin:4px 0 24px;color:var(--muted)}
form{display:flex;gap:8px}
input[type=text]{flex:1;padding:10px 12px;font:15px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;border:1px solid var(--line);border-radius:6px;background:#fff}
input[type=text]:focus{outline:2px solid var(--accent);border-color:var(--accent)}
button{padding:10px 18px;font-size:15px;font-weight:600;color:#fff;background:var(--ok);border:0;border-radius:6px;cursor:pointer}
.examples{margin:8px 0 0;font-size:14px;color:var(--muted)}
.examples a{color:var(--accent);text-decoration:none;margin-right:10px}
.card{margin-top:24px;background:#fff;border:1px solid var(--line);border-radius:8px;padding:20px 24px}
.card h2{margin:0 0 12px;font-size:20px;word-break:break-all}
.verdict{display:inline-block;padding:2px 10px;border-radius:999px;font-size:14px;font-weight:600;color:#fff}
.yes{background:var(--ok)}.no{background:var(--no)}.err{background:var(--err)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px;margin:16px 0}
dt{color:var(--muted)}dd{margin:0;word-break:break-all}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:14px}
table{width:100%;border-collapse:collapse;margin-top:8px}
th,td{text-align:left;padding:8px 10px;border-top:1px solid var(--line);font-size:14px;vertical-align:top}
th{color:var(--muted);font-weight:600;border-top:0}
td.platform{font-weight:600;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.note{color:var(--muted);font-size:14px;margin:12px 0 0}
.links a{color:var(--accent);margin-right:14px;font-size:14px}
pre{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:10px 12px;overflow-x:auto;font-size:13px}
textarea{width:100%;min-height:160px;padding:10px 12px;font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;border:1px solid var(--line);border-radius:6px;background:#fff;resize:vertical}
#check-form{display:block;margin-top:32px}
#check-form h2{font-size:18px;margin:0 0 4px}
#check-form p{margin:0 0 8px;color:var(--muted);font-size:14px}
#check-form .row{display:flex;gap:8px;align-items:center;margin-top:8px;font-size:14px}
#check-form .row input[type=text]{flex:0 1 220px}
.summary{font-weight:600}
td.v-yes{color:var(--ok);font-weight:600}td.v-no{color:var(--no);font-weight:600}td.v-err{color:var(--err)}
footer{margin-top:32px;color:var(--muted);font-size:13px}
footer a{color:var(--accent)}
"#;

/// Percent-encodes a query value (`application/x-www-form-urlencoded`, as a form submits it).
fn query_value(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The user's input as the form's value: control characters, which HTML does not allow in
/// text, become U+FFFD (the template escapes the rest).
fn form_value(s: &str) -> String {
    s.replace(
        |c: char| c.is_control() && c != '\n' && c != '\t',
        "\u{fffd}",
    )
}

/// `1.2 KiB`
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The page. `base` is the service's public origin (`https://host`), for copyable badge URLs.
pub fn page(base: &str, image: Option<&str>, content: &PageContent<'_>) -> String {
    page_with(base, image, None, content)
}

/// The page, with the check form filled in as it was sent.
pub fn page_with(
    base: &str,
    image: Option<&str>,
    form: Option<&CheckForm<'_>>,
    content: &PageContent<'_>,
) -> String {
    let form = form.unwrap_or(&CheckForm {
        file: "",
        platform: "",
        compatible: false,
    });
    let title = match image {
        Some(image) => format!("{} · mquery", clip(image, 80)),
        None => "mquery · is this container image multi-platform?".to_owned(),
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main {
                    header {
                        h1 { "mquery" }
                        p { "Is a container image multi-platform, and which platforms does it support?" }
                    }
                    form method="get" action="" role="search" {
                        input type="text" name="image" value=(form_value(image.unwrap_or("")))
                            placeholder="alpine, golang:1.22, ghcr.io/org/app:v1"
                            aria-label="Image reference" autofocus required
                            maxlength=(crate::inspect::MAX_IMAGE_PARAM);
                        button type="submit" { "Inspect" }
                    }
                    p.examples {
                        "Try "
                        a href="?image=alpine" { "alpine" }
                        a href="?image=golang%3A1.22" { "golang:1.22" }
                        a href="?image=mcr.microsoft.com%2Fwindows%2Fnanoserver%3Altsc2022" { "nanoserver" }
                    }
                    @match content {
                        PageContent::Nothing => {}
                        PageContent::Answer(report) => (answer(base, report)),
                        PageContent::Check(report) => (checked(report)),
                        PageContent::Error(error) => {
                            section.card #result {
                                h2 { (clip(error.image.as_deref().unwrap_or(""), 200)) }
                                span.verdict.err { (error.error.code) }
                                p { (clip(&error.error.message, 300)) }
                            }
                        }
                    }
                    form #check-form method="post" action="" {
                        h2 { "Check a file" }
                        p {
                            "Paste a Compose file, Kubernetes YAML (" code { "helm template" }
                            " output), a Dockerfile or a list of images: every image is looked up once."
                        }
                        textarea name="file" required aria-label="File to check"
                            placeholder="services:\n  web:\n    image: nginx:1.27\n  db:\n    image: postgres:16" {
                            (form_value(form.file))
                        }
                        div.row {
                            label for="check-platform" { "Platform" }
                            input #check-platform type="text" name="platform" value=(form_value(form.platform))
                                placeholder="linux/arm64" maxlength="200";
                            label {
                                input type="checkbox" name="compatible" value="1" checked[form.compatible];
                                " 32-bit fallbacks count"
                            }
                            button type="submit" { "Check" }
                        }
                    }
                    footer {
                        "JSON: " a href="/v1/inspect?image=alpine" { "/v1/inspect?image=alpine" }
                        " · text: " code { "format=text" }
                        " · badges: " a href="/v1/badge?image=alpine" { "/v1/badge" }
                        ", " a href="/v1/shields?image=alpine" { "/v1/shields" }
                        " · mquery clients: " a href="/mquery?image=alpine" { "/mquery" }
                    }
                }
            }
        }
    }
    .into_string()
}

/// A checked file: the summary, then one row per image and per problem.
fn checked(report: &StackReport) -> Markup {
    let class = match report.status {
        Status::Ok => "yes",
        Status::Unsupported => "no",
        Status::Error => "err",
    };
    html! {
        section.card #result {
            h2 { "Stack check" }
            p.summary { span class={ "verdict " (class) } { (clip(&report.summary, 200)) } }
            table {
                thead { tr { th { "Image" } th { "Found in" } th { "Platforms" } th { "Platform check" } } }
                tbody {
                    @for row in &report.rows {
                        tr {
                            @match &row.image {
                                Some(image) => {
                                    td.mono { a href={ "?image=" (query_value(image)) } { (clip(image, 80)) } }
                                }
                                None => { td { "-" } }
                            }
                            td.mono { (clip(&row.found_in.join(", "), 200)) }
                            td.mono { (clip(row.platforms.as_deref().unwrap_or("-"), 120)) }
                            @let class = match row.verdict {
                                Verdict::Supported { .. } => "v-yes",
                                Verdict::Unsupported { .. } => "v-no",
                                Verdict::LookedUp | Verdict::BuiltLocally(_) => "",
                                Verdict::Failed(_) | Verdict::NotChecked(_) => "v-err",
                            };
                            td class=(class) { (clip(&row.verdict.text(), 300)) }
                        }
                    }
                }
            }
        }
    }
}

fn answer(base: &str, report: &Report) -> Markup {
    let s = &report.summary;
    let (class, verdict) = if s.is_list {
        ("yes", "Multi-platform")
    } else if s.artifact_type.is_some() {
        ("no", "Artifact")
    } else {
        ("no", "Single platform")
    };
    let q = query_value(&report.image);
    let versions = s.platforms.iter().any(|p| p.platform.os_version.is_some());
    html! {
        section.card #result {
            h2 { (clip(&report.image, 200)) }
            span class={ "verdict " (class) } { (verdict) }
            @if let Some(check) = &report.platform_check {
                p #platform-check {
                    @let asked = clip(&check.normalized, 80);
                    @match (&check.native, &check.compatible) {
                        (Some(native), _) => {
                            span.verdict.yes { (asked) ": yes" }
                            " runs natively (" (clip(&native.platform, 80)) ")"
                        }
                        (None, Some(fallback)) => {
                            span.verdict.no { (asked) ": compatible only" }
                            " " (clip(&fallback.platform, 80))
                            " runs only with 32-bit support; a host without it (AWS Graviton3, Apple silicon) cannot run this image"
                        }
                        (None, None) => {
                            span.verdict.err { (asked) ": no" }
                            " no entry runs on it"
                        }
                    }
                }
            }
            dl {
                dt { "Manifest list" } dd { (if s.is_list { "Yes" } else { "No" }) }
                dt { "Reference" } dd.mono { (report.reference) }
                dt { "Image type" } dd.mono { (clip(s.media_type.as_str(), 120)) }
                dt { "Digest" } dd.mono { (s.digest) }
                @if let Some(artifact) = &s.artifact_type {
                    dt { "Artifact type" } dd.mono { (clip(artifact, 120)) }
                }
            }
            @if !s.platforms.is_empty() {
                table {
                    thead {
                        tr {
                            th { "Platform (" (s.platforms.len()) ")" }
                            @if versions { th { "OS version" } }
                            th { "Manifest" }
                            th { "Size" }
                        }
                    }
                    tbody {
                        @for p in &s.platforms {
                            tr {
                                td.platform { (clip(&p.platform.to_string(), 80)) }
                                @if versions {
                                    td.mono { (clip(p.platform.os_version.as_deref().unwrap_or(""), 40)) }
                                }
                                td.mono title=(p.digest) { (clip(p.digest.as_str(), 19)) }
                                td { (human_size(p.size)) }
                            }
                        }
                    }
                }
            }
            @if s.attestations > 0 || s.unlabeled > 0 {
                p.note {
                    "Not platforms: " (s.attestations) " attestation manifest(s), "
                    (s.unlabeled) " entr(ies) without platform."
                }
            }
            p.links {
                a href={ "/v1/inspect?image=" (q) } { "JSON" }
                a href={ "/v1/inspect?image=" (q) "&format=text" } { "Text" }
                a href={ "/v1/badge?image=" (q) } { "Badge" }
                a href={ "/v1/shields?image=" (q) } { "shields.io JSON" }
            }
            p.note {
                "Badge for a README: "
                img src={ "/v1/badge?image=" (q) } alt="platforms badge" height="20" style="vertical-align:middle";
            }
            pre { "![platforms](" (base) "/v1/badge?image=" (q) ")" }
            p.note {
                "Fetched " (output::timestamp::rfc3339(report.cache.fetched_at))
                @if report.cache.stale { " (stale: the registry did not answer)" }
                "."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use output::{CacheInfo, Source};
    use registry::{Platform, PlatformEntry, Summary};

    fn hostile_report() -> Report {
        Report {
            image: "evil<script>alert(1)</script>".into(),
            reference: "docker.io/library/x:latest".into(),
            summary: Summary {
                digest: registry::Digest::sha256(b"sha256:<b>"),
                media_type: "text/<script>".into(),
                is_list: true,
                platforms: vec![PlatformEntry {
                    platform: Platform::new(
                        "linux",
                        "<script>alert(2)</script>",
                        Some("\"><img src=x onerror=alert(3)>"),
                    ),
                    digest: registry::Digest::sha256(b"sha256:x"),
                    media_type: "m".into(),
                    size: 1,
                }],
                attestations: 1,
                unlabeled: 0,
                artifact_type: None,
            },
            platform_check: None,
            verification: None,
            cache: CacheInfo {
                source: Source::Registry,
                fetched_at: std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600),
                expires_at: None,
                stale: false,
            },
        }
    }

    #[test]
    fn registry_strings_render_as_text() {
        let report = hostile_report();
        let html = page(
            "https://mquery.example",
            Some(&report.image),
            &PageContent::Answer(&report),
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img src=x"), "{html}");
        assert_eq!(
            html.matches("<img").count(),
            1,
            "only the badge preview is an image"
        );
        assert!(html.contains("&lt;script&gt;alert(2)&lt;/script&gt;"));
        assert!(html.contains("image=evil%3Cscript%3Ealert%281%29%3C%2Fscript%3E"));
    }

    #[test]
    fn sizes_read_like_sizes() {
        assert_eq!(human_size(400), "400 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 << 20), "5.0 MiB");
    }

    #[test]
    fn form_only_without_image() {
        let html = page("", None, &PageContent::Nothing);
        assert!(html.contains("<form"));
        assert!(!html.contains("id=\"result\""));
    }
}
