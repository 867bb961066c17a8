//! The scanner's hostile files (mquery_tests::attacks) read by the real `mquery check FILE`
//! (no `MQUERY_ENDPOINT`: it scans and looks up itself; an empty environment, and the `.env`
//! an attack puts beside its file), under a 2 GiB address-space limit. For
//! each: it exits 1, never by a signal, having printed the row that names the limit the file
//! reached (or, for a `.env` it cannot use, said so on stderr); its output is small and its
//! peak memory stays under 256 MiB.

use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use mquery_tests::attacks::{ADDRESS_SPACE, Attack, MAX_ANSWER, PEAK_RSS_KIB};
use mquery_tests::distribution::Distribution;
use mquery_tests::process::{address_space_limited, run_measured};

/// One run at a time in this binary: each measures its own process's memory and time.
static SERIAL: Mutex<()> = Mutex::new(());

/// A run still going after this is killed and fails (the test stays under 30 s).
const DEADLINE: Duration = Duration::from_secs(25);

fn check(make: fn(&str) -> Attack) {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    // the YAML files' images are on this registry; `docker.io` references (the list's `a`)
    // go to it as the Docker Hub mirror: nothing leaves the machine
    let registry = Distribution::start_open();
    let attack = make(&registry.host());
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(attack.file_name), &attack.text).expect("write the file");
    if let Some(dotenv) = &attack.dotenv {
        std::fs::write(dir.path().join(".env"), dotenv).expect("write the .env");
    }
    for (name, text) in &attack.beside {
        std::fs::write(dir.path().join(name), text).expect("write a file it names");
    }

    let mut command = address_space_limited(Path::new(env!("CARGO_BIN_EXE_mquery")), ADDRESS_SPACE);
    command
        .args(["check", attack.file_name])
        .current_dir(dir.path())
        .env_clear()
        .env("MQUERY_INSECURE_REGISTRIES", registry.host())
        .env("MQUERY_DOCKER_HUB_MIRROR", registry.base_url());
    let run = run_measured(command, DEADLINE);

    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    let ended = match run.status {
        None => format!("killed after {DEADLINE:?}"),
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit {code}"),
            (None, Some(signal)) => format!("KILLED BY SIGNAL {signal}"),
            (None, None) => format!("{status}"),
        },
    };
    let report = format!(
        "{} ({} bytes): {ended}, output {} bytes, peak RSS {:.1} MiB, {:.2?}",
        attack.name,
        attack.text.len(),
        run.stdout_len,
        run.peak_rss_kib as f64 / 1024.0,
        run.elapsed,
    );
    eprintln!("attack: {report}");
    let head = |text: &str| text.chars().take(1500).collect::<String>();

    assert_eq!(
        run.status.and_then(|s| s.code()),
        Some(1),
        "{report}\nmquery check must exit 1 (never by a signal)\nstdout: {}\nstderr: {}",
        head(&stdout),
        head(&stderr)
    );
    // a row, or for a file the command cannot use at all (a `.env` it refuses, as docker
    // compose refuses it) the sentence on stderr
    assert!(
        attack.names_limit(&stdout) || attack.names_limit(&stderr),
        "{report}\nthe output must have a row naming {}\nstdout: {}\nstderr: {}",
        attack.limit,
        head(&stdout),
        head(&stderr)
    );
    assert!(
        run.stdout_len < MAX_ANSWER,
        "{report}\nthe output must be under {MAX_ANSWER} bytes"
    );
    assert!(
        run.peak_rss_kib < PEAK_RSS_KIB,
        "{report}\nthe peak RSS must stay under {} MiB",
        PEAK_RSS_KIB >> 10
    );
}

#[test]
fn nested_block_sequences() {
    check(mquery_tests::attacks::nested_block_sequences);
}

#[test]
fn nested_flow_sequences() {
    check(mquery_tests::attacks::nested_flow_sequences);
}

#[test]
fn alias_bomb_kubernetes() {
    check(mquery_tests::attacks::alias_bomb_kubernetes);
}

#[test]
fn alias_bomb_compose() {
    check(mquery_tests::attacks::alias_bomb_compose);
}

#[test]
fn merge_key_bomb_compose() {
    check(mquery_tests::attacks::merge_key_bomb_compose);
}

#[test]
fn merge_chain_compose() {
    check(mquery_tests::attacks::merge_chain_compose);
}

#[test]
fn dockerfile_arg_expansion() {
    check(mquery_tests::attacks::dockerfile_arg_expansion);
}

#[test]
fn dockerfile_arg_chain() {
    check(mquery_tests::attacks::dockerfile_arg_chain);
}

#[test]
fn dotenv_chain() {
    check(mquery_tests::attacks::dotenv_chain);
}

#[test]
fn one_letter_lines() {
    check(mquery_tests::attacks::one_letter_lines);
}

#[test]
fn aliased_long_image() {
    check(mquery_tests::attacks::aliased_long_image);
}

#[test]
fn lenient_growth() {
    check(mquery_tests::attacks::lenient_growth);
}

#[test]
fn gitlab_variable_bomb() {
    check(mquery_tests::attacks::gitlab_variable_bomb);
}

#[test]
fn gitlab_extends_chain() {
    check(mquery_tests::attacks::gitlab_extends_chain);
}

#[test]
fn compose_include_fan_out() {
    check(mquery_tests::attacks::compose_include_fan_out);
}

#[test]
fn kustomize_tag_suffix_growth() {
    check(mquery_tests::attacks::kustomize_tag_suffix_growth);
}
