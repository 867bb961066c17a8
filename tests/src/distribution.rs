//! The real CNCF distribution registry, started as a child process on a free loopback port.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::tls::TestCa;
use crate::token::TokenServer;
use crate::{free_port, listening, wait_for};

/// One request the registry served, from its access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub method: String,
    pub path: String,
    pub status: u16,
    /// `HTTP/1.1`, or `HTTP/2.0` when the client and the registry agreed on HTTP/2 (ALPN).
    pub protocol: String,
}

/// A running `docker-registry serve`. Killed on drop.
#[derive(Debug)]
pub struct Distribution {
    child: Child,
    port: u16,
    /// With TLS: the test CA that signed the registry's certificate, as a PEM file.
    ca_file: Option<PathBuf>,
    config_path: PathBuf,
    log: Arc<Mutex<Vec<Served>>>,
    output: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

fn binary() -> PathBuf {
    let path = std::env::var_os("MQUERY_TEST_REGISTRY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/docker-registry"));
    assert!(
        path.exists(),
        "{} is missing: run scripts/test.sh, which installs Debian's docker-registry",
        path.display()
    );
    path
}

/// Parses one line of the registry's combined access log:
/// `127.0.0.1 - - [date] "GET /v2/x/manifests/latest HTTP/1.1" 200 123 "" "agent"`.
pub fn parse_access_line(line: &str) -> Option<Served> {
    let start = line.find('"')?;
    let rest = &line[start + 1..];
    let end = rest.find('"')?;
    let mut request = rest[..end].split(' ');
    let method = request.next()?.to_owned();
    let path = request.next()?.to_owned();
    let protocol = request.next()?.to_owned();
    if !protocol.starts_with("HTTP/") {
        return None;
    }
    let status = rest[end + 1..].split_whitespace().next()?.parse().ok()?;
    Some(Served {
        method,
        path,
        status,
        protocol,
    })
}

fn spawn(
    config_path: &std::path::Path,
    log: &Arc<Mutex<Vec<Served>>>,
    output: &Arc<Mutex<Vec<String>>>,
) -> Result<Child, String> {
    let mut child = Command::new(binary())
        .arg("serve")
        .arg(config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn docker-registry: {e}"))?;
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let log = Arc::clone(log);
        let output = Arc::clone(output);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Some(served) = parse_access_line(&line) {
                    log.lock().expect("log lock").push(served);
                } else {
                    output.lock().expect("output lock").push(line);
                }
            }
        });
    }
    Ok(child)
}

/// Who may use a registry.
#[derive(Debug, Clone, Copy)]
enum Auth<'a> {
    Open,
    Token(&'a TokenServer),
    /// `auth: htpasswd` with this username and password.
    Htpasswd(&'a str, &'a str),
}

impl Distribution {
    /// An open registry: anyone may pull and push.
    pub fn start_open() -> Distribution {
        Distribution::start(None)
    }

    /// A registry with `auth: token`, trusting `token`'s certificate.
    pub fn start_with_token(token: &TokenServer) -> Distribution {
        Distribution::start(Some(token))
    }

    /// [`Distribution::start_tls`] with `auth: token` from `token` (whose realm may be a TLS
    /// server too: [`TokenServer::start_tls`]); HTTP/2 is offered by ALPN, as distribution
    /// does by default since 2.6 (`registry/registry.go`, `nextProtos`).
    pub fn start_tls_with_token(token: &TokenServer) -> Distribution {
        Distribution::start_with(Auth::Token(token), true)
    }

    /// An open registry serving HTTPS only (its `http.tls` settings), with a certificate for
    /// `127.0.0.1` and `localhost` issued by a fresh test CA: [`Distribution::ca_file`].
    pub fn start_tls() -> Distribution {
        Distribution::start_with(Auth::Open, true)
    }

    /// [`Distribution::start_tls`] with `auth: htpasswd`: only `username` with `password`
    /// (a bcrypt entry written by apache2-utils' `htpasswd`) may pull or push.
    pub fn start_tls_htpasswd(username: &str, password: &str) -> Distribution {
        Distribution::start_with(Auth::Htpasswd(username, password), true)
    }

    fn start(token: Option<&TokenServer>) -> Distribution {
        Distribution::start_with(token.map_or(Auth::Open, Auth::Token), false)
    }

    fn start_with(auth: Auth<'_>, tls: bool) -> Distribution {
        let mut last_error = String::new();
        for _ in 0..5 {
            match Distribution::try_start(auth, tls) {
                Ok(registry) => return registry,
                Err(e) => last_error = e,
            }
        }
        panic!("docker-registry did not start: {last_error}");
    }

