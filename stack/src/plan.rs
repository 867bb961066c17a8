//! What a stack's check looks up: a [`Plan`] collects the distinct references of the scanned
//! files, each with every place naming it and the platform its file asks for, and the rows
//! that name nothing to look up. Whoever holds the plan looks each reference up once (the CLI
//! directly or through a service, the service through its cache; `registry::gather` runs
//! them at once) and [`Plan::judge`]s the outcomes into a report ([`crate::report`]).

use std::collections::HashMap;

use oci::{PlatformSpec, Reference};

use crate::Problem;
use crate::limits::{MAX_QUOTED, MAX_ROWS};

/// The platform asked for: as written, and parsed.
pub type Asked = (String, PlatformSpec);

/// The distinct images of the files scanned so far, and the rows that name none.
#[derive(Debug, Default)]
pub struct Plan {
    /// `--platform` / `platform=`: judges every image. Without it, an image is judged by the
    /// platform its file asks for (a Compose service's `platform:`, `FROM --platform=`).
    pub(crate) asked: Option<Asked>,
    pub(crate) images: Vec<Planned>,
    /// Canonical reference to position in `images`.
    index: HashMap<String, usize>,
    pub(crate) problems: Vec<Unchecked>,
    /// Places kept (each image's `found_in` and each problem), at most [`MAX_ROWS`].
    places: usize,
    /// Places past [`MAX_ROWS`], counted and left out.
    pub(crate) omitted: usize,
}

/// One distinct image to look up.
#[derive(Debug)]
pub(crate) struct Planned {
    /// As first written (what is looked up and shown).
    pub(crate) reference: String,
    pub(crate) found_in: Vec<String>,
    /// The platform its file asks for (the first place that asks), as written, and parsed (or
    /// why it does not parse); kept only when no platform is asked for the whole plan.
    pub(crate) platform: Option<(String, Result<PlatformSpec, String>)>,
}

/// A row that names nothing to look up, and why.
#[derive(Debug)]
pub(crate) struct Unchecked {
    pub(crate) location: String,
    pub(crate) reason: String,
    pub(crate) listed: Listed,
}

/// What a row without a lookup is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listed {
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
                        Problem::BuiltLocally | Problem::Elsewhere(_) => Listed::BuiltLocally,
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
            let judged_by_file = self.asked.is_none();
            let image = self.image(raw, canonical);
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

    /// Adds images named on the command line (`mquery --format github IMAGE...`): found in
    /// no file, so their rows have no place; an invalid reference is a problem row at `-`.
    pub fn add_arguments(&mut self, images: &[String]) {
        for raw in images {
            if self.places >= MAX_ROWS {
                self.omitted += 1;
                continue;
            }
            match Reference::parse(raw) {
                Ok(reference) => {
                    self.places += 1;
                    self.image(raw.clone(), reference.canonical());
                }
                Err(e) => {
                    let reason = format!("invalid reference {:?}: {e}", quoted(raw));
                    self.problem("-".to_owned(), reason, Listed::Problem);
                }
            }
        }
    }

    /// The planned image whose canonical reference is `canonical`, added (as `raw`) if it is
    /// new.
    fn image(&mut self, raw: String, canonical: String) -> &mut Planned {
        let position = *self.index.entry(canonical).or_insert_with(|| {
            self.images.push(Planned {
                reference: raw,
                found_in: Vec::new(),
                platform: None,
            });
            self.images.len() - 1
        });
        &mut self.images[position]
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
}

/// A piece of a file inside a sentence: at most [`MAX_QUOTED`] characters, control
/// characters escaped.
fn quoted(text: &str) -> String {
    output::clip(text, MAX_QUOTED)
}
