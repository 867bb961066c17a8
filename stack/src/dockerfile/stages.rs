//! Which stages BuildKit builds.
//!
//! BuildKit builds the last stage (the default target) and the stages it depends on,
//! transitively: its base when the base is an earlier stage, and the stages its
//! `COPY --from=name|index` and `RUN --mount from=name` read (convert.go `resolveTarget`,
//! `buildStageDependencyGraph`, `allReachableStages`, `resolveReachableStages`). Only those
//! stages' images are judged; an image of any other stage is a [`Problem::NotBuilt`] row
//! (listed, not looked up). `ONBUILD` triggers, which can add dependencies, are not followed.
//! A problem stays a problem in any stage, and so does an invalid reference: BuildKit
//! expands and parses every stage's `FROM` and sources, built or not.

use super::{Scanner, clip};
use crate::{Found, Problem};

impl Scanner<'_> {
    /// The current stage depends on `stage`.
    pub(super) fn depend(&mut self, stage: usize) {
        if let Some(deps) = self.stage.and_then(|current| self.deps.get_mut(current)) {
            deps.push(stage);
        }
    }

    /// The rows, with the images of stages BuildKit does not build made [`Problem::NotBuilt`].
    ///
    /// BuildKit builds the target (the last stage, without `--target`) and, transitively, the
    /// stages it depends on: its base when that is an earlier stage, and the stages its
    /// `COPY --from` and `RUN --mount from=` name (dockerfile2llb/convert.go `resolveTarget`,
    /// `buildStageDependencyGraph`, `allReachableStages`, `resolveReachableStages`: only a
    /// reachable stage's base is resolved). `ONBUILD` triggers, which can add dependencies
    /// (convert.go `initOnBuildTriggers`), are not followed: this scanner does not read them.
    ///
    /// A row that is already a problem stays one: BuildKit expands every stage's `FROM` and
    /// refuses the whole file on an error in any of them (`buildDispatchStates`). So does an
    /// image that is not a valid reference: BuildKit parses every base and source, reachable or
    /// not, before it looks at reachability (`resolveBaseImage`), so it stays a row for the
    /// check to refuse.
    pub(super) fn finish(mut self) -> Vec<Found> {
        let mut reachable = vec![false; self.deps.len()];
        let mut pending: Vec<usize> = self.deps.len().checked_sub(1).into_iter().collect();
        while let Some(stage) = pending.pop() {
            if std::mem::replace(&mut reachable[stage], true) {
                continue;
            }
            pending.extend(self.deps[stage].iter().filter(|&&dep| !reachable[dep]));
        }
        for (found, stage) in self.found.iter_mut().zip(&self.row_stages) {
            let Some(stage) = *stage else { continue };
            if reachable[stage] {
                continue;
            }
            let Ok(image) = &found.image else { continue };
            if oci::Reference::parse(image).is_err() {
                continue;
            }
            let name = match &self.names[stage] {
                Some(name) => clip(name),
                None => stage.to_string(),
            };
            found.image = Err(Problem::NotBuilt(name));
            found.platform = None;
        }
        self.found
    }
}
