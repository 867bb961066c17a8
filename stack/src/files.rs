//! The other files a scan may read: a Compose file's `include` and `extends: {file: ...}`
//! (docs/cli.md, "Files it reads"). The command line reads them from disk; the service,
//! which is sent one file, has none, and says so in a row. Whatever reads them, a scan stays
//! bounded: [`Budget`] counts the files and the bytes of one top-level file's scan, and the
//! nesting.

use std::sync::Arc;

use crate::limits::{MAX_INCLUDE_DEPTH, MAX_INCLUDED_BYTES, MAX_INCLUDED_FILES};

/// A source of the files a scanned file names.
pub trait Files: std::fmt::Debug + Send + Sync {
    /// The text of the file at `path` (the naming file's directory joined with the path it
    /// names, see [`join`]), or a sentence saying why it cannot be read.
    fn read(&self, path: &str) -> Result<String, String>;

    /// Whether `path` is a directory (a kustomization's resource may be one).
    fn is_dir(&self, _path: &str) -> bool {
        false
    }
}

/// What one top-level file's scan may still read of other files.
#[derive(Debug)]
pub(crate) struct Budget {
    pub files: Arc<dyn Files>,
    read: usize,
    bytes: usize,
}

impl Budget {
    pub fn new(files: Arc<dyn Files>) -> Budget {
        Budget {
            files,
            read: 0,
            bytes: 0,
        }
    }

    /// The text of `path`, if the budget allows one more file at `depth`; `Err` is the row's
    /// sentence.
    pub fn read(&mut self, path: &str, depth: usize) -> Result<String, String> {
        if depth > MAX_INCLUDE_DEPTH {
            return Err(format!(
                "files including files more than {MAX_INCLUDE_DEPTH} levels deep"
            ));
        }
        if self.read >= MAX_INCLUDED_FILES {
            return Err(format!(
                "more than {MAX_INCLUDED_FILES} other files read for one file"
            ));
        }
        // only what was read counts: a probe for a file that is not there costs nothing
        let text = self.files.read(path)?;
        self.read += 1;
        self.bytes += text.len();
        if self.bytes > MAX_INCLUDED_BYTES {
            return Err(format!(
                "the files one file includes hold more than {} MiB",
                MAX_INCLUDED_BYTES >> 20
            ));
        }
        Ok(text)
    }
}

/// Why the file `path` a scanned file names was not read: the scan has no files (the
/// service, sent one file).
pub(crate) fn not_read(path: &str) -> crate::Problem {
    let shown = output::clip(path, crate::limits::MAX_QUOTED);
    crate::Problem::Unread(format!(
        "names the file {shown}, which only mquery check on the command line reads"
    ))
}

/// Why the file `path` could not be read: the reader's or the budget's sentence.
pub(crate) fn unreadable(path: &str, why: &str) -> crate::Problem {
    let shown = output::clip(path, crate::limits::MAX_QUOTED);
    crate::Problem::Unread(format!("{shown}: {}", output::printable(why)))
}

/// `path` as the file `from` names it: relative paths are relative to `from`'s directory
/// (compose-go loader/include.go and extends.go resolve them against the including file's
/// directory), `.` and `..` components resolved by hand, as written (no disk access).
pub fn join(from: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_owned()
    } else {
        match from.rfind('/') {
            Some(slash) => format!("{}/{path}", &from[..slash]),
            None => path.to_owned(),
        }
    };
    let absolute = joined.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            part => parts.push(part),
        }
    }
    let rest = parts.join("/");
    match (absolute, rest.is_empty()) {
        (true, _) => format!("/{rest}"),
        (false, true) => ".".to_owned(),
        (false, false) => rest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_from_the_naming_file() {
        assert_eq!(join("compose.yaml", "base.yaml"), "base.yaml");
        assert_eq!(
            join("deploy/compose.yaml", "../common/base.yaml"),
            "common/base.yaml"
        );
        assert_eq!(
            join("deploy/compose.yaml", "./x/./y.yaml"),
            "deploy/x/y.yaml"
        );
        assert_eq!(join("a/compose.yaml", "../../up.yaml"), "../up.yaml");
        assert_eq!(
            join("/srv/app/compose.yaml", "/etc/other.yaml"),
            "/etc/other.yaml"
        );
        assert_eq!(join("/srv/compose.yaml", "../../../x.yaml"), "/x.yaml");
        assert_eq!(join("-", "base.yaml"), "base.yaml");
    }
}
