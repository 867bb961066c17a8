//! Credential helpers: `docker-credential-NAME get`, the server URL on stdin, a JSON
//! `{"ServerURL", "Username", "Secret"}` on stdout; the `Username` `<token>` means the secret
//! is an identity token; exiting non-zero after printing `credentials not found in native
//! keychain` means no login (docker/docker-credential-helpers `client/client.go`, `Get`, and
//! `credentials/error.go`; docker/cli `cli/config/credentials/native_store.go`).
//!
//! Every helper is hostile until it answered: it runs at most [`HELPER_TIMEOUT`] (then it is
//! killed), at most [`MAX_HELPER_OUTPUT`] of its stdout is read, and no error repeats what it
//! printed (it may hold a secret). Its stderr is the user's, as with docker.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use registry::credentials::{Login, LoginError, Secret};
use serde::Deserialize;

/// How long a credential helper may run.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a helper's stdout read.
pub const MAX_HELPER_OUTPUT: u64 = 64 << 10;
/// What a helper prints when it holds no login for the server
/// (docker-credential-helpers `credentials/error.go`).
const NOT_FOUND: &str = "credentials not found in native keychain";

/// No `Debug`: it holds the secret.
#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Asks `docker-credential-NAME` (on `PATH`) for the login of `server_url`.
pub fn get(name: &str, server_url: &str) -> Result<Option<Login>, LoginError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(LoginError(format!(
            "credential helper name {name:?} is not valid"
        )));
    }
    let program = format!("docker-credential-{name}");
    run(OsStr::new(&program), &program, server_url, HELPER_TIMEOUT)
}

/// Runs `program get` (`shown` names it in errors) for `server_url`, within `timeout`.
pub fn run(
    program: &OsStr,
    shown: &str,
    server_url: &str,
    timeout: Duration,
) -> Result<Option<Login>, LoginError> {
    let fail = |what: String| LoginError(format!("credential helper {shown} {what}"));
    let mut child = Command::new(program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => fail("is not installed (not found on PATH)".into()),
            _ => fail(format!("cannot be started: {e}")),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // a helper that exits without reading its input is judged by its answer
        let _ = stdin.write_all(server_url.as_bytes());
    }
    let (sender, output) = mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let read = stdout.take(MAX_HELPER_OUTPUT + 1).read_to_end(&mut out);
            let _ = sender.send(read.map(|_| out));
        });
    }
    let deadline = Instant::now() + timeout;
    let timed_out = || fail(format!("did not answer within {} s", timeout.as_secs()));
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(timed_out());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(fail(format!("cannot be waited for: {e}"))),
        }
    };
    // a child of the helper may still hold its stdout: wait no longer than the deadline
    let left = deadline.saturating_duration_since(Instant::now());
    let out = match output.recv_timeout(left) {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return Err(fail(format!("cannot be read: {e}"))),
        Err(_) => return Err(timed_out()),
    };
    if out.len() as u64 > MAX_HELPER_OUTPUT {
        return Err(fail(format!(
            "printed more than {} KiB",
            MAX_HELPER_OUTPUT >> 10
        )));
    }
    if !status.success() {
        if String::from_utf8_lossy(&out).trim() == NOT_FOUND {
            return Ok(None);
        }
        return Err(fail(format!("failed ({status})")));
    }
    let answer: Answer = serde_json::from_slice(&out)
        .map_err(|_| fail("printed something that is not a credentials answer".into()))?;
    Ok(match (answer.username.as_str(), answer.secret) {
        (_, secret) if secret.is_empty() => None,
        ("<token>", secret) => Some(Login::IdentityToken(Secret::new(secret))),
        ("", _) => None,
        (username, secret) => Some(Login::Basic {
            username: username.to_owned(),
            password: Secret::new(secret),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A helper script in `dir` running `body`.
    fn script(dir: &tempfile::TempDir, name: &str, body: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write the helper");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    fn ask(path: &std::path::Path, timeout: Duration) -> Result<Option<Login>, LoginError> {
        run(
            path.as_os_str(),
            "docker-credential-t",
            "reg.example",
            timeout,
        )
    }

    #[test]
    fn answers_of_a_helper() {
        let dir = tempfile::tempdir().expect("temp dir");
        // the server URL arrives on stdin, the action is the argument
        let echo = script(
            &dir,
            "echo",
            r#"read url; printf '{"ServerURL":"%s","Username":"%s","Secret":"s3cret"}' "$url" "$1""#,
        );
        assert_eq!(
            ask(&echo, HELPER_TIMEOUT).expect("answer"),
            Some(Login::Basic {
                username: "get".into(),
                password: Secret::new("s3cret")
            })
        );
        let token = script(
            &dir,
            "token",
            r#"echo '{"Username":"<token>","Secret":"rt"}'"#,
        );
        assert_eq!(
            ask(&token, HELPER_TIMEOUT).expect("answer"),
            Some(Login::IdentityToken(Secret::new("rt")))
        );
        let none = script(&dir, "none", &format!("echo '{NOT_FOUND}'; exit 1"));
        assert_eq!(ask(&none, HELPER_TIMEOUT).expect("no login"), None);
    }

    #[test]
    fn failing_helpers_are_clear_errors() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error =
            |path: &std::path::Path, timeout| ask(path, timeout).expect_err("an error").to_string();
        let garbage = script(&dir, "garbage", "echo 'password=hunter2 <html>'");
        assert_eq!(
            error(&garbage, HELPER_TIMEOUT),
            "credential helper docker-credential-t printed something that is not a credentials answer"
        );
        let failing = script(&dir, "failing", "echo 'hunter2'; exit 3");
        assert_eq!(
            error(&failing, HELPER_TIMEOUT),
            "credential helper docker-credential-t failed (exit status: 3)"
        );
        let huge = script(&dir, "huge", "head -c 200000 /dev/zero");
        assert!(error(&huge, HELPER_TIMEOUT).ends_with("printed more than 64 KiB"));
        let hanging = script(&dir, "hanging", "exec sleep 30");
        let started = Instant::now();
        assert_eq!(
            error(&hanging, Duration::from_secs(1)),
            "credential helper docker-credential-t did not answer within 1 s"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        // a helper that leaves a child holding its stdout is not waited for either
        let forking = script(&dir, "forking", "sleep 30 2>/dev/null &\nexit 0");
        assert!(error(&forking, Duration::from_secs(1)).ends_with("did not answer within 1 s"));
        assert_eq!(
            error(&dir.path().join("absent"), HELPER_TIMEOUT),
            "credential helper docker-credential-t is not installed (not found on PATH)"
        );
        assert_eq!(
            get("../../bin/sh", "x").expect_err("refused").to_string(),
            "credential helper name \"../../bin/sh\" is not valid"
        );
    }
}
