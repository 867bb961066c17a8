//! `mquery` with the user's own logins (README "Command line"): docker's config.json with a
//! credential helper on PATH against the real registry behind a token server that wants Basic
//! credentials; helpers that hang, print garbage or are missing; a check of public and
//! private images; no secret in any output, even at `RUST_LOG=trace`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use base64::Engine as _;
use mquery_tests::distribution::Distribution;
use mquery_tests::fixtures::{Lookups, Pusher, five_platform_index};
use mquery_tests::token::{Accounts, TokenServer};

const SECRET: &str = "s3cret-pw";

/// The private registry, its token server and a public registry.
struct Registries {
    private: Lookups,
    token: TokenServer,
    public: Distribution,
}

async fn registries() -> Registries {
    let token = TokenServer::start().await;
    let private = Lookups::with_token(&token);
    five_platform_index(&private.pusher, "private/app", "v1").await;
    five_platform_index(&private.pusher, "private/hidden", "v1").await;
    token.set_accounts(Accounts::Only {
        username: "alice".into(),
        password: SECRET.into(),
    });
    token.deny("private/hidden");
    let public = Distribution::start_open();
    five_platform_index(&Pusher::open(&public), "acme/app", "v1").await;
    Registries {
        private,
        token,
        public,
    }
}

/// A home with `~/.docker/config.json` of `config` and credential helpers on a PATH
/// directory: `good` answers alice's login, `hang` never answers, `garbage` prints HTML.
fn home(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let docker = dir.path().join(".docker");
    std::fs::create_dir_all(&docker).expect("mkdir");
    std::fs::write(docker.join("config.json"), config).expect("write config.json");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    for (name, body) in [
        (
            "good",
            format!(
                r#"read url; printf '{{"ServerURL":"%s","Username":"alice","Secret":"{SECRET}"}}' "$url""#
            ),
        ),
        ("hang", "exec sleep 60".to_owned()),
        ("garbage", format!("echo '<html>{SECRET}</html>'")),
    ] {
        let path = bin.join(format!("docker-credential-{name}"));
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write helper");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    dir
}

/// `mquery ARGS` with `home` as HOME (and its bin on PATH), at `RUST_LOG=trace`, with
/// `envs`.
fn run(home: &Path, args: &[&str], envs: &[(&str, String)]) -> Output {
    let path = format!(
        "{}:{}",
        home.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new(env!("CARGO_BIN_EXE_mquery"))
        .args(args)
        .env("HOME", home)
        .env("PATH", path)
        .env("RUST_LOG", "trace")
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("MQUERY_DOCKER_HUB_MIRROR")
        .env_remove("MQUERY_ENDPOINT")
        .envs(envs.iter().map(|(k, v)| (*k, v)))
        .output()
        .expect("run mquery")
}

/// [`run`] with the registries of `r` listed as insecure.
fn mquery(r: &Registries, home: &Path, args: &[&str]) -> Output {
    let insecure = [r.private.registry.host(), r.token.host(), r.public.host()].join(",");
    run(home, args, &[("MQUERY_INSECURE_REGISTRIES", insecure)])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// No form of the secret anywhere in what mquery printed.
fn assert_no_secret(out: &Output) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("alice:{SECRET}"));
    for stream in [text(&out.stdout), text(&out.stderr)] {
        assert!(
            !stream.contains(SECRET) && !stream.contains(&basic),
            "{stream}"
        );
    }
}

/// Asserts that mquery exited 1 printing `line` on stderr.
fn assert_fails_with(out: &Output, line: &str) {
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("mquery: {line}\n")),
        "{}",
        text(&out.stderr)
    );
}

/// Asserts that mquery exited 1 because the registry refused the login sent for `image`.
fn assert_unauthorized(out: &Output, host: &str, image: &str) {
    assert_fails_with(
        out,
        &format!("unauthorized: check your login for {host} ({image})"),
    );
}

/// Asserts that mquery exited 1 with "not found or not public" for `image`: a refusal with no
/// login for its registry reads as a misspelled image does.
fn assert_not_found(out: &Output, image: &str) {
    assert_fails_with(out, &format!("image not found or not public: {image}"));
}

