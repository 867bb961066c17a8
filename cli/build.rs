//! Names the commit the CLI is built from, for `--version` and the SARIF log: `MQUERY_COMMIT`
//! when the builder sets it (a container build without `.git`), else `git rev-parse`, else
//! nothing.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=MQUERY_COMMIT");
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    // rebuild when HEAD moves: HEAD itself, and the ref it points at (a loose file, else
    // packed-refs; a path that does not exist would rerun this script on every build)
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        let head = git(&["symbolic-ref", "-q", "HEAD"]).map(|r| format!("{dir}/{r}"));
        let packed = format!("{dir}/packed-refs");
        for file in head.into_iter().chain([packed]) {
            if std::path::Path::new(&file).exists() {
                println!("cargo:rerun-if-changed={file}");
            }
        }
    }
    let commit = std::env::var("MQUERY_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]));
    let shown = commit.map(|c| format!(" ({c})")).unwrap_or_default();
    println!("cargo:rustc-env=MQUERY_BUILD_COMMIT={shown}");
}
