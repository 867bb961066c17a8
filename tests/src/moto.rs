//! moto's server mode (PyPI `moto[server]`, in `.cache/venv`): a local emulator of AWS APIs,
//! used here for Secrets Manager. Started on a free loopback port, killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{expect_listening, free_port};

#[derive(Debug)]
pub struct Moto {
    child: Child,
    port: u16,
}

fn binary() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/venv/bin/moto_server");
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup-test-env.sh (it installs moto[server])",
        path.display()
    );
    path
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let child = Command::new(binary())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let mut moto = Moto { child, port };
        let within = Duration::from_secs(30);
        expect_listening(&mut moto.child, port, within, "moto_server");
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
