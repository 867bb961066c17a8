//! Checking a stack against a platform: what `mquery check` and the service's `POST /v1/check`
//! share. A [`Plan`] collects the distinct references of the scanned files (each looked up
//! once, by whoever holds the plan: the CLI directly or through a service, the service through
//! its cache); [`Plan::judge`] turns the lookups' outcomes into a [`StackReport`]: one row per
//! image, the problems, the counts, and the summary line.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use oci::{PlatformCheck, PlatformSpec, Reference, Sense};
use output::{ErrorBody, ErrorReport, Report};
use serde::Serialize;
use serde_json::{Value, json};

use crate::Problem;
use crate::limits::{MAX_QUOTED, MAX_ROWS};

/// One image's lookup: its v1 document, or its error document.
pub type LookupResult = Result<Report, ErrorReport>;

/// The platform asked for: as written, and parsed.
pub type Asked = (String, PlatformSpec);

/// The distinct images of the files scanned so far, and the rows that name none.
#[derive(Debug, Default)]
pub struct Plan {
    /// `--platform` / `platform=`: judges every image. Without it, an image is judged by the
    /// platform its file asks for (a Compose service's `platform:`, `FROM --platform=`).
    asked: Option<Asked>,
    images: Vec<Planned>,
    /// Canonical reference to position in `images`.
    index: HashMap<String, usize>,
    problems: Vec<Unchecked>,
    /// Places kept (each image's `found_in` and each problem), at most [`MAX_ROWS`].
    places: usize,
    /// Places past [`MAX_ROWS`], counted and left out.
    omitted: usize,
}

#[derive(Debug)]
struct Planned {
    /// As first written (what is looked up and shown).
    reference: String,
    found_in: Vec<String>,
    /// The platform its file asks for (the first place that asks), as written, and parsed (or
    /// why it does not parse); kept only when no platform is asked for the whole plan.
    platform: Option<(String, Result<PlatformSpec, String>)>,
}

/// A row that names nothing to look up, and why.
#[derive(Debug)]
struct Unchecked {
    location: String,
    reason: String,
    listed: Listed,
}

/// What a row without a lookup is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listed {
    /// A problem: the check cannot say (counted in `not_checked`).
    Problem,
    /// A `build:`-only service: listed, not a problem (counted in `built_locally`).
    BuiltLocally,
    /// An image of a Dockerfile stage BuildKit does not build: listed, not a problem
    /// (counted in `built_locally` too, and named apart in the summary).
    NotBuilt,
}

impl Plan {
    pub fn new(asked: Option<Asked>) -> Plan {
        Plan {
            asked,
            ..Plan::default()
        }
    }

    /// Scans one file (`name` is its `file:line` prefix and a hint for its kind) into the plan.
    /// Past [`MAX_ROWS`] places in all the files, the rest are counted, not kept.
    pub fn add(&mut self, name: &str, text: &str, context: &crate::Context) {
        let scan = crate::scan(name, text, context);
        self.omitted += scan.omitted;
        if scan.found.is_empty() && scan.omitted == 0 {
            self.problem(
                name.to_owned(),
                "no image references found".to_owned(),
                Listed::Problem,
            );
        }
        for found in scan.found {
            if self.places >= MAX_ROWS {
                self.omitted += 1;
                continue;
            }
            let raw = match found.image {
                Ok(raw) => raw,
                Err(problem) => {
                    let listed = match problem {
                        Problem::BuiltLocally => Listed::BuiltLocally,
                        Problem::NotBuilt(_) => Listed::NotBuilt,
                        _ => Listed::Problem,
                    };
                    self.problem(found.location, quoted(&problem.to_string()), listed);
                    continue;
                }
            };
            let canonical = match Reference::parse(&raw) {
                Ok(reference) => reference.canonical(),
                Err(e) => {
                    let reason = format!("invalid reference {:?}: {e}", quoted(&raw));
                    self.problem(found.location, reason, Listed::Problem);
                    continue;
                }
            };
            self.places += 1;
            let position = *self.index.entry(canonical).or_insert_with(|| {
                self.images.push(Planned {
                    reference: raw,
                    found_in: Vec::new(),
                    platform: None,
                });
                self.images.len() - 1
            });
            let judged_by_file = self.asked.is_none();
            let image = &mut self.images[position];
            image.found_in.push(found.location);
            if judged_by_file && image.platform.is_none() {
                image.platform = found.platform.map(|raw| {
                    let spec = raw
                        .parse()
                        .map_err(|e| format!("platform {:?}: {e}", quoted(&raw)));
                    (raw, spec)
                });
            }
        }
    }

