//! HTTPS, as every public registry speaks it: the real registry serving TLS with a certificate
//! from a test CA, reached through `MQUERY_PRIVATE_REGISTRIES` (exempt from the address guard,
//! still HTTPS). A lookup succeeds when the CA is trusted (`SSL_CERT_FILE` or
//! `MQUERY_CA_FILE`) and fails with "certificate not trusted" when it is not; with no system
//! store at all the binary falls back to its compiled-in roots.

use std::process::{Command, Output};

use mquery_tests::distribution::Distribution;
use mquery_tests::fixtures::{APP, Pusher, five_platform_index};
use serde_json::Value;

struct Fixture {
    registry: Distribution,
    image: String,
    digest: String,
}

async fn fixture() -> Fixture {
    let registry = Distribution::start_tls();
    let pusher = Pusher::for_tls(&registry);
    let (index, _) = five_platform_index(&pusher, "acme/app", "v1").await;
    Fixture {
        image: registry.image(APP),
        digest: index.digest.to_string(),
        registry,
    }
}

/// `mquery` with a clean environment plus `envs`.
fn mquery(args: &[&str], envs: &[(&str, String)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mquery"));
    command.args(args).env_clear().env("PATH", "/usr/bin:/bin");
    for (k, v) in envs {
        command.env(k, v);
    }
    command.output().expect("run mquery")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

/// The error document mquery printed with `--json`, once its code is checked.
fn error_document(out: &Output, code: &str) -> Value {
    let doc: Value = serde_json::from_slice(&out.stdout).expect("error document");
    assert_eq!(doc["error"]["code"], code, "{doc}");
    doc
}

fn served_manifests(registry: &Distribution, mark: usize) -> usize {
    registry
        .served_since(mark)
        .iter()
        .filter(|s| s.path.contains("/manifests/") && s.status == 200)
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tls_registry_is_reached_when_its_ca_is_trusted() {
    let f = fixture().await;
    let ca = f.registry.ca_file().display().to_string();
    let private = ("MQUERY_PRIVATE_REGISTRIES", f.registry.host());
    for trust in [
        ("SSL_CERT_FILE", ca.clone()),
        ("MQUERY_CA_FILE", ca.clone()),
    ] {
        let mark = f.registry.mark();
        let out = mquery(&[&f.image], &[private.clone(), trust.clone()]);
        let what = format!("{trust:?}");
        mquery_tests::assert_index_answer(&out, &f.image, &f.digest, &what);
        // the registry serves nothing but TLS, so this request went over HTTPS
        assert_eq!(served_manifests(&f.registry, mark), 1, "{trust:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_certificate_is_a_clear_error() {
    let f = fixture().await;
    let private = ("MQUERY_PRIVATE_REGISTRIES", f.registry.host());
    let mark = f.registry.mark();
    let out = mquery(&[&f.image], std::slice::from_ref(&private));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "mquery: certificate not trusted: {}: issued by an unknown authority \
             (trust its CA with SSL_CERT_FILE or MQUERY_CA_FILE)\n",
            f.registry.host()
        )
    );
    assert!(out.stdout.is_empty());
    assert_eq!(served_manifests(&f.registry, mark), 0);

    let out = mquery(&["--json", &f.image], &[private]);
    assert_eq!(out.status.code(), Some(1));
    let doc = error_document(&out, "UPSTREAM_ERROR");
    let message = doc["error"]["message"].as_str().unwrap_or("");
    assert!(message.starts_with("certificate not trusted: "), "{doc}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_exemption_keeps_https_and_the_guard_still_refuses_unlisted_hosts() {
    let f = fixture().await;
    let ca = ("SSL_CERT_FILE", f.registry.ca_file().display().to_string());
    // not listed anywhere: refused before any request
    let out = mquery(&["--json", &f.image], std::slice::from_ref(&ca));
    assert_eq!(out.status.code(), Some(1));
    error_document(&out, "REGISTRY_NOT_ALLOWED");
    // listed as insecure: plain HTTP, which a TLS-only registry rejects
    let out = mquery(
        &["--json", &f.image],
        &[
            ca.clone(),
            ("MQUERY_INSECURE_REGISTRIES", f.registry.host()),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    error_document(&out, "UPSTREAM_ERROR");
    // a private registry on another port of the same host is not exempt
    let other = format!("127.0.0.1:{}/acme/app:v1", f.registry.port() + 1);
    let out = mquery(
        &["--json", &other],
        &[ca, ("MQUERY_PRIVATE_REGISTRIES", f.registry.host())],
    );
    error_document(&out, "REGISTRY_NOT_ALLOWED");
}

#[test]
fn a_bad_ca_file_is_an_error_at_start_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").expect("write");
    let out = mquery(
        &["alpine"],
        &[("MQUERY_CA_FILE", empty.display().to_string())],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "mquery: MQUERY_CA_FILE: {} holds no PEM certificate\n",
            empty.display()
        )
    );
    let out = mquery(
        &["alpine"],
        &[(
            "SSL_CERT_FILE",
            dir.path().join("missing.pem").display().to_string(),
        )],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("SSL_CERT_FILE/SSL_CERT_DIR are set but no certificate"),
        "{}",
        text(&out.stderr)
    );
}

/// With no certificate store on the machine (as in the `FROM scratch` image), the binary uses
/// the roots compiled into it. The store is hidden by a private mount namespace (`unshare -m`)
/// with empty tmpfs mounts over the places OpenSSL looks; the network stays the host's, so the
/// loopback registry is reachable.
#[tokio::test(flavor = "multi_thread")]
async fn without_a_system_store_the_compiled_in_roots_are_used() {
    let f = fixture().await;
    let ca = f.registry.ca_file().display().to_string();
    let script = "for d in /etc/ssl /usr/lib/ssl /etc/pki /usr/local/ssl; do \
                    [ -d \"$d\" ] && mount -t tmpfs none \"$d\"; \
                  done; exec \"$@\"";
    let run = |envs: &[(&str, &str)]| {
        let mut command = Command::new("unshare");
        command
            .args([
                "-m",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                script,
                "sh",
            ])
            .arg(env!("CARGO_BIN_EXE_mquery"))
            .arg(&f.image)
            .env_clear()
            .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
            .env("RUST_LOG", "registry=debug")
            .env("MQUERY_PRIVATE_REGISTRIES", f.registry.host());
        for (k, v) in envs {
            command.env(k, v);
        }
        command
            .output()
            .expect("run unshare (the test command runs as root)")
    };
    // the test CA is not among Mozilla's roots: refused, and the log says which roots
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("roots=Bundled"), "{stderr}");
    assert!(
        stderr.contains("mquery: certificate not trusted: "),
        "{stderr}"
    );
    // MQUERY_CA_FILE adds to the compiled-in roots
    let out = run(&[("MQUERY_CA_FILE", &ca)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("roots=Bundled"));
    assert!(text(&out.stdout).contains(" * Manifest List: Yes"));
}

/// `mquery check` of a stack on one HTTPS registry with token auth whose realm is a second
/// HTTPS server, each behind a proxy counting connections: one connection to each, one token
/// request for all the stack's repositories, every manifest over HTTP/2.
#[tokio::test(flavor = "multi_thread")]
async fn a_stack_check_costs_one_connection_and_one_token_request() {
    use mquery_tests::fixtures::{Format, platform};
    use mquery_tests::proxy::Proxy;
    use mquery_tests::token::TokenServer;
    use std::time::Duration;

    let token = TokenServer::start_tls().await;
    let token_proxy = Proxy::start(token.port(), Duration::ZERO).await;
    // `localhost`, not `127.0.0.1`: a second name, as a token service has its own (a TLS
    // client keeps its sessions and key-exchange hints per server name)
    let token = token.via(format!("localhost:{}", token_proxy.port()));
    let registry = Distribution::start_tls_with_token(&token);
    let registry_proxy = Proxy::start(registry.port(), Duration::ZERO).await;
    let pusher = Pusher::for_tls_with_token(&registry, &token);
    let mut compose = String::from("services:\n");
    for i in 0..20 {
        let repo = format!("acme/svc{i:02}");
        let platforms = vec![
            platform("linux", "amd64", None),
            platform("linux", "arm64", Some("v8")),
        ];
        pusher
            .index_of(&repo, Some("v1"), Format::Oci, platforms)
            .await;
        compose.push_str(&format!(
            "  s{i}:\n    image: {}/{repo}:v1\n",
            registry_proxy.host()
        ));
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("compose.yaml");
    std::fs::write(&file, compose).expect("write the compose file");
    let ca_file = dir.path().join("cas.pem");
    mquery_tests::tls::ca_bundle(&ca_file, &[registry.ca_file(), token.ca_file()])
        .expect("both CAs in one file");
    let mark = registry.mark();
    let out = mquery(
        &[
            "check",
            &file.display().to_string(),
            "--platform",
            "linux/arm64",
        ],
        &[
            (
                "MQUERY_PRIVATE_REGISTRIES",
                format!("{},localhost:{}", registry_proxy.host(), token_proxy.port()),
            ),
            ("MQUERY_CA_FILE", ca_file.display().to_string()),
        ],
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(served_manifests(&registry, mark), 20);
    assert_eq!(registry_proxy.connections(), 1, "registry connections");
    assert_eq!(token_proxy.connections(), 1, "token-server connections");
    assert_eq!(token.requests(), 1, "token requests");
    let served = registry.served_since(mark);
    assert!(
        served.iter().all(|s| s.protocol == "HTTP/2.0"),
        "{served:?}"
    );
}
