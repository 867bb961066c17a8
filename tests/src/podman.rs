//! Podman as the container tests run it: with the settings `scripts/build-image.sh` writes to
//! `.cache/podman/` (vfs storage in the project, cgroupfs, runc, host network), a deadline on
//! every command, the Docker API service (`podman system service`) for the literal `docker`
//! client, and removal of the containers a test created.
//!
//! Nothing here skips: a missing `podman`, `docker` or image build fails the test with what to
//! run.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The multi-platform image `scripts/build-image.sh` builds (a local manifest list).
pub const IMAGE: &str = "localhost/mquery:latest";

/// How long one `podman` or `docker` command may take (a pull, a push or a run).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// How long `scripts/build-image.sh` may take: a cold run compiles two targets; when the
/// image is up to date it takes seconds.
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(45 * 60);

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .expect("the tests crate lives in the workspace")
        .to_path_buf()
}

/// The Cargo profile of the image the tests use: `MQUERY_IMAGE_PROFILE`, default `smoke`
/// (what CI builds before the suite; the published image uses `release`).
pub fn profile() -> String {
    std::env::var("MQUERY_IMAGE_PROFILE")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "smoke".to_owned())
}

/// Runs `scripts/build-image.sh --profile PROFILE [extra]`: builds `localhost/mquery:latest`
/// unless it is up to date. The script holds a lock, so parallel tests wait for one build.
pub fn build_image(extra: &[&str]) {
    let root = workspace_root();
    let mut command = Command::new(root.join("scripts/build-image.sh"));
    command
        .arg("--profile")
        .arg(profile())
        .args(extra)
        .current_dir(&root);
    let out = output_within(command, BUILD_TIMEOUT, "scripts/build-image.sh");
    assert!(
        out.status.success(),
        "scripts/build-image.sh {extra:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes sure [`IMAGE`] exists and holds the current binaries.
pub fn ensure_image() {
    build_image(&[]);
}

/// Pushes [`IMAGE`] (the index and both images) to `reference`, e.g.
/// `127.0.0.1:PORT/mplatform/mquery:latest`.
pub fn push_image(reference: &str) {
    build_image(&["--push", reference]);
}

/// The environment every podman command gets: the files `scripts/build-image.sh` writes.
pub fn env() -> Vec<(&'static str, OsString)> {
    let dir = workspace_root().join(".cache/podman");
    let files = [
        ("CONTAINERS_CONF", dir.join("containers.conf")),
        ("CONTAINERS_STORAGE_CONF", dir.join("storage.conf")),
    ];
    files
        .into_iter()
        .map(|(name, path)| {
            assert!(
                path.exists(),
                "{} is missing: scripts/build-image.sh writes it",
                path.display()
            );
            (name, path.into_os_string())
        })
        .collect()
}

/// `podman` with the project's settings.
pub fn podman() -> Command {
    let mut command = Command::new(program("podman"));
    command.envs(env()).stdin(Stdio::null());
    command
}

/// The absolute path of `name` on PATH; panics (never skips) when it is missing.
pub fn program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not on PATH: run scripts/setup-test-env.sh, which installs it")
        })
}

/// Runs `command` to completion, killing it and failing the test after `timeout`.
pub fn output_within(command: Command, timeout: Duration, what: &str) -> Output {
    try_output_within(command, timeout, what).unwrap_or_else(|e| panic!("{e}"))
}

/// [`output_within`] that reports a failure to start or a timeout instead of panicking.
pub fn try_output_within(
    mut command: Command,
    timeout: Duration,
    what: &str,
) -> Result<Output, String> {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| format!("start {what}: {e}"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let Some(status) = wait_within(&mut child, timeout) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!(
            "{what} did not finish within {timeout:?}; stderr so far:\n{}",
            String::from_utf8_lossy(&stderr.join().unwrap_or_default())
        ));
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

fn drain(stream: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buffer = Vec::new();
        if let Some(mut stream) = stream {
            let _ = stream.read_to_end(&mut buffer);
        }
        buffer
    })
}