    fn problem(&mut self, location: String, reason: String, listed: Listed) {
        if self.places >= MAX_ROWS {
            self.omitted += 1;
            return;
        }
        self.places += 1;
        self.problems.push(Unchecked {
            location,
            reason,
            listed,
        });
    }

    /// How many distinct images there are to look up.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// The references to look up, one per distinct image, in the order first found.
    pub fn references(&self) -> Vec<String> {
        self.images.iter().map(|i| i.reference.clone()).collect()
    }

    /// The report, from one outcome per [`Plan::references`] entry, in that order.
    pub fn judge(self, outcomes: Vec<LookupResult>, sense: Sense) -> StackReport {
        let mut counts = Counts {
            images: self.images.len(),
            ..Counts::default()
        };
        let mut rows = Vec::new();
        let mut documents = Vec::new();
        for (image, outcome) in self.images.into_iter().zip(outcomes) {
            let platform = match (&self.asked, &image.platform) {
                (Some((raw, spec)), _) => Some((raw.as_str(), Ok(spec))),
                (None, Some((raw, spec))) => Some((raw.as_str(), spec.as_ref())),
                (None, None) => None,
            };
            let (platforms, verdict, mut document) = judge(outcome, platform, sense);
            match &verdict {
                Verdict::Supported { .. } => counts.supported += 1,
                Verdict::Unsupported { .. } => counts.unsupported += 1,
                Verdict::Failed(_) => counts.failed += 1,
                Verdict::NotChecked(_) => counts.not_checked += 1,
                Verdict::LookedUp | Verdict::BuiltLocally(_) => {}
            }
            document["foundIn"] = json!(image.found_in);
            documents.push(document);
            rows.push(Row {
                image: Some(image.reference),
                found_in: image.found_in,
                platforms,
                verdict,
            });
        }
        let mut problems = Vec::new();
        let mut not_built = 0;
        let mut unchecked = self.problems;
        if self.omitted > 0 {
            unchecked.push(Unchecked {
                location: "-".to_owned(),
                reason: format!(
                    "{} more rows not shown: a check lists at most {MAX_ROWS} (split the files)",
                    self.omitted
                ),
                listed: Listed::Problem,
            });
        }
        for problem in unchecked {
            problems.push(json!({"foundIn": [problem.location], "problem": problem.reason}));
            let verdict = match problem.listed {
                Listed::Problem => {
                    counts.not_checked += 1;
                    Verdict::NotChecked(problem.reason)
                }
                Listed::BuiltLocally => {
                    counts.built_locally += 1;
                    Verdict::BuiltLocally(problem.reason)
                }
                Listed::NotBuilt => {
                    counts.built_locally += 1;
                    not_built += 1;
                    Verdict::BuiltLocally(problem.reason)
                }
            };
            rows.push(Row {
                image: None,
                found_in: vec![problem.location],
                platforms: None,
                verdict,
            });
        }
        let platform = self.asked.map(|(_, spec)| spec.normalized());
        let status = if counts.failed > 0 || counts.not_checked > 0 || counts.images == 0 {
            Status::Error
        } else if counts.unsupported > 0 {
            Status::Unsupported
        } else {
            Status::Ok
        };
        StackReport {
            summary: summary(&counts, not_built, platform.as_deref()),
            platform,
            status,
            counts,
            images: documents,
            problems,
            rows,
        }
    }
}

