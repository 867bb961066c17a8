//! Part 4, soak: cached `/v1/inspect` for minutes (`wrk -t2 -c50`) while the service's RSS is
//! sampled every second; zero errors and flat memory.

use std::sync::mpsc;
use std::time::Duration;

use super::Bench;
use super::cached::Cached;
use super::processes::status_kib;
use super::wrk::wrk;

/// What the checks at the end read of the soak.
pub struct Soak {
    pub errors: u64,
    /// The largest of the first three and of the last three RSS samples, in KiB.
    first_kib: u64,
    last_kib: u64,
}

impl Soak {
    /// Memory is flat if the end of the soak is within 20% (+2 MB) of its start.
    pub fn flat(&self) -> bool {
        let flat = self.last_kib as f64 <= self.first_kib as f64 * 1.2 + 2048.0;
        if !flat {
            eprintln!("bench: RSS grew during the soak");
        }
        flat
    }
}

pub fn run(bench: &mut Bench, service: &Cached) -> Result<Soak, String> {
    let pid = service.pid;
    // a sample every second until the soak ends (the sender is dropped) or the service exits
    let (stop, stopped) = mpsc::channel::<()>();
    let sampler = std::thread::spawn(move || {
        let mut samples = Vec::new();
        while let Some(kib) = status_kib(pid, "VmRSS") {
            samples.push(kib);
            let wait = stopped.recv_timeout(Duration::from_secs(1));
            if wait != Err(mpsc::RecvTimeoutError::Timeout) {
                break;
            }
        }
        samples
    });
    let soaked = wrk(&["-t2", "-c50"], bench.runs.soak_secs, &service.inspect_url);
    drop(stop);
    let samples = sampler
        .join()
        .map_err(|_| "the RSS sampler panicked".to_owned())?;
    let soaked = soaked?;
    let largest = |samples: &[u64]| samples.iter().copied().max().unwrap_or(0);
    let first_kib = largest(&samples[..samples.len().min(3)]);
    let last_kib = largest(&samples[samples.len().saturating_sub(3)..]);
    let max_kib = largest(&samples);

    let report = &mut bench.report;
    report.section(&format!(
        "Soak: cached /v1/inspect for {}s",
        bench.runs.soak_secs
    ));
    report.paragraph(&format!(
        "{} requests/s, p50 {} ms, p99 {} ms, errors {}; RSS {} MB at the start, {} MB at the \
         end, {} MB at most.",
        soaked.rps,
        soaked.p50,
        soaked.p99,
        soaked.errors,
        first_kib / 1024,
        last_kib / 1024,
        max_kib / 1024
    ));
    Ok(Soak {
        errors: soaked.errors,
        first_kib,
        last_kib,
    })
}
