//! `mquery check FILE...`: will a whole stack run on a platform? Every image reference of the
//! files (Compose, Kubernetes/Helm output, Dockerfiles, lists: `mquery_stack`) is looked up
//! once, all at once, and judged against `--platform` (or the platform the file itself asks
//! for: a Compose service's `platform:`, `FROM --platform=`).

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};

use registry::{PlatformCheck, PlatformSpec, Reference, Sense};
use serde_json::{Value, json};

use crate::{Backend, Outcome, lookup_all};

/// Exit codes of `check`, as the main command's.
const EXIT_ERROR: u8 = 1;
const EXIT_PLATFORM_UNSUPPORTED: u8 = 3;

/// One distinct image of the stack, and where it was found.
struct Image {
    reference: String,
    found_in: Vec<String>,
    /// The platform asked for: `--platform`, else the first the files ask for.
    platform: Option<String>,
    /// It, parsed once (`None` when it does not parse: no verdict).
    spec: Option<PlatformSpec>,
}

/// A row that names nothing to look up, and why.
struct ProblemRow {
    location: String,
    reason: String,
    /// `build:`-only services are listed, not counted as problems.
    built_locally: bool,
}

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
    platform: Option<(&str, &PlatformSpec)>,
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
    let mut images: BTreeMap<String, Image> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut problems: Vec<ProblemRow> = Vec::new();
    for (file, text) in &texts {
        let scan = stack::scan(file, text);
        if scan.found.is_empty() {
            problems.push(ProblemRow {
                location: file.clone(),
                reason: "no image references found".to_owned(),
                built_locally: false,
            });
        }
        for found in scan.found {
            let raw = match found.image {
                Ok(raw) => raw,
                Err(problem) => {
                    let built_locally = problem == stack::Problem::BuiltLocally;
                    problems.push(ProblemRow {
                        location: found.location,
                        reason: problem.to_string(),
                        built_locally,
                    });
                    continue;
                }
            };
            let reference = match Reference::parse(&raw) {
                Ok(reference) => reference.canonical(),
                Err(e) => {
                    problems.push(ProblemRow {
                        location: found.location,
                        reason: format!("invalid reference {raw:?}: {e}"),
                        built_locally: false,
                    });
                    continue;
                }
            };
            let entry = images.entry(reference.clone()).or_insert_with(|| {
                order.push(reference.clone());
                Image {
                    reference: raw.clone(),
                    found_in: Vec::new(),
                    platform: None,
                    spec: None,
                }
            });
            entry.found_in.push(found.location);
            if entry.platform.is_none() {
                (entry.platform, entry.spec) = match (platform, found.platform) {
                    (Some((p, spec)), _) => (Some(p.to_owned()), Some(spec.clone())),
                    (None, Some(p)) => (Some(p.clone()), p.parse().ok()),
                    (None, None) => (None, None),
                };
            }
        }
    }
    let distinct: Vec<&Image> = order.iter().filter_map(|k| images.get(k)).collect();
    let references: Vec<String> = distinct.iter().map(|i| i.reference.clone()).collect();
    // one lookup per distinct reference, all at once (the client bounds concurrency)
    let outcomes = lookup_all(backend, &references, false).await;

    let mut rows = Vec::new();
    let (mut supported, mut unsupported, mut failed) = (0, 0, 0);
    let mut docs = Vec::new();
    for (image, outcome) in distinct.iter().zip(outcomes) {
        let check = image.platform.as_deref().zip(image.spec.as_ref());
        let (platforms, verdict, doc) = verdict(&outcome, check, sense);
        match (&outcome, &verdict) {
            (Err(_), _) => failed += 1,
            (Ok(_), Verdict::Yes(_)) => supported += 1,
            (Ok(_), Verdict::No) => unsupported += 1,
            (Ok(_), Verdict::NotAsked) => {}
        }
        let mut doc = doc;
        doc["foundIn"] = json!(image.found_in);
        docs.push(doc);
        rows.push([
            output::clip(&image.reference, 60),
            image.found_in.join(", "),
            platforms,
            verdict.text(image.spec.as_ref()),
        ]);
    }
    let real_problems = problems.iter().filter(|p| !p.built_locally).count();
    let built_locally = problems.len() - real_problems;
    for problem in &problems {
        rows.push([
            "-".to_owned(),
            problem.location.clone(),
            "-".to_owned(),
            output::printable(&problem.reason).into_owned(),
        ]);
    }
    let normalized = platform.map(|(_, spec)| spec.normalized());
    let summary = summary(
        distinct.len(),
        normalized.as_deref(),
        [supported, unsupported, failed, real_problems, built_locally],
    );
    let mut stdout = std::io::stdout().lock();
    if json {
        let problems: Vec<Value> = problems
            .iter()
            .map(|p| json!({"foundIn": [p.location], "problem": p.reason}))
            .collect();
        let doc = json!({"images": docs, "problems": problems, "summary": summary});
        let _ = writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        );
    } else {
        let _ = write!(stdout, "{}", table(&rows));
        let _ = writeln!(stdout, "{summary}");
    }
    let _ = stdout.flush();
    if failed > 0 || real_problems > 0 || distinct.is_empty() {
        EXIT_ERROR
    } else if unsupported > 0 {
        EXIT_PLATFORM_UNSUPPORTED
    } else {
        0
    }
}

