//! Part 3, start-up, size, memory: `mquery-lambda` from spawn to its first answered `/healthz`, the
//! sizes of the (stripped, in the release profile) binaries, and the peak RSS of the service
//! part 2 loaded.

use super::Bench;
use super::processes::status_kib;

pub fn run(bench: &mut Bench, service_pid: u32) -> Result<(), String> {
    let lambda = bench.binary("mquery-lambda");
    let startup = bench.runtime.block_on(crate::lambda::startup(
        &lambda.display().to_string(),
        bench.runs.startup,
    ))?;
    let megabytes = |path: &std::path::Path| -> Result<String, String> {
        let bytes = std::fs::metadata(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        Ok(format!("{:.1} MB", bytes as f64 / 1e6))
    };
    let lambda_size = megabytes(&lambda)?;
    let mquery_size = megabytes(&bench.binary("mquery"))?;
    let bootstrap = bench.root.join("target/lambda/mquery-lambda/bootstrap");
    let bootstrap_size = match bootstrap.is_file() {
        true => Some(megabytes(&bootstrap)?),
        false => None,
    };
    let peak_kib = status_kib(service_pid, "VmHWM")
        .ok_or_else(|| format!("no VmHWM for the service (pid {service_pid})"))?;

    let report = &mut bench.report;
    report.section("Start-up, size, memory");
    report.columns(&["measure", "value"]);
    report.row(&[
        &format!(
            "start to first answered request (min / median / max of {})",
            bench.runs.startup
        ),
        &format!("{} / {} / {} ms", startup.min, startup.median, startup.max),
    ]);
    report.row(&["mquery-lambda stripped (x86_64)", &lambda_size]);
    report.row(&["mquery stripped (x86_64)", &mquery_size]);
    if let Some(size) = bootstrap_size {
        report.row(&["Lambda bootstrap (arm64, cargo lambda)", &size]);
    }
    report.row(&[
        "mquery-lambda peak RSS after the wrk runs",
        &format!("{} MB", peak_kib / 1024),
    ]);
    report.say("");
    Ok(())
}