    fn try_start(auth: Auth<'_>, tls: bool) -> Result<Distribution, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = free_port();
        let (tls_config, ca_file) = if tls {
            let files = TestCa::issue(dir.path())?;
            (
                format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    files.certificate.display(),
                    files.key.display()
                ),
                Some(files.ca),
            )
        } else {
            (String::new(), None)
        };
        let auth = match auth {
            Auth::Htpasswd(username, password) => {
                let entry = Command::new("htpasswd")
                    .args(["-Bbn", username, password])
                    .output()
                    .map_err(|e| {
                        format!("htpasswd (apache2-utils, scripts/setup-test-env.sh): {e}")
                    })?;
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, &entry.stdout).map_err(|e| e.to_string())?;
                format!(
                    "auth:\n  htpasswd:\n    realm: mquery-test\n    path: {}\n",
                    file.display()
                )
            }
            Auth::Token(token) => {
                let bundle = dir.path().join("root.pem");
                std::fs::write(&bundle, token.certificate_pem()).map_err(|e| e.to_string())?;
                format!(
                    "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                    token.realm(),
                    token.service(),
                    token.issuer(),
                    bundle.display()
                )
            }
            Auth::Open => String::new(),
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  \
             maintenance:\n    uploadpurging:\n      enabled: false\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: mquery-test-secret\n{tls_config}{auth}",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let output = Arc::new(Mutex::new(Vec::new()));
        let child = spawn(&config_path, &log, &output)?;
        let mut registry = Distribution {
            child,
            port,
            ca_file,
            config_path,
            log,
            output,
            _dir: dir,
        };
        registry.wait_listening()?;
        Ok(registry)
    }

    /// Starts the registry again after [`Distribution::stop`]: same port, same content.
    pub fn restart(&mut self) {
        self.stop();
        self.child =
            spawn(&self.config_path, &self.log, &self.output).expect("respawn docker-registry");
        self.wait_listening().expect("the registry listens again");
    }

    fn wait_listening(&mut self) -> Result<(), String> {
        let port = self.port;
        let every = Duration::from_millis(20);
        wait_for(&mut self.child, Duration::from_secs(10), every, || {
            listening(port).then_some(())
        })
        .map_err(|e| {
            let output = self.output.lock().expect("output lock");
            format!("docker-registry {e}: {output:?}")
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`: the registry domain of references to it.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A reference to `rest` (`repo:tag`, `repo@digest`) on this registry.
    pub fn image(&self, rest: &str) -> String {
        format!("{}/{rest}", self.host())
    }

    /// The setting that lets the service and the CLI reach this registry over plain HTTP.
    pub fn insecure_env(&self) -> (&'static str, String) {
        ("MQUERY_INSECURE_REGISTRIES", self.host())
    }

    pub fn base_url(&self) -> String {
        let scheme = if self.ca_file.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The PEM file of the CA that issued a TLS registry's certificate.
    pub fn ca_file(&self) -> &std::path::Path {
        self.ca_file
            .as_deref()
            .expect("ca_file is only for a registry started with start_tls")
    }

    /// How many requests have been logged so far: a mark for [`Distribution::served_since`].
    pub fn mark(&self) -> usize {
        self.settled().len()
    }

    /// The requests served after `mark`, once the access log has settled (the registry logs
    /// a request just after answering it).
    pub fn served_since(&self, mark: usize) -> Vec<Served> {
        self.settled().split_off(mark)
    }

    fn settled(&self) -> Vec<Served> {
        let mut last = self.log.lock().expect("log lock").len();
        let mut stable_since = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && stable_since.elapsed() < Duration::from_millis(150) {
            std::thread::sleep(Duration::from_millis(10));
            let now = self.log.lock().expect("log lock").len();
            if now != last {
                last = now;
                stable_since = Instant::now();
            }
        }
        self.log.lock().expect("log lock").clone()
    }

    /// Stops the registry (for tests of a registry that went away).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Distribution {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_log_lines() {
        let line = r#"127.0.0.1 - - [22/Nov/2026:19:40:00 +0000] "GET /v2/a/b/manifests/latest HTTP/1.1" 200 512 "" "mquery/0.1.0""#;
        assert_eq!(
            parse_access_line(line),
            Some(Served {
                method: "GET".into(),
                path: "/v2/a/b/manifests/latest".into(),
                status: 200,
                protocol: "HTTP/1.1".into(),
            })
        );
        assert_eq!(
            parse_access_line(r#"time="x" level=info msg="listening on 127.0.0.1:5000""#),
            None
        );
    }
}