enum Verdict {
    Yes(String),
    No,
    NotAsked,
}

impl Verdict {
    /// The verdict column, naming the platform as containerd normalizes it.
    fn text(&self, spec: Option<&PlatformSpec>) -> String {
        match (self, spec.map(PlatformSpec::normalized)) {
            (Verdict::Yes(entry), Some(p)) => format!("{p}: yes ({entry})"),
            (Verdict::No, Some(p)) => format!("{p}: no"),
            _ => "-".to_owned(),
        }
    }
}

/// The platforms column, the verdict and the JSON document of one looked-up image.
fn verdict(
    outcome: &Outcome,
    check: Option<(&str, &PlatformSpec)>,
    sense: Sense,
) -> (String, Verdict, Value) {
    match outcome {
        Ok(report) => {
            let names: Vec<String> = report
                .summary
                .platforms
                .iter()
                .map(|p| p.platform.to_string())
                .collect();
            let platforms = compact(&names);
            let mut report = report.clone();
            let verdict = match check {
                Some((requested, spec)) => {
                    let c = PlatformCheck::with_spec(requested, spec, &report.summary);
                    let verdict = match c.satisfied(sense) {
                        Some(m) => Verdict::Yes(m.platform.clone()),
                        None => Verdict::No,
                    };
                    report.platform_check = Some(c);
                    verdict
                }
                None => Verdict::NotAsked,
            };
            let doc = serde_json::to_value(&report).unwrap_or(Value::Null);
            (platforms, verdict, doc)
        }
        Err(error) => {
            let doc = serde_json::to_value(error).unwrap_or(Value::Null);
            let message = output::printable(&error.error.message).into_owned();
            (format!("error: {message}"), Verdict::NotAsked, doc)
        }
    }
}

/// Platforms, compactly: the first three, then how many more.
fn compact(names: &[String]) -> String {
    match names.len() {
        0 => "none".to_owned(),
        n if n <= 3 => names.join(", "),
        n => format!("{}, +{} more", names[..3].join(", "), n - 3),
    }
}

fn summary(images: usize, platform: Option<&str>, counts: [usize; 5]) -> String {
    let [supported, unsupported, failed, problems, built_locally] = counts;
    let mut parts = Vec::new();
    match platform {
        Some(p) => {
            let (supports, does) = match (supported, unsupported) {
                (1, 1) => ("supports", "does"),
                (1, _) => ("supports", "do"),
                (_, 1) => ("support", "does"),
                _ => ("support", "do"),
            };
            parts.push(format!("{supported} {supports} {p}"));
            parts.push(format!("{unsupported} {does} not"));
        }
        None => parts.push(format!("{} looked up", images - failed)),
    }
    parts.push(format!("{failed} failed"));
    if problems > 0 {
        parts.push(format!("{problems} not checked"));
    }
    if built_locally > 0 {
        parts.push(format!("{built_locally} built locally"));
    }
    let noun = if images == 1 { "image" } else { "images" };
    format!("{images} {noun}: {}", parts.join(", "))
}

/// Aligned columns under a header.
fn table(rows: &[[String; 4]]) -> String {
    let header = ["IMAGE", "FOUND IN", "PLATFORMS", "PLATFORM CHECK"].map(str::to_owned);
    let all: Vec<&[String; 4]> = std::iter::once(&header).chain(rows).collect();
    let widths: Vec<usize> = (0..4)
        .map(|c| all.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in all {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c == 3 {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
