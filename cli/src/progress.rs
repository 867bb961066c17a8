//! The progress line of a large stack's lookups on a terminal (docs/cli.md, "Colour and
//! progress").

use std::io::Write as _;

/// The line on stderr that counts a large stack's lookups as they finish (docs/cli.md,
/// "Colour and progress"), rewritten in place and erased at the end; shown only on a
/// terminal, and only from [`Progress::FROM`] images.
pub struct Progress {
    total: usize,
    done: std::sync::atomic::AtomicUsize,
    shown: bool,
}

impl Progress {
    const FROM: usize = 10;

    pub fn new(terminal: bool, total: usize) -> Progress {
        Progress {
            total,
            done: std::sync::atomic::AtomicUsize::new(0),
            shown: terminal && total >= Progress::FROM,
        }
    }

    pub fn one_more(&self) {
        let done = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if self.shown {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(
                stderr,
                "\r\x1b[2Kmquery: looked up {done} of {} images",
                self.total
            );
            let _ = stderr.flush();
        }
    }

    pub fn clear(&self) {
        if self.shown {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[2K");
            let _ = stderr.flush();
        }
    }
}
