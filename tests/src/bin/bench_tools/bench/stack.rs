//! Part 1b, a stack: `mquery check` of a Compose file naming 50 distinct images.
//!
//! Against the real registry behind the latency proxy, and against the fake registry (whose
//! serving costs next to nothing) behind a second proxy of the same delay: on two shared cores
//! the real registry's own work for 50 manifests at once is part of the check's time, and
//! the fake's row shows what is mquery's. Each single image is looked up cold once per round;
//! the ratio is the check's median over the slowest image's median.

use std::process::{Command, Stdio};
use std::time::Duration;

use super::processes::{clock_ticks, cpu_ms, run_timed, write};
use super::report::{median, ms, ratio};
use super::{Bench, COMMAND_TIMEOUT, Registry};

const IMAGES: usize = 50;

/// One registry the stack is checked against.
struct Kind {
    label: &'static str,
    host: String,
    compose: std::path::PathBuf,
    /// The check's durations (us), one per round.
    checks: Vec<u64>,
    /// Per image, its single lookups' durations (us), one per round.
    singles: Vec<Vec<u64>>,
}

pub fn run(bench: &mut Bench, registry: &Registry, proxy_port: u16) -> Result<(), String> {
    let fake_port = bench.helper("fake-registry", &["0".into()])?;
    let fake_proxy_port = bench.latency_proxy(fake_port)?;
    for i in 1..=IMAGES {
        bench.push_fixtures(registry.port, &format!("acme/stack{i}"), "v1")?;
    }
    let insecure = format!("127.0.0.1:{proxy_port},127.0.0.1:{fake_proxy_port}");
    let mut kinds = Vec::new();
    for (name, label, port) in [
        ("real", "docker-registry (real)", proxy_port),
        ("fake", "fake (serving cost ~0)", fake_proxy_port),
    ] {
        let host = format!("127.0.0.1:{port}");
        let mut compose = String::from("name: stack\nservices:\n");
        for i in 1..=IMAGES {
            compose.push_str(&format!("  s{i}:\n    image: {host}/acme/stack{i}:v1\n"));
        }
        let path = bench.tmp().join(format!("compose-{name}.yaml"));
        write(&path, compose)?;
        kinds.push(Kind {
            label,
            host,
            compose: path,
            checks: Vec::new(),
            singles: vec![Vec::new(); IMAGES],
        });
    }
    let mquery = |args: &[&str]| -> Command {
        let mut command = bench.command(bench.binary("mquery"));
        command
            .env("MQUERY_INSECURE_REGISTRIES", &insecure)
            .args(args);
        command
    };
    let hz = clock_ticks()?;
    let check_out = bench.tmp().join("check-out");
    let mut check_requests = 0;
    let mut check_cpu = Vec::new();
    for _ in 0..bench.runs.cold {
        for (k, kind) in kinds.iter_mut().enumerate() {
            let real = k == 0;
            // as in section 1, each measurement starts once the last one's work has settled
            // (the real registry's garbage collection after 50 requests runs on the same two
            // cores)
            std::thread::sleep(Duration::from_millis(200));
            let before = registry.requests()?;
            let cpu_before = cpu_ms(registry.pid, hz)?;
            let out = std::fs::File::create(&check_out).map_err(|e| format!("check-out: {e}"))?;
            let compose = kind.compose.display().to_string();
            let check = run_timed(
                mquery(&["check", "--platform", "linux/arm64", &compose]).stdout(out),
                COMMAND_TIMEOUT,
                "mquery check",
            )
            .map_err(|e| {
                let printed = std::fs::read_to_string(&check_out).unwrap_or_default();
                format!("mquery check failed: {e}\n{printed}")
            })?;
            kind.checks.push(check.as_micros() as u64);
            if real {
                std::thread::sleep(Duration::from_millis(200));
                check_requests = registry.requests()?.saturating_sub(before);
                check_cpu.push(cpu_ms(registry.pid, hz)?.saturating_sub(cpu_before));
            }
            for (i, single) in kind.singles.iter_mut().enumerate() {
                std::thread::sleep(Duration::from_millis(50));
                let image = format!("{}/acme/stack{}:v1", kind.host, i + 1);
                let took = run_timed(
                    mquery(&[&image]).stdout(Stdio::null()),
                    COMMAND_TIMEOUT,
                    "mquery",
                )?;
                single.push(took.as_micros() as u64);
            }
        }
    }
    // skopeo, one image after the other: what a loop around a one-image tool costs
    let skopeo_loops = bench.runs.cold.min(3);
    let mut skopeo = Vec::new();
    for _ in 0..skopeo_loops {
        let started = std::time::Instant::now();
        for i in 1..=IMAGES {
            let mut command = bench.command("skopeo");
            command
                .args(["inspect", "--raw", "--tls-verify=false"])
                .arg(format!("docker://127.0.0.1:{proxy_port}/acme/stack{i}:v1"))
                .stdout(Stdio::null());
            run_timed(&mut command, COMMAND_TIMEOUT, "skopeo")?;
        }
        skopeo.push(started.elapsed().as_micros() as u64);
    }

    let report = &mut bench.report;
    report.section(&format!(
        "A stack: mquery check of a Compose file naming {IMAGES} distinct images (10 ms each \
         way, median of {} rounds)",
        bench.runs.cold
    ));
    report.columns(&[
        "registry",
        "mquery check",
        "single lookup, median",
        "single lookup, slowest image",
        "check / slowest single",
    ]);
    for kind in &kinds {
        let check_us = median(&kind.checks);
        let singles: Vec<u64> = kind.singles.iter().map(|s| median(s)).collect();
        let slowest = singles.iter().copied().max().unwrap_or(0);
        report.row(&[
            kind.label,
            &ms(check_us),
            &ms(median(&singles)),
            &ms(slowest),
            &ratio(check_us as f64, slowest as f64),
        ]);
    }
    report.say("");
    let real_check_us = median(&kinds[0].checks) as f64;
    let skopeo_us = median(&skopeo);
    report.paragraph(&format!(
        "The check sent {check_requests} requests to the real registry for {IMAGES} images, \
         which spent {} ms of CPU answering them (median; on the same two cores as mquery and \
         the proxy). A shell loop of `skopeo inspect --raw` over the same {IMAGES} images (real \
         registry, median of {skopeo_loops} loops): {}, {:.1}x the check.",
        median(&check_cpu),
        ms(skopeo_us),
        skopeo_us as f64 / real_check_us,
    ));
    Ok(())
}