fn wait_within(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `podman ARGS` within [`COMMAND_TIMEOUT`].
pub fn podman_output(args: &[&str]) -> Output {
    let mut command = podman();
    command.args(args);
    output_within(
        command,
        COMMAND_TIMEOUT,
        &format!("podman {}", args.join(" ")),
    )
}

/// Names for the containers of one test, removed (with `podman rm -f`) when dropped, so a
/// failed or timed-out run leaves nothing behind.
#[derive(Debug, Default)]
pub struct Containers {
    names: Vec<String>,
    store: Vec<OsString>,
}

impl Containers {
    /// Containers in the project's store (`podman run` of [`IMAGE`]).
    pub fn new() -> Containers {
        Containers::default()
    }

    /// Containers that `service` runs, in its own store.
    pub fn of(service: &Service) -> Containers {
        Containers {
            names: Vec::new(),
            store: service.store_options(),
        }
    }

    /// A new container name unique to this process.
    pub fn name(&mut self) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "mquery-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        self.names.push(name.clone());
        name
    }

    /// Removes the containers created so far.
    pub fn remove_all(&mut self) {
        if let Err(e) = self.remove() {
            panic!("{e}");
        }
    }

    fn remove(&mut self) -> Result<(), String> {
        if self.names.is_empty() {
            return Ok(());
        }
        let mut command = podman();
        command
            .args(&self.store)
            .args(["rm", "--force", "--ignore"])
            .args(&self.names);
        let out = try_output_within(command, COMMAND_TIMEOUT, "podman rm")?;
        if !out.status.success() {
            return Err(format!(
                "podman rm {:?}: {}",
                self.names,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        self.names.clear();
        Ok(())
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        if let Err(e) = self.remove() {
            eprintln!("containers left behind: {e}");
        }
    }
}

/// `podman system service` on a Unix socket in a temporary directory: the Docker API the
/// `docker` client talks to. Stopped when dropped.
///
/// It runs with the project's settings but a store of its own in that directory (podman's
/// `--root`, `--runroot`, `--tmpdir`): what the `docker` client pulls must not land in the
/// store holding [`IMAGE`]. Pulling an image whose ID is one of the list's images (the same
/// image, pushed and pulled back) replaces that image's manifest with the registry's copy, and
/// podman 4.3 then cannot push the local list any more (the list's instance digest no longer
/// resolves).
#[derive(Debug)]
pub struct Service {
    child: Child,
    socket: PathBuf,
    dir: tempfile::TempDir,
}

impl Service {
    /// Starts the service with the project's settings, plus `registries_conf` (a
    /// registries.conf, e.g. remapping a Docker Hub namespace to a test registry) when given.
    pub fn start(registries_conf: Option<&str>) -> Service {
        let dir = tempfile::Builder::new()
            .prefix("mquery-podman-")
            .tempdir()
            .expect("temporary directory");
        let socket = dir.path().join("docker.sock");
        let mut command = podman();
        command.args(store_options(dir.path()));
        if let Some(conf) = registries_conf {
            let path = dir.path().join("registries.conf");
            std::fs::write(&path, conf).expect("write registries.conf");
            command.env("CONTAINERS_REGISTRIES_CONF", path);
        }
        let log = std::fs::File::create(dir.path().join("service.log")).expect("service log");
        let child = command
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start podman system service");
        let mut service = Service { child, socket, dir };
        service.wait_ready();
        service
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("podman system service exited with {status}: {}", self.log());
            }
            if self.ping() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "podman system service did not answer /_ping within 30s: {}",
            self.log()
        );
    }

    fn ping(&self) -> bool {
        use std::io::Write;
        let Ok(mut stream) = std::os::unix::net::UnixStream::connect(&self.socket) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        if stream
            .write_all(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
    }

    /// The podman global options that select this service's store, for podman commands on
    /// it (`podman --root ... ps`).
    pub fn store_options(&self) -> Vec<OsString> {
        store_options(self.dir.path())
    }

    /// What the service logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("service.log")).unwrap_or_default()
    }

    /// `unix:///.../docker.sock`, for `DOCKER_HOST`.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The `docker` client pointed at this service, with a configuration directory of its own
    /// (no user settings, contexts or credentials).
    pub fn docker(&self) -> Command {
        let mut command = Command::new(program("docker"));
        let config = self.dir.path().join("docker-config");
        std::fs::create_dir_all(&config).expect("docker config directory");
        command
            .env("DOCKER_HOST", self.docker_host())
            .env("DOCKER_CONFIG", config)
            .env("DOCKER_CLI_HINTS", "false")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env_remove("DOCKER_API_VERSION")
            .stdin(Stdio::null());
        command
    }

    /// `docker ARGS` within [`COMMAND_TIMEOUT`].
    pub fn docker_output(&self, args: &[&str]) -> Output {
        let mut command = self.docker();
        command.args(args);
        output_within(
            command,
            COMMAND_TIMEOUT,
            &format!("docker {}", args.join(" ")),
        )
    }
}

fn store_options(dir: &Path) -> Vec<OsString> {
    let mut options = Vec::new();
    for (flag, sub) in [
        ("--root", "storage"),
        ("--runroot", "run"),
        ("--tmpdir", "libpod"),
    ] {
        options.push(OsString::from(flag));
        options.push(dir.join(sub).into_os_string());
    }
    options
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
