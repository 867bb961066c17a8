//! A plan judged: the rows, verdicts, counts, summary, document and table of a stack.

use oci::{Platform, PlatformEntry, Reference, Sense, Summary};
use output::ErrorCode;
use output::{CacheInfo, ErrorBody, ErrorReport, Report, Source};

use super::*;
use crate::limits::MAX_QUOTED;
use crate::plan::Asked;

fn report(image: &str, platforms: &[(&str, &str, Option<&str>)]) -> Report {
    Report {
        image: image.to_owned(),
        reference: Reference::parse(image).expect("valid").canonical(),
        summary: Summary {
            digest: oci::Digest::sha256(image.as_bytes()),
            media_type: "application/vnd.oci.image.index.v1+json".into(),
            is_list: true,
            platforms: platforms
                .iter()
                .map(|(os, arch, variant)| PlatformEntry {
                    platform: Platform::new(os, arch, *variant),
                    digest: oci::Digest::sha256(arch.as_bytes()),
                    media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                    size: 1,
                })
                .collect(),
            attestations: 0,
            unlabeled: 0,
            artifact_type: None,
        },
        cache: CacheInfo {
            source: Source::Registry,
            fetched_at: std::time::UNIX_EPOCH,
            expires_at: None,
            stale: false,
        },
        platform_check: None,
        verification: None,
    }
}

fn asked(p: &str) -> Option<Asked> {
    Some((p.to_owned(), p.parse().expect("platform")))
}

/// A plan of these files, (name, text), each read in the default context.
fn plan_of(asked: Option<Asked>, files: &[(&str, &str)]) -> Plan {
    let mut plan = Plan::new(asked);
    for (name, text) in files {
        plan.add(name, text, &Default::default());
    }
    plan
}

#[test]
fn each_reference_once_with_every_place_and_the_file_platform() {
    let plan = plan_of(
        None,
        &[
            (
                "a.txt",
                "alpine\ndocker.io/library/alpine:latest\nbusybox\n",
            ),
            (
                "Dockerfile",
                "FROM --platform=linux/arm/v6 busybox AS a\nFROM golang AS b\nCOPY --from=a / /\n\
                 FROM Bad:Ref\nCOPY --from=b / /\n",
            ),
        ],
    );
    assert_eq!(plan.references(), ["alpine", "busybox", "golang"]);
    let outcomes = vec![
        Ok(report("alpine", &[("linux", "amd64", None)])),
        Ok(report("busybox", &[("linux", "arm", Some("v6"))])),
        Err(ErrorReport {
            image: Some("golang".into()),
            reference: None,
            error: ErrorBody {
                code: ErrorCode::NotFound,
                message: "manifest unknown".into(),
            },
        }),
    ];
    let r = plan.judge(outcomes, Sense::Native);
    assert_eq!(r.rows[0].found_in, ["a.txt:1", "a.txt:2"]);
    // busybox is judged by the platform its Dockerfile asks for (the list asks none)
    assert_eq!(
        r.rows[1].verdict,
        Verdict::Supported {
            platform: "linux/arm/v6".into(),
            entry: "linux/arm/v6".into()
        }
    );
    assert_eq!(
        r.rows[2].verdict.text(),
        "error: NOT_FOUND: manifest unknown"
    );
    assert_eq!(r.status, Status::Error);
    assert_eq!(
        r.summary, "3 images: 2 looked up, 1 failed, 1 not checked",
        "the invalid reference is a row"
    );
    let json = serde_json::to_value(&r).expect("json");
    assert_eq!(json["images"][2]["error"]["code"], "NOT_FOUND");
    assert_eq!(json["images"][1]["foundIn"][0], "a.txt:3");
    assert_eq!(json["problems"][0]["foundIn"][0], "Dockerfile:4");
    assert_eq!(json["counts"]["notChecked"], 1);
    assert_eq!(json["status"], "error");
    assert!(json.get("rows").is_none());
}

/// An image of a stage the last stage does not use is listed, not looked up, and counted
/// with the rows built locally; one also used by a built stage is judged there, once.
#[test]
fn images_of_stages_not_built_are_listed_not_judged() {
    let plan = plan_of(
        asked("linux/arm64"),
        &[
            (
                "Dockerfile",
                "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022 AS win\n\
                 FROM golang:1.22 AS dev\n\
                 COPY --from=alpine:3.20 / /\n\
                 FROM alpine:3.20\n",
            ),
            ("compose.yaml", "services:\n  app:\n    build: .\n"),
        ],
    );
    assert_eq!(plan.references(), ["alpine:3.20"]);
    let r = plan.judge(
        vec![Ok(report("alpine:3.20", &[("linux", "arm64", None)]))],
        Sense::Native,
    );
    assert_eq!(r.rows[0].found_in, ["Dockerfile:4"]);
    assert_eq!(r.status, Status::Ok);
    assert_eq!(r.counts.built_locally, 4);
    assert_eq!(r.counts.not_checked, 0);
    assert_eq!(
        r.summary,
        "1 image: 1 supports linux/arm64, 0 do not, 0 failed, 1 built locally, \
         3 in stages not built"
    );
    assert_eq!(r.rows[1].found_in, ["Dockerfile:1"]);
    assert_eq!(
        r.rows[1].verdict,
        Verdict::BuiltLocally(
            "in stage win, which the last stage does not use: not built by default, not \
             looked up"
                .into()
        )
    );
    let json = serde_json::to_value(&r).expect("json");
    assert_eq!(json["counts"]["builtLocally"], 4);
    assert_eq!(json["problems"][2]["foundIn"][0], "Dockerfile:3");
}