fn helper_config(host: &str, helper: &str) -> String {
    format!(r#"{{"auths": {{"{host}": {{}}}}, "credHelpers": {{"{host}": "{helper}"}}}}"#)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credential_helper_logs_in_and_nothing_prints_the_secret() {
    let r = registries().await;
    let host = r.private.registry.host();
    let image = r.private.registry.image("private/app:v1");
    let home = home(&helper_config(&host, "good"));
    let out = mquery(&r, home.path(), &[&image]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with(&format!("Image: {image} (digest: sha256:")));
    assert!(text(&out.stderr).contains("TRACE"), "trace logging is on");
    assert_no_secret(&out);
    assert_eq!(r.token.scopes(), ["repository:private/app:pull"]);

    // the same login from an `auths` entry (base64 `auth`), in the JSON output
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("alice:{SECRET}"));
    let home = self::home(&format!(
        r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#
    ));
    let out = mquery(&r, home.path(), &["--json", &image]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_no_secret(&out);

    // a wrong password: unauthorized, naming the registry
    let wrong = base64::engine::general_purpose::STANDARD.encode("alice:wrong");
    let home = self::home(&format!(
        r#"{{"auths": {{"{host}": {{"auth": "{wrong}"}}}}}}"#
    ));
    assert_unauthorized(&mquery(&r, home.path(), &[&image]), &host, &image);
    // no login at all: as a misspelled image
    let home = self::home("{}");
    assert_not_found(&mquery(&r, home.path(), &[&image]), &image);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_check_of_public_and_private_images_answers_every_row() {
    let r = registries().await;
    let host = r.private.registry.host();
    let home = home(&helper_config(&host, "good"));
    let compose = home.path().join("compose.yaml");
    let (public, private, hidden) = (
        r.public.image("acme/app:v1"),
        r.private.registry.image("private/app:v1"),
        r.private.registry.image("private/hidden:v1"),
    );
    std::fs::write(
        &compose,
        format!(
            "services:\n  web:\n    image: {public}\n  api:\n    image: {private}\n  \
             secret:\n    image: {hidden}\n"
        ),
    )
    .expect("write compose.yaml");
    let out = mquery(
        &r,
        home.path(),
        &["--json", "check", &compose.display().to_string()],
    );
    assert_no_secret(&out);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    let images = doc["images"].as_array().expect("images");
    let row = |image: &str| {
        images
            .iter()
            .find(|row| row["image"] == image)
            .unwrap_or_else(|| panic!("{image} in {doc}"))
    };
    assert!(row(&public)["error"].is_null(), "{doc}");
    assert!(row(&private)["error"].is_null(), "{doc}");
    assert_eq!(row(&hidden)["error"]["code"], "NOT_FOUND", "{doc}");
    assert_eq!(
        row(&hidden)["error"]["message"],
        format!("unauthorized: check your login for {host} ({hidden})"),
        "{doc}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn helpers_that_hang_print_garbage_or_are_missing_are_named() {
    let r = registries().await;
    let host = r.private.registry.host();
    let image = r.private.registry.image("private/app:v1");
    let cases = [
        (
            "garbage",
            "credential helper docker-credential-garbage printed something that is not a credentials answer",
        ),
        (
            "absent",
            "credential helper docker-credential-absent is not installed (not found on PATH)",
        ),
        (
            "hang",
            "credential helper docker-credential-hang did not answer within 10 s",
        ),
    ];
    for (helper, message) in cases {
        let home = home(&helper_config(&host, helper));
        let started = Instant::now();
        let out = mquery(&r, home.path(), &[&image]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{helper}: {}",
            text(&out.stderr)
        );
        let error = format!("mquery: cannot read the login for {host}: {message}\n");
        assert!(text(&out.stderr).contains(&error), "{}", text(&out.stderr));
        assert_no_secret(&out);
        assert!(started.elapsed() < Duration::from_secs(15), "{helper}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_to_a_tls_registry_with_htpasswd() {
    let registry = Distribution::start_tls_htpasswd("alice", SECRET);
    let pusher = Pusher::for_tls_with_login(&registry, "alice", SECRET);
    let (index, _) = five_platform_index(&pusher, "private/app", "v1").await;
    let image = registry.image("private/app:v1");
    let envs = [
        ("MQUERY_PRIVATE_REGISTRIES", registry.host()),
        ("MQUERY_CA_FILE", registry.ca_file().display().to_string()),
    ];
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("alice:{SECRET}"));
    let host = registry.host();
    let home = self::home(&format!(
        r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#
    ));
    let out = run(home.path(), &[&image], &envs);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with(&format!("Image: {image} (digest: {})", index.digest)),
        "{}",
        text(&out.stdout)
    );
    assert_no_secret(&out);

    // a wrong password: unauthorized, naming the registry; without the login: not found
    let wrong = base64::engine::general_purpose::STANDARD.encode("alice:wrong");
    let home = self::home(&format!(
        r#"{{"auths": {{"{host}": {{"auth": "{wrong}"}}}}}}"#
    ));
    assert_unauthorized(&run(home.path(), &[&image], &envs), &host, &image);
    let home = self::home("{}");
    assert_not_found(&run(home.path(), &[&image], &envs), &image);
}

/// A credentials file's name is printed with its control characters escaped, as every name
/// the command prints from outside: an `--authfile` named with an escape sequence cannot drive
/// the terminal.
#[test]
fn a_credentials_file_name_is_printed_escaped() {
    let home = home("{}");
    let hostile = home.path().join("auth\u{1b}[2J.json");
    let hostile = hostile.to_str().expect("a UTF-8 path");
    let out = run(
        home.path(),
        &["--authfile", hostile, "127.0.0.1:9/never/asked:v1"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("credentials file"), "{stderr}");
    assert!(stderr.contains("no such file"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}
