//! Part 2, cached HTTP: `mquery-lambda` answering from its memory cache after one warm-up request,
//! beside nginx (2 workers, access log off) serving the very same JSON bytes as a static file.
//! `wrk -t2 -c50` measures throughput at saturation (wrk's two threads share the two cores
//! with the server), `wrk -t1 -c8` latency at a moderate load, where p99 measures the server.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::processes::{wait_port, write};
use super::report::{number, ratio};
use super::wrk::{Wrk, wrk};
use super::{Bench, Registry};

/// The service the cached parts (2 to 4) measure, and the errors wrk saw in part 2.
pub struct Cached {
    pub pid: u32,
    /// The index on the registry, named directly (no proxy).
    pub direct: String,
    pub inspect_url: String,
    /// nginx, /v1/inspect and /v1/badge at saturation, then /v1/inspect and /v1/badge at a
    /// moderate load (nginx's errors there are reported, not checked).
    pub errors: Vec<u64>,
}

pub fn run(bench: &mut Bench, registry: &Registry) -> Result<Cached, String> {
    let (pid, service_port) = bench.service(registry.port, &[])?;
    let direct = format!("127.0.0.1:{}/acme/app:v1", registry.port);
    let service = format!("http://127.0.0.1:{service_port}");
    let inspect_url = format!("{service}/v1/inspect?image={direct}");
    let badge_url = format!("{service}/v1/badge?image={direct}");
    bench.get(&inspect_url)?; // warm the cache
    let tmp = bench.tmp().to_path_buf();
    let static_dir = tmp.join("static");
    std::fs::create_dir_all(&static_dir).map_err(|e| format!("{}: {e}", static_dir.display()))?;
    write(&static_dir.join("inspect.json"), bench.get(&inspect_url)?)?;
    // nginx workers drop root: let them read the file
    for (path, mode) in [
        (tmp.as_path(), 0o755),
        (&static_dir, 0o755),
        (&static_dir.join("inspect.json"), 0o644),
    ] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("chmod {}: {e}", path.display()))?;
    }
    let nginx_port = start_nginx(bench, &tmp, &static_dir)?;

    // throughput: saturate; latency: a moderate load (one wrk thread, 8 connections)
    let saturate = |url: &str| wrk(&["-t2", "-c50"], bench.runs.wrk_secs, url);
    let moderate = |url: &str| wrk(&["-t1", "-c8"], bench.runs.wrk_secs, url);
    let nginx_url = format!("http://127.0.0.1:{nginx_port}/inspect.json");
    let nginx = saturate(&nginx_url)?;
    let inspect = saturate(&inspect_url)?;
    let badge = saturate(&badge_url)?;
    let nginx_l = moderate(&nginx_url)?;
    let inspect_l = moderate(&inspect_url)?;
    let badge_l = moderate(&badge_url)?;

    let report = &mut bench.report;
    report.section(&format!("Cached HTTP, {}s per run", bench.runs.wrk_secs));
    report.columns(&[
        "target",
        "req/s (wrk -t2 -c50)",
        "vs nginx",
        "p50 / p99 there",
        "req/s (wrk -t1 -c8)",
        "p50 / p99 there",
        "errors",
    ]);
    for (target, saturated, latency) in [
        ("nginx static file (same bytes)", &nginx, &nginx_l),
        ("/v1/inspect", &inspect, &inspect_l),
        ("/v1/badge", &badge, &badge_l),
    ] {
        let versus = ratio(number(&saturated.rps), number(&nginx.rps));
        report.row(&[
            target,
            &saturated.rps,
            &versus,
            &percentiles(saturated),
            &latency.rps,
            &percentiles(latency),
            &(saturated.errors + latency.errors).to_string(),
        ]);
    }
    report.say("");
    Ok(Cached {
        pid,
        direct,
        inspect_url,
        errors: vec![
            nginx.errors,
            inspect.errors,
            badge.errors,
            inspect_l.errors,
            badge_l.errors,
        ],
    })
}

/// `p50 / p99 ms`
fn percentiles(run: &Wrk) -> String {
    format!("{} / {} ms", run.p50, run.p99)
}

/// nginx serving `static_dir` on a free port: its port.
fn start_nginx(bench: &mut Bench, tmp: &Path, static_dir: &Path) -> Result<u16, String> {
    let port = mquery_tests::free_port();
    let config = tmp.join("nginx.conf");
    let (tmp, static_dir) = (tmp.display(), static_dir.display());
    write(
        &config,
        format!(
            "worker_processes 2;\ndaemon off;\npid {tmp}/nginx.pid;\n\
             error_log {tmp}/nginx-error.log;\nevents {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  server {{\n    listen 127.0.0.1:{port};\n    \
             location / {{ root {static_dir}; default_type application/json; }}\n  }}\n}}\n"
        ),
    )?;
    let mut command = bench.command("/usr/sbin/nginx");
    command
        .arg("-c")
        .arg(&config)
        .arg("-p")
        .arg(tmp.to_string());
    bench.background.spawn(&mut command, "nginx")?;
    wait_port(port)?;
    Ok(port)
}
