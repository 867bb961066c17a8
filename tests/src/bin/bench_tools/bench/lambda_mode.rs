//! Part 6, Lambda under cargo-lambda's Runtime API emulator: init (spawn to the function's first
//! `GET .../runtime/invocation/next`, which a proxy in front of the emulator sees) and first
//! invocation (posting an HTTP API v2 event to its answer) of four functions started in
//! turns, `runs.lambda` times each; then peak RSS in Lambda mode for a cached answer and for
//! the largest indexes the client's limits let through, against template.yaml's MemorySize.

use crate::lambda::{LambdaConfig, Spread, lambda_cold, lambda_rss};

use super::report::{number, ratio};
use super::{Bench, Registry};

/// The Lambda statuses the checks at the end read: `(statuses, peak RSS in KiB)` per case.
pub struct LambdaMode {
    hello: (String, u64),
    cached: (String, u64),
    big: (String, u64),
    empty: (String, u64),
}

impl LambdaMode {
    /// hello-world and the largest index answer 200, the cached answer 200 twice, and the
    /// index of `{}` entries is refused (502).
    pub fn passed(&self) -> bool {
        let statuses = [&self.hello, &self.cached, &self.big, &self.empty].map(|(s, _)| s);
        let passed = statuses == ["200", "200,200", "200", "502"];
        if !passed {
            let [hello, cached, big, empty] = statuses;
            eprintln!("bench: unexpected Lambda statuses: {hello} / {cached} / {big} / {empty}");
        }
        passed
    }
}

pub fn run(bench: &mut Bench, registry: &Registry, direct: &str) -> Result<LambdaMode, String> {
    let hello = bench.binary("examples/hello").display().to_string();
    let lambda = bench.binary("mquery-lambda").display().to_string();
    let config = |path: &str, binary: &str, envs: &[(&str, String)]| LambdaConfig {
        path: path.to_owned(),
        binary: binary.to_owned(),
        envs: envs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    };
    let table_env = [
        ("MQUERY_TABLE", "mquery-cache".to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "bench".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "bench".to_owned()),
    ];
    let registry_env = [(
        "MQUERY_INSECURE_REGISTRIES",
        format!("127.0.0.1:{}", registry.port),
    )];
    let configs = [
        config("/", &hello, &[]),
        config("/healthz", &lambda, &[]),
        config("/healthz", &lambda, &table_env),
        config(
            &format!("/v1/inspect?image={direct}"),
            &lambda,
            &registry_env,
        ),
    ];
    let cold = bench
        .runtime
        .block_on(lambda_cold(bench.runs.lambda, &configs))
        .map_err(|e| format!("lambda-cold failed: {e}"))?;
    let [hello_cold, memory_cold, table_cold, inspect_cold] = &cold[..] else {
        return Err(format!(
            "lambda-cold measured {} functions, not 4",
            cold.len()
        ));
    };
    let init_ratio = ratio(number(&memory_cold.0.median), number(&hello_cold.0.median));
    let table_ratio = ratio(number(&table_cold.0.median), number(&hello_cold.0.median));
    let init_met = match number(init_ratio.trim_end_matches('x')) <= 1.2 {
        true => "yes",
        false => "no",
    };

    let big_port = bench.helper("big-index-registry", &[])?;
    let stats = bench.get_json(&format!("http://127.0.0.1:{big_port}/stats"))?;
    let stat = |kind: &str, field: &str| {
        stats[kind][field]
            .as_u64()
            .ok_or_else(|| format!("no {kind}.{field} in the big index registry's stats"))
    };
    let annotated_mib = format!("{:.2}", stat("annotated", "bytes")? as f64 / 1048576.0);
    let empty_entries = stat("empty", "entries")?;
    let insecure = format!("127.0.0.1:{},127.0.0.1:{big_port}", registry.port);
    let lambda_env = [("MQUERY_INSECURE_REGISTRIES".to_owned(), insecure)];
    let inspect = format!("/v1/inspect?image={direct}");
    let rss = |binary: &str, envs: &[(String, String)], paths: &[&str]| {
        bench.runtime.block_on(lambda_rss(binary, envs, paths))
    };
    let measured = LambdaMode {
        hello: rss(&hello, &[], &["/"])?,
        cached: rss(&lambda, &lambda_env, &[&inspect, &inspect])?,
        big: rss(
            &lambda,
            &lambda_env,
            &[&format!(
                "/v1/inspect?image=127.0.0.1:{big_port}/big/annotated:v1"
            )],
        )?,
        empty: rss(
            &lambda,
            &lambda_env,
            &[&format!(
                "/v1/inspect?image=127.0.0.1:{big_port}/big/empty:v1"
            )],
        )?,
    };
    let memory_size = memory_size(&bench.root.join("template.yaml"))?;

    let report = &mut bench.report;
    report.section(&format!(
        "Lambda under cargo-lambda's Runtime API emulator ({} cold starts each, in turns)",
        bench.runs.lambda
    ));
    report.columns(&[
        "function (event)",
        "init: spawn to first `next`, min / median / max",
        "first invocation, min / median / max",
    ]);
    let spread = |s: &Spread| format!("{} / {} / {} ms", s.min, s.median, s.max);
    for (function, (init, first)) in [
        ("hello-world lambda_http (`/`)", hello_cold),
        ("mquery-lambda, memory only (`/healthz`)", memory_cold),
        (
            "mquery-lambda, DynamoDB table configured (`/healthz`)",
            table_cold,
        ),
    ] {
        report.row(&[function, &spread(init), &spread(first)]);
    }
    report.row(&[
        "mquery-lambda, memory only (`/v1/inspect`, one registry GET)",
        "",
        &spread(&inspect_cold.1),
    ]);
    report.say("");
    report.paragraph(&format!(
        "Init, median vs hello-world: {init_ratio} memory only (goal <= 1.20x: {init_met}), \
         {table_ratio} with the table configured."
    ));
    report.columns(&[
        "peak RSS (VmHWM), Lambda mode",
        "status",
        "MB",
        &format!("of MemorySize ({memory_size} MB)"),
    ]);
    for (case, (status, kib)) in [
        (
            "hello-world lambda_http, one event".to_owned(),
            &measured.hello,
        ),
        (
            "mquery-lambda, a cached answer (the same event twice)".to_owned(),
            &measured.cached,
        ),
        (
            format!(
                "mquery-lambda, the largest index allowed (1024 annotated entries, \
                 {annotated_mib} MiB)"
            ),
            &measured.big,
        ),
        (
            format!("mquery-lambda, 4 MiB of `{{}}` entries ({empty_entries}, refused: over 1024)"),
            &measured.empty,
        ),
    ] {
        let kib = *kib as f64;
        report.row(&[
            &case,
            status,
            &format!("{:.1}", kib / 1024.0),
            &format!("{:.0}%", 100.0 * kib / 1024.0 / memory_size),
        ]);
    }
    report.say("");
    Ok(measured)
}

/// template.yaml's default `MemorySize` (MB): the first `Default:` from the `  MemorySize:`
/// line on.
fn memory_size(template: &std::path::Path) -> Result<f64, String> {
    let text =
        std::fs::read_to_string(template).map_err(|e| format!("{}: {e}", template.display()))?;
    text.lines()
        .skip_while(|line| !line.starts_with("  MemorySize:"))
        .find(|line| line.contains("Default:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| format!("no default MemorySize in {}", template.display()))
}