/// Looks `images` up with `lookup`, concurrently, at most `in_flight` at once (each on its own
/// task); the outcomes come back in the order of `images`. A lookup that panicked is an
/// `INTERNAL` error for its image. With a `deadline` (the service's, under API Gateway's
/// 29 s), a lookup not finished by then (waiting for its turn included) is stopped and its
/// image is an `UPSTREAM_TIMEOUT` row: the answer comes in time with every row that finished.
pub async fn gather<F, Fut>(
    images: &[String],
    in_flight: usize,
    deadline: Option<tokio::time::Instant>,
    lookup: F,
) -> Vec<LookupResult>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = LookupResult> + Send + 'static,
{
    let turns = Arc::new(tokio::sync::Semaphore::new(in_flight.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, image) in images.iter().enumerate() {
        let (turns, lookup) = (Arc::clone(&turns), lookup(image.clone()));
        tasks.spawn(async move {
            let looked_up = async {
                // the semaphore is never closed: a permit always comes
                let _turn = turns.acquire().await;
                lookup.await
            };
            let outcome = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, looked_up).await.ok(),
                None => Some(looked_up.await),
            };
            (i, outcome)
        });
    }
    let mut outcomes: Vec<Option<LookupResult>> = images.iter().map(|_| None).collect();
    let mut timed_out = vec![false; images.len()];
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((i, Some(outcome))) => outcomes[i] = Some(outcome),
            Ok((i, None)) => timed_out[i] = true,
            Err(_) => {}
        }
    }
    outcomes
        .into_iter()
        .zip(images)
        .zip(timed_out)
        .map(|((outcome, image), timed_out)| {
            outcome.unwrap_or_else(|| {
                let (code, message) = if timed_out {
                    (
                        output::ErrorCode::UpstreamTimeout,
                        "not looked up before the check's deadline".to_owned(),
                    )
                } else {
                    (output::ErrorCode::Internal, "lookup failed".to_owned())
                };
                Err(ErrorReport {
                    image: Some(image.clone()),
                    reference: None,
                    error: ErrorBody { code, message },
                })
            })
        })
        .collect()
}

/// The platforms column, the verdict and the JSON document of one image.
fn judge(
    outcome: LookupResult,
    platform: Option<(&str, Result<&PlatformSpec, &String>)>,
    sense: Sense,
) -> (Option<String>, Verdict, Value) {
    let mut report = match outcome {
        Ok(report) => report,
        Err(error) => {
            let verdict = Verdict::Failed(format!(
                "{}: {}",
                error.error.code,
                output::printable(&error.error.message)
            ));
            let document = serde_json::to_value(&error).unwrap_or(Value::Null);
            return (None, verdict, document);
        }
    };
    let names: Vec<String> = report
        .summary
        .platforms
        .iter()
        .map(|p| p.platform.to_string())
        .collect();
    let verdict = match platform {
        Some((requested, Ok(spec))) => {
            let check = PlatformCheck::with_spec(requested, spec, &report.summary);
            let platform = spec.normalized();
            let verdict = match check.satisfied(sense) {
                Some(entry) => Verdict::Supported {
                    platform,
                    entry: entry.platform.clone(),
                },
                None => Verdict::Unsupported { platform },
            };
            report.platform_check = Some(check);
            verdict
        }
        Some((_, Err(reason))) => Verdict::NotChecked(reason.clone()),
        None => Verdict::LookedUp,
    };
    let document = serde_json::to_value(&report).unwrap_or(Value::Null);
    (Some(list_cell(&names)), verdict, document)
}

/// A piece of a file inside a sentence: at most [`MAX_QUOTED`] characters, control
/// characters escaped.
fn quoted(text: &str) -> String {
    output::clip(text, MAX_QUOTED)
}

/// Platforms or places as one cell of the text table: the first three, then how many more
/// (`none` when there are none).
fn list_cell(names: &[String]) -> String {
    match names.len() {
        0 => "none".to_owned(),
        n if n <= 3 => names.join(", "),
        n => format!("{}, +{} more", names[..3].join(", "), n - 3),
    }
}

/// A stack's answer: the JSON of `mquery check --json` and `POST /v1/check`, and the rows of
/// the table the CLI prints and the page shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StackReport {
    /// The platform every image was judged by (`--platform`, containerd-normalized), if one
    /// was given.
    pub platform: Option<String>,
    pub status: Status,
    pub counts: Counts,
    pub summary: String,
    /// One v1 document (or error document) per distinct image, with `foundIn` and, when a
    /// platform was asked for, `platformCheck`.
    pub images: Vec<Value>,
    /// Rows that name no image to look up: `{"foundIn": ["file:line"], "problem": "..."}`.
    pub problems: Vec<Value>,
    #[serde(skip)]
    pub rows: Vec<Row>,
}

/// What a stack's check concluded, as the CLI's exit code says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every image was looked up and supports its platform (exit 0).
    Ok,
    /// Some image lacks its platform (exit 3).
    Unsupported,
    /// A lookup failed, a row could not be checked, or there was nothing to check (exit 1).
    Error,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Distinct images looked up.
    pub images: usize,
    pub supported: usize,
    pub unsupported: usize,
    pub failed: usize,
    /// Rows with a problem (an unresolved variable, a template, an invalid reference or
    /// platform, a file with no images).
    pub not_checked: usize,
    /// Rows listed without a lookup that are not problems: `build:`-only services, and images
    /// of Dockerfile stages the last stage does not use (BuildKit does not build those).
    pub built_locally: usize,
}

