//! The stack scanner survives any set of files that name each other: a Compose file's
//! `include` and `extends: {file:}`, a kustomization's resources and components (directories
//! included), read through an in-memory `Files` as `mquery check` reads the disk. The input is
//! up to eight files separated by a NUL byte; the first is scanned as `compose.yaml`,
//! `kustomization.yaml`, `.gitlab-ci.yml` or `devcontainer.json` (by its first byte), the
//! others are `a.yaml`..`g.yaml` and, as directories, `d/kustomization.yaml`. No panic, no
//! runaway (the bounds of stack/src/limits.rs; scripts/fuzz.sh's memory and time limits turn
//! a runaway into a crash), and the row limit holds.
#![no_main]

use std::collections::HashMap;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use stack::files::Files;
use stack::limits::MAX_ROWS;

const NAMES: [&str; 4] = [
    "compose.yaml",
    "kustomization.yaml",
    ".gitlab-ci.yml",
    "devcontainer.json",
];

const OTHERS: [&str; 7] = [
    "a.yaml",
    "b.yaml",
    "c.yaml",
    "d/kustomization.yaml",
    "e.yaml",
    "f.yaml",
    "g.env",
];

#[derive(Debug)]
struct Memory(HashMap<String, String>);

impl Files for Memory {
    fn read(&self, path: &str) -> Result<String, String> {
        self.0.get(path).cloned().ok_or_else(|| "no such file".to_owned())
    }

    fn is_dir(&self, path: &str) -> bool {
        path == "d"
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let name = NAMES[usize::from(selector) % NAMES.len()];
    let mut parts = body.split(|&b| b == 0).map(String::from_utf8_lossy);
    let text = parts.next().unwrap_or_default().into_owned();
    let files = OTHERS
        .iter()
        .zip(parts)
        .map(|(n, t)| ((*n).to_owned(), t.into_owned()))
        .collect();
    let context = stack::Context {
        files: Some(Arc::new(Memory(files))),
        ..stack::Context::default()
    };
    let scan = stack::scan(name, &text, &context);
    assert!(scan.found.len() <= MAX_ROWS, "{} rows", scan.found.len());
});
