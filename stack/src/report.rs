//! A stack's verdict: [`Plan::judge`] turns the outcomes of a plan's lookups into a
//! [`StackReport`] (the check document of docs/json.md, typed in `output`): one entry and one
//! row per image, judged against the platform asked for or the one its file asks for; one per
//! place without a lookup; the counts, the status and the summary line.

use oci::{PlatformCheck, PlatformSpec, Sense};
use output::LookupResult;
use output::stack::{Counts, ImageEntry, ProblemEntry};
use output::text::stack::{list_cell, summary};

use crate::limits::MAX_ROWS;
use crate::plan::{Listed, Plan, Unchecked};

pub use output::stack::{Row, StackReport, Status, Verdict};

impl Plan {
    /// The report, from one outcome per [`Plan::references`] entry, in that order.
    pub fn judge(self, outcomes: Vec<LookupResult>, sense: Sense) -> StackReport {
        let mut counts = Counts {
            images: self.images.len(),
            ..Counts::default()
        };
        let mut rows = Vec::new();
        let mut images = Vec::new();
        for (image, outcome) in self.images.into_iter().zip(outcomes) {
            let platform = match (&self.asked, &image.platform) {
                (Some((raw, spec)), _) => Some((raw.as_str(), Ok(spec))),
                (None, Some((raw, spec))) => Some((raw.as_str(), spec.as_ref())),
                (None, None) => None,
            };
            let (platforms, verdict, answer) = judge(outcome, platform, sense);
            match &verdict {
                Verdict::Supported { .. } => counts.supported += 1,
                Verdict::Unsupported { .. } => counts.unsupported += 1,
                Verdict::Failed(_) => counts.failed += 1,
                Verdict::NotChecked(_) => counts.not_checked += 1,
                Verdict::LookedUp | Verdict::BuiltLocally(_) => {}
            }
            images.push(ImageEntry {
                answer,
                found_in: image.found_in.clone(),
            });
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
            problems.push(ProblemEntry {
                found_in: vec![problem.location.clone()],
                problem: problem.reason.clone(),
            });
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
        StackReport {
            summary: summary(&counts, not_built, platform.as_deref()),
            platform,
            status: status(&counts),
            counts,
            images,
            problems,
            rows,
        }
    }
}

/// What the counts conclude (docs/json.md): an error when a lookup failed, a row could not be
/// checked or there was nothing to check; else unsupported when an image lacks its platform.
fn status(counts: &Counts) -> Status {
    if counts.failed > 0 || counts.not_checked > 0 || counts.images == 0 {
        Status::Error
    } else if counts.unsupported > 0 {
        Status::Unsupported
    } else {
        Status::Ok
    }
}

/// The platforms column, the verdict and the answer (with its platform check) of one image.
fn judge(
    outcome: LookupResult,
    platform: Option<(&str, Result<&PlatformSpec, &String>)>,
    sense: Sense,
) -> (Option<String>, Verdict, LookupResult) {
    let mut report = match outcome {
        Ok(report) => report,
        Err(error) => {
            let verdict = Verdict::Failed(format!(
                "{}: {}",
                error.error.code,
                output::printable(&error.error.message)
            ));
            return (None, verdict, Err(error));
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
    (Some(list_cell(&names)), verdict, Ok(report))
}

#[cfg(test)]
mod tests;
