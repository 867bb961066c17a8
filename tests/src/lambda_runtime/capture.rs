//! Lines a child process writes, collected by a thread per stream.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// Lines a child process wrote on one stream, collected by a thread.
#[derive(Debug, Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<String>>>);

impl Captured {
    fn collect(stream: impl Read + Send + 'static) -> Captured {
        let captured = Captured::default();
        let lines = Arc::clone(&captured.0);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                match line {
                    Ok(line) => lines.lock().expect("captured lines lock").push(line),
                    Err(_) => break,
                }
            }
        });
        captured
    }

    pub fn lines(&self) -> Vec<String> {
        self.0.lock().expect("captured lines lock").clone()
    }
}

/// Spawns `command` (`what`, for the panic) with no stdin and its stdout and stderr captured:
/// the child, its stdout, its stderr.
pub(super) fn spawn_captured(command: &mut Command, what: &str) -> (Child, Captured, Captured) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let stdout = Captured::collect(child.stdout.take().expect("piped stdout"));
    let stderr = Captured::collect(child.stderr.take().expect("piped stderr"));
    (child, stdout, stderr)
}