#[test]
fn the_asked_platform_judges_every_image() {
    let plan = plan_of(asked("arm64"), &[("list", "a\nb\n")]);
    let r = plan.judge(
        vec![
            Ok(report(
                "a",
                &[("linux", "amd64", None), ("linux", "arm64", Some("v8"))],
            )),
            Ok(report("b", &[("linux", "arm", Some("v7"))])),
        ],
        Sense::Native,
    );
    assert_eq!(r.platform.as_deref(), Some("linux/arm64"));
    assert_eq!(r.status, Status::Unsupported);
    assert_eq!(
        r.summary,
        "2 images: 1 supports linux/arm64, 1 does not, 0 failed"
    );
    assert_eq!(
        serde_json::to_value(&r).expect("json")["images"][0]["platformCheck"]["native"]["platform"],
        "linux/arm64/v8"
    );
    let table = r.table();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0],
        "IMAGE  FOUND IN  PLATFORMS                    PLATFORM CHECK"
    );
    assert_eq!(
        lines[1],
        "a      list:1    linux/amd64, linux/arm64/v8  linux/arm64: yes (linux/arm64/v8)"
    );
    assert_eq!(
        lines[2],
        "b      list:2    linux/arm/v7                 linux/arm64: no"
    );
}

#[test]
fn an_unparsable_file_platform_and_an_empty_file_are_not_hidden() {
    let plan = plan_of(
        None,
        &[
            ("Dockerfile", "FROM --platform=linux/arm64/v8/x alpine\n"),
            ("empty.txt", "# nothing\n"),
        ],
    );
    let r = plan.judge(
        vec![Ok(report("alpine", &[("linux", "arm64", None)]))],
        Sense::Native,
    );
    assert!(
        matches!(&r.rows[0].verdict, Verdict::NotChecked(why) if why.contains("linux/arm64/v8/x")),
        "{:?}",
        r.rows[0].verdict
    );
    assert_eq!(r.rows[1].verdict.text(), "no image references found");
    assert_eq!(r.counts.not_checked, 2);
    assert_eq!(r.status, Status::Error);
    // nothing at all to check is an error too
    let r = Plan::new(None).judge(Vec::new(), Sense::Native);
    assert_eq!(r.status, Status::Error);
    assert_eq!(r.summary, "0 images: 0 looked up, 0 failed");
}

/// 1 MiB of one-letter lines once gave a 49 MiB answer: the places are capped, the rest
/// counted in one row, and what is quoted from the file is clipped.
#[test]
fn rows_are_capped_and_quotes_clipped() {
    let letters: String = (0..(1 << 19)).map(|i| ["a\n", "b\n"][i % 2]).collect();
    let long = format!("FROM {}\n", "X".repeat(64 * 1024));
    let plan = plan_of(
        None,
        &[
            ("esc\u{1b}[31m.txt", "c\n"),
            ("list", &letters),
            ("Dockerfile", &long),
        ],
    );
    assert_eq!(plan.references(), ["c", "a", "b"]);
    let outcomes = vec![
        Ok(report("c", &[("linux", "amd64", None)])),
        Ok(report("a", &[("linux", "amd64", None)])),
        Ok(report("b", &[("linux", "amd64", None)])),
    ];
    let r = plan.judge(outcomes, Sense::Native);
    let places: usize = r.rows.iter().map(|row| row.found_in.len()).sum();
    assert_eq!(places, MAX_ROWS + 1);
    let last = r.rows.last().expect("the omitted row");
    assert_eq!(
        last.verdict.text(),
        format!(
            "{} more rows not shown: a check lists at most 1000 (split the files)",
            (1 << 19) - (MAX_ROWS - 1) + 1
        )
    );
    assert_eq!(r.status, Status::Error);
    let json = serde_json::to_string(&r).expect("serializes");
    assert!(json.len() < 200_000, "{} bytes", json.len());
    let table = r.table();
    assert!(table.contains("esc\\x1b[31m.txt:1"), "{table}");
    // the table names the first places of an image and counts the rest
    assert!(
        table.contains("list:1, list:3, list:5, +497 more"),
        "{table}"
    );
    assert!(!table.contains('\u{1b}'));
}

#[test]
fn a_huge_reference_is_quoted_clipped() {
    let dockerfile = format!("FROM {}\n", "X".repeat(64 * 1024));
    let list = format!("{}\n", "Y".repeat(64 * 1024));
    let plan = plan_of(None, &[("Dockerfile", &dockerfile), ("list", &list)]);
    let r = plan.judge(Vec::new(), Sense::Native);
    let text = r.rows[0].verdict.text();
    assert!(text.contains("more than 4096 bytes"), "{text}");
    assert!(text.contains("XXX"), "{text}");
    assert!(text.len() < 2 * MAX_QUOTED + 100, "{} bytes", text.len());
    let text = r.rows[1].verdict.text();
    assert!(text.starts_with("invalid reference \"YYY"), "{text}");
    assert!(text.len() < 2 * MAX_QUOTED + 100, "{} bytes", text.len());
}

/// The cap holds across files: an empty file past it is counted, and so is every row
/// after it.
#[test]
fn the_cap_holds_after_an_empty_file() {
    let lines: String = (0..MAX_ROWS).map(|i| format!("img{i}\n")).collect();
    let plan = plan_of(
        None,
        &[
            ("a.txt", &lines),
            ("empty.txt", "# nothing\n"),
            ("b.txt", "late1\nlate2\n"),
        ],
    );
    assert_eq!(plan.len(), MAX_ROWS);
    let r = plan.judge(Vec::new(), Sense::Native);
    let last = r.rows.last().expect("the omitted row");
    assert_eq!(
        last.verdict.text(),
        "3 more rows not shown: a check lists at most 1000 (split the files)"
    );
}
