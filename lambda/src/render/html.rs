//! The HTML page: a search form and, for `/?image=`, the answer. Every string that came from
//! a user or a registry goes through [`escape`]; registry strings are also clipped.

use std::fmt::Write as _;

use registry::{ErrorReport, Report};

use super::{clip, escape};

/// What the page shows under the form.
#[derive(Debug)]
pub enum Outcome<'a> {
    Nothing,
    Answer(&'a Report),
    Error(&'a ErrorReport),
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
footer{margin-top:32px;color:var(--muted);font-size:13px}
footer a{color:var(--accent)}
"#;

/// Percent-encodes a query value.
fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
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
pub fn page(base: &str, image: Option<&str>, outcome: &Outcome<'_>) -> String {
    let value = image.map(escape).unwrap_or_default();
    let title = match image {
        Some(image) => format!("{} · mquery", escape(&clip(image, 80))),
        None => "mquery · is this container image multi-platform?".to_owned(),
    };
    let mut html = String::with_capacity(8 << 10);
    let _ = write!(
        html,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title}</title><style>{STYLE}</style></head>
<body><main>
<header><h1>mquery</h1><p>Is a container image multi-platform, and which platforms does it support?</p></header>
<form method="get" action="" role="search">
<input type="text" name="image" value="{value}" placeholder="alpine, golang:1.22, ghcr.io/org/app:v1" aria-label="Image reference" autofocus required maxlength="{max}">
<button type="submit">Inspect</button>
</form>
<p class="examples">Try <a href="?image=alpine">alpine</a><a href="?image=golang%3A1.22">golang:1.22</a><a href="?image=mcr.microsoft.com%2Fwindows%2Fnanoserver%3Altsc2022">nanoserver</a></p>
"#,
        max = crate::inspect::MAX_IMAGE_PARAM,
    );
    match outcome {
        Outcome::Nothing => {}
        Outcome::Answer(report) => answer(&mut html, base, report),
        Outcome::Error(error) => {
            let _ = write!(
                html,
                r#"<section class="card" id="result"><h2>{image}</h2><span class="verdict err">{code}</span><p>{message}</p></section>"#,
                image = escape(&clip(error.image.as_deref().unwrap_or(""), 200)),
                code = escape(&error.error.code),
                message = escape(&clip(&error.error.message, 300)),
            );
        }
    }
    html.push_str(
        r#"<footer>JSON: <a href="/v1/inspect?image=alpine">/v1/inspect?image=alpine</a> · text: <code>format=text</code> · badges: <a href="/v1/badge?image=alpine">/v1/badge</a>, <a href="/v1/shields?image=alpine">/v1/shields</a> · mquery clients: <a href="/mquery?image=alpine">/mquery</a></footer>
</main></body></html>
"#,
    );
    html
}

fn answer(html: &mut String, base: &str, report: &Report) {
    let s = &report.summary;
    let (class, verdict) = if s.is_list {
        ("yes", "Multi-platform")
    } else if s.artifact_type.is_some() {
        ("no", "Artifact")
    } else {
        ("no", "Single platform")
    };
    let q = query_value(&report.image);
    let _ = write!(
        html,
        r#"<section class="card" id="result"><h2>{image}</h2><span class="verdict {class}">{verdict}</span>
<dl><dt>Manifest list</dt><dd>{list}</dd><dt>Reference</dt><dd class="mono">{reference}</dd><dt>Image type</dt><dd class="mono">{media_type}</dd><dt>Digest</dt><dd class="mono">{digest}</dd>"#,
        image = escape(&clip(&report.image, 200)),
        list = if s.is_list { "Yes" } else { "No" },
        reference = escape(&report.reference),
        media_type = escape(&clip(&s.media_type, 120)),
        digest = escape(&clip(&s.digest, 140)),
    );
    if let Some(artifact) = &s.artifact_type {
        let _ = write!(
            html,
            r#"<dt>Artifact type</dt><dd class="mono">{}</dd>"#,
            escape(&clip(artifact, 120))
        );
    }
    html.push_str("</dl>");
    if !s.platforms.is_empty() {
        let versions = s.platforms.iter().any(|p| p.platform.os_version.is_some());
        let _ = write!(
            html,
            r#"<table><thead><tr><th>Platform ({count})</th>{version_head}<th>Manifest</th><th>Size</th></tr></thead><tbody>"#,
            count = s.platforms.len(),
            version_head = if versions { "<th>OS version</th>" } else { "" },
        );
        for p in &s.platforms {
            let version = if versions {
                format!(
                    r#"<td class="mono">{}</td>"#,
                    escape(&clip(p.platform.os_version.as_deref().unwrap_or(""), 40))
                )
            } else {
                String::new()
            };
            let _ = write!(
                html,
                r#"<tr><td class="platform">{platform}</td>{version}<td class="mono" title="{digest}">{short}</td><td>{size}</td></tr>"#,
                platform = escape(&clip(&p.platform.to_string(), 80)),
                digest = escape(&clip(&p.digest, 140)),
                short = escape(&clip(&p.digest, 19)),
                size = human_size(p.size),
            );
        }
        html.push_str("</tbody></table>");
    }
    if s.attestations > 0 || s.unlabeled > 0 {
        let _ = write!(
            html,
            r#"<p class="note">Not platforms: {} attestation manifest(s), {} entr(ies) without platform.</p>"#,
            s.attestations, s.unlabeled
        );
    }
    let _ = write!(
        html,
        r#"<p class="links"><a href="/v1/inspect?image={q}">JSON</a><a href="/v1/inspect?image={q}&amp;format=text">Text</a><a href="/v1/badge?image={q}">Badge</a><a href="/v1/shields?image={q}">shields.io JSON</a></p>
<p class="note">Badge for a README: <img src="/v1/badge?image={q}" alt="platforms badge" height="20" style="vertical-align:middle"></p><pre>![platforms]({base}/v1/badge?image={q})</pre>
<p class="note">Fetched {fetched}{stale}.</p></section>"#,
        base = escape(base),
        fetched = escape(&report.cache.fetched_at),
        stale = if report.cache.stale {
            " (stale: the registry did not answer)"
        } else {
            ""
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry::{CacheInfo, Platform, PlatformEntry, Source, Summary};

    fn hostile_report() -> Report {
        Report {
            image: "evil<script>alert(1)</script>".into(),
            reference: "docker.io/library/x:latest".into(),
            summary: Summary {
                digest: "sha256:<b>".into(),
                media_type: "text/<script>".into(),
                is_list: true,
                platforms: vec![PlatformEntry {
                    platform: Platform::new(
                        "linux",
                        "<script>alert(2)</script>",
                        Some("\"><img src=x onerror=alert(3)>"),
                    ),
                    digest: "sha256:x".into(),
                    media_type: "m".into(),
                    size: 1,
                }],
                attestations: 1,
                unlabeled: 0,
                artifact_type: None,
            },
            cache: CacheInfo {
                source: Source::Registry,
                fetched_at: "2026-01-01T00:00:00Z".into(),
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
            &Outcome::Answer(&report),
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
        let html = page("", None, &Outcome::Nothing);
        assert!(html.contains("<form"));
        assert!(!html.contains("id=\"result\""));
    }
}