/// One row of the table: an image, or a place where one was expected.
#[derive(Debug, Clone)]
pub struct Row {
    /// The reference as written; `None` for a problem row.
    pub image: Option<String>,
    pub found_in: Vec<String>,
    /// The platforms, compactly; `None` when there is no answer.
    pub platforms: Option<String>,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `platform` (normalized) is supported, by the entry `entry`.
    Supported {
        platform: String,
        entry: String,
    },
    Unsupported {
        platform: String,
    },
    /// Looked up; no platform was asked for.
    LookedUp,
    /// The lookup failed: the error code and message.
    Failed(String),
    /// Not looked up or not judged, and why.
    NotChecked(String),
    /// Listed, not looked up, and not a problem: a `build:`-only service, or an image of a
    /// Dockerfile stage BuildKit does not build; the sentence says which.
    BuiltLocally(String),
}

impl Verdict {
    /// The verdict column.
    pub fn text(&self) -> String {
        match self {
            Verdict::Supported { platform, entry } => format!("{platform}: yes ({entry})"),
            Verdict::Unsupported { platform } => format!("{platform}: no"),
            Verdict::LookedUp => "-".to_owned(),
            Verdict::Failed(reason) => format!("error: {reason}"),
            Verdict::NotChecked(reason) | Verdict::BuiltLocally(reason) => {
                output::printable(reason).into_owned()
            }
        }
    }
}

/// The summary line; `not_built` of the `built_locally` rows are images of Dockerfile stages
/// BuildKit does not build, named apart.
fn summary(counts: &Counts, not_built: usize, platform: Option<&str>) -> String {
    let mut parts = Vec::new();
    match platform {
        Some(p) => {
            let (supports, does) = match (counts.supported, counts.unsupported) {
                (1, 1) => ("supports", "does"),
                (1, _) => ("supports", "do"),
                (_, 1) => ("support", "does"),
                _ => ("support", "do"),
            };
            parts.push(format!("{} {supports} {p}", counts.supported));
            parts.push(format!("{} {does} not", counts.unsupported));
        }
        None => parts.push(format!("{} looked up", counts.images - counts.failed)),
    }
    parts.push(format!("{} failed", counts.failed));
    if counts.not_checked > 0 {
        parts.push(format!("{} not checked", counts.not_checked));
    }
    let built_locally = counts.built_locally - not_built;
    if built_locally > 0 {
        parts.push(format!("{built_locally} built locally"));
    }
    if not_built > 0 {
        parts.push(format!("{not_built} in stages not built"));
    }
    let noun = if counts.images == 1 {
        "image"
    } else {
        "images"
    };
    format!("{} {noun}: {}", counts.images, parts.join(", "))
}

