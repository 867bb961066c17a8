//! `mquery completions SHELL`, `mquery man` and `--version` (docs/cli.md, "Completions and the
//! manual page"): each completion script is loaded by its real shell and asked to complete
//! (bash, fish), or parsed by it (zsh); the manual page is rendered by groff with every
//! warning on. PowerShell is not in Debian, so its script is only read.

use std::process::{Command, Stdio};

fn mquery(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mquery"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Runs `program args` with `script` on its standard input; its standard output.
fn shell(program: &str, args: &[&str], script: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e} (scripts/setup-test-env.sh installs it)"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("writes");
    let out = child.wait_with_output().expect("output");
    assert!(
        out.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn written(script: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("tempfile");
    std::fs::write(file.path(), script).expect("write");
    file
}

#[test]
fn bash_completes_commands_options_and_formats() {
    let script = written(&mquery(&["completions", "bash"]));
    // what bash's programmable completion does on TAB: call the function with the words
    let complete = |line: &str| -> Vec<String> {
        let words: Vec<&str> = line.split(' ').collect();
        let input = format!(
            "source {}\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{line}'\nCOMP_POINT={}\n\
             _mquery mquery '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
            script.path().display(),
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            words.len() - 1,
            line.len(),
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let mut seen: Vec<String> = shell("bash", &["--norc", "--noprofile"], &input)
            .lines()
            .map(str::to_owned)
            .collect();
        seen.sort();
        seen
    };
    assert_eq!(complete("mquery ch"), ["check"]);
    assert_eq!(complete("mquery check --fo"), ["--format"]);
    assert_eq!(
        complete("mquery check --format "),
        ["github", "json", "junit", "markdown", "sarif", "text"]
    );
    assert_eq!(complete("mquery --color a"), ["always", "auto"]);
    assert_eq!(complete("mquery completions z"), ["zsh"]);
}

#[test]
fn fish_completes_commands_and_formats() {
    let script = written(&mquery(&["completions", "fish"]));
    let complete = |line: &str| -> Vec<String> {
        let input = format!("source {}\ncomplete -C '{line}'\n", script.path().display());
        let mut seen: Vec<String> = shell("fish", &["--no-config"], &input)
            .lines()
            .map(|l| l.split('\t').next().unwrap_or_default().to_owned())
            .collect();
        seen.sort();
        seen
    };
    assert!(complete("mquery ch").contains(&"check".to_owned()));
    assert_eq!(
        complete("mquery check --format "),
        ["github", "json", "junit", "markdown", "sarif", "text"]
    );
}

#[test]
fn zsh_parses_its_script_and_powershell_registers_one() {
    let zsh = mquery(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef mquery"), "{zsh}");
    let file = written(&zsh);
    // zsh -n reads the whole script without running it: a syntax error fails
    shell("zsh", &["-n", &file.path().display().to_string()], "");
    let broken = written(&zsh.replacen("()", "(", 1));
    let out = Command::new("zsh")
        .arg("-n")
        .arg(broken.path())
        .output()
        .expect("zsh runs");
    assert!(
        !out.status.success(),
        "zsh -n cannot fail: the check above would prove nothing"
    );
    for word in ["check", "diff", "--format", "sarif", "--platform"] {
        assert!(zsh.contains(word), "{word}");
    }
    let powershell = mquery(&["completions", "powershell"]);
    assert!(
        powershell.contains("Register-ArgumentCompleter -Native -CommandName 'mquery'"),
        "{powershell}"
    );
    assert!(powershell.contains("'--format'") && powershell.contains("'check'"));
}

#[test]
fn the_manual_page_renders_without_a_warning() {
    let page = written(&mquery(&["man"]));
    let render = |args: &[&str]| {
        Command::new("groff")
            .args(["-man", "-ww"])
            .args(args)
            .arg(page.path())
            .output()
            .expect("groff runs (scripts/setup-test-env.sh installs groff-base)")
    };
    // ASCII, with no bold or underlining: the text as a reader sees it
    let out = render(&["-Tascii", "-P-cbou"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "groff warns");
    let text = String::from_utf8_lossy(&out.stdout);
    for part in [
        "NAME",
        "SYNOPSIS",
        "--format",
        "--platform",
        "check",
        "completions",
        "Exit status",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    // the pipe a user types does not make an error of a reader that stops early
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("{} man | head -n 1", env!("CARGO_BIN_EXE_mquery")))
        .output()
        .expect("sh runs");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn version_names_the_commit() {
    let version = mquery(&["--version"]);
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git runs");
    let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    assert_eq!(head.len(), 12, "built from a git checkout");
    assert_eq!(
        version,
        format!("mquery {} ({head})\n", env!("CARGO_PKG_VERSION"))
    );
}