impl StackReport {
    /// The table, aligned, under a header, then the summary line.
    pub fn table(&self) -> String {
        let header = ["IMAGE", "FOUND IN", "PLATFORMS", "PLATFORM CHECK"].map(str::to_owned);
        let cells: Vec<[String; 4]> = self
            .rows
            .iter()
            .map(|row| {
                [
                    row.image
                        .as_deref()
                        .map_or_else(|| "-".to_owned(), |i| output::clip(i, 60)),
                    output::printable(&list_cell(&row.found_in)).into_owned(),
                    row.platforms.clone().unwrap_or_else(|| "-".to_owned()),
                    row.verdict.text(),
                ]
            })
            .collect();
        let all: Vec<&[String; 4]> = std::iter::once(&header).chain(&cells).collect();
        let widths: Vec<usize> = (0..4)
            .map(|c| all.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in all {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if c < 3 {
                    line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push_str(&self.summary);
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci::{Platform, PlatformEntry, Summary};
    use output::{CacheInfo, ErrorBody, ErrorCode, Source};

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

    #[test]
    fn each_reference_once_with_every_place_and_the_file_platform() {
        let mut plan = Plan::new(None);
        plan.add(
            "a.txt",
            "alpine\ndocker.io/library/alpine:latest\nbusybox\n",
            &Default::default(),
        );
        plan.add(
            "Dockerfile",
            "FROM --platform=linux/arm/v6 busybox AS a\nFROM golang AS b\nCOPY --from=a / /\n\
             FROM Bad:Ref\nCOPY --from=b / /\n",
            &Default::default(),
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
        let mut plan = Plan::new(asked("linux/arm64"));
        plan.add(
            "Dockerfile",
            "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022 AS win\n\
             FROM golang:1.22 AS dev\n\
             COPY --from=alpine:3.20 / /\n\
             FROM alpine:3.20\n",
            &Default::default(),
        );
        plan.add(
            "compose.yaml",
            "services:\n  app:\n    build: .\n",
            &Default::default(),
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
        let mut plan = Plan::new(asked("arm64"));
        plan.add("list", "a\nb\n", &Default::default());
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
            r.images[0]["platformCheck"]["native"]["platform"],
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
        let mut plan = Plan::new(None);
        plan.add(
            "Dockerfile",
            "FROM --platform=linux/arm64/v8/x alpine\n",
            &Default::default(),
        );
        plan.add("empty.txt", "# nothing\n", &Default::default());
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
        let mut plan = Plan::new(None);
        plan.add("esc\u{1b}[31m.txt", "c\n", &Default::default());
        let letters: String = (0..(1 << 19)).map(|i| ["a\n", "b\n"][i % 2]).collect();
        plan.add("list", &letters, &Default::default());
        let long = format!("FROM {}\n", "X".repeat(64 * 1024));
        plan.add("Dockerfile", &long, &Default::default());
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
        let mut plan = Plan::new(None);
        plan.add(
            "Dockerfile",
            &format!("FROM {}\n", "X".repeat(64 * 1024)),
            &Default::default(),
        );
        plan.add(
            "list",
            &format!("{}\n", "Y".repeat(64 * 1024)),
            &Default::default(),
        );
        let r = plan.judge(Vec::new(), Sense::Native);
        let text = r.rows[0].verdict.text();
        assert!(text.contains("more than 4096 bytes"), "{text}");
        assert!(text.contains("XXX"), "{text}");
        assert!(text.len() < 2 * MAX_QUOTED + 100, "{} bytes", text.len());
        let text = r.rows[1].verdict.text();
        assert!(text.starts_with("invalid reference \"YYY"), "{text}");
        assert!(text.len() < 2 * MAX_QUOTED + 100, "{} bytes", text.len());
    }

    /// A check's deadline covers the wait for a turn and the lookup: what finished is kept,
    /// the rest is a timed-out row, and the answer comes at the deadline, not after every
    /// lookup's own timeout.
    #[test]
    fn lookups_past_the_deadline_are_timed_out_rows() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let images: Vec<String> = (0..200).map(|i| format!("silent.example/app{i}")).collect();
        let started = std::time::Instant::now();
        let outcomes = runtime.block_on(async {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(300);
            gather(&images, 32, Some(deadline), |image| async move {
                if image.ends_with("app0") {
                    return Ok(report("alpine", &[("linux", "amd64", None)]));
                }
                std::future::pending::<LookupResult>().await
            })
            .await
        });
        let elapsed = started.elapsed();
        assert!(elapsed < std::time::Duration::from_secs(5), "{elapsed:?}");
        assert_eq!(outcomes.len(), 200);
        assert!(outcomes[0].is_ok());
        for (outcome, image) in outcomes[1..].iter().zip(&images[1..]) {
            let error = outcome.as_ref().expect_err("timed out");
            assert_eq!(error.error.code, output::ErrorCode::UpstreamTimeout);
            assert_eq!(error.image.as_deref(), Some(image.as_str()));
            assert_eq!(
                error.error.message,
                "not looked up before the check's deadline"
            );
        }
    }

    /// The cap holds across files: an empty file past it is counted, and so is every row
    /// after it.
    #[test]
    fn the_cap_holds_after_an_empty_file() {
        let mut plan = Plan::new(None);
        let lines: String = (0..MAX_ROWS).map(|i| format!("img{i}\n")).collect();
        plan.add("a.txt", &lines, &Default::default());
        plan.add("empty.txt", "# nothing\n", &Default::default());
        plan.add("b.txt", "late1\nlate2\n", &Default::default());
        assert_eq!(plan.len(), MAX_ROWS);
        let r = plan.judge(Vec::new(), Sense::Native);
        let last = r.rows.last().expect("the omitted row");
        assert_eq!(
            last.verdict.text(),
            "3 more rows not shown: a check lists at most 1000 (split the files)"
        );
    }
}
