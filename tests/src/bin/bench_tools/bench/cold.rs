//! Part 1, cold CLI lookups of the five-platform index through the latency proxy: mquery, `skopeo
//! inspect --raw` and `docker manifest inspect` (when the docker client is installed), each a
//! new process with no cache, in turns whose order alternates; the median of the runs and of
//! the registry requests each made.

use std::process::{Command, Stdio};
use std::time::Duration;

use super::processes::{on_path, run_timed};
use super::report::{median, ms, ratio};
use super::{Bench, COMMAND_TIMEOUT, Registry};

pub fn run(bench: &mut Bench, registry: &Registry, proxy_port: u16) -> Result<(), String> {
    let image = format!("127.0.0.1:{proxy_port}/acme/app:v1");
    let docker_config = bench.tmp().join("docker");
    std::fs::create_dir_all(&docker_config).map_err(|e| format!("DOCKER_CONFIG: {e}"))?;
    let mut tools = vec!["mquery", "skopeo", "docker"];
    if !on_path("docker") {
        tools.pop();
        println!("bench: docker client not installed: not compared");
    }
    let command = |tool: &str| -> Command {
        match tool {
            "mquery" => {
                let mut command = bench.command(bench.binary("mquery"));
                command
                    .env(
                        "MQUERY_INSECURE_REGISTRIES",
                        format!("127.0.0.1:{proxy_port}"),
                    )
                    .arg(&image);
                command
            }
            "skopeo" => {
                let mut command = bench.command("skopeo");
                command
                    .args(["inspect", "--raw", "--tls-verify=false"])
                    .arg(format!("docker://{image}"));
                command
            }
            _ => {
                let mut command = bench.command("docker");
                command.args(["manifest", "inspect", "--insecure", &image]);
                command
            }
        }
    };
    let mut times = vec![Vec::new(); tools.len()];
    let mut requests = vec![Vec::new(); tools.len()];
    for i in 1..=bench.runs.cold {
        // alternate the order so no tool always runs first
        let mut order: Vec<usize> = (0..tools.len()).collect();
        if i % 2 == 0 {
            order.reverse();
        }
        for t in order {
            let before = registry.requests()?;
            let took = run_timed(
                command(tools[t]).stdout(Stdio::null()),
                COMMAND_TIMEOUT,
                tools[t],
            )?;
            std::thread::sleep(Duration::from_millis(200));
            times[t].push(took.as_micros() as u64);
            requests[t].push(registry.requests()?.saturating_sub(before));
        }
    }

    let report = &mut bench.report;
    report.section(&format!(
        "Cold lookups (5-platform index, 10 ms each way, median of {} alternating runs)",
        bench.runs.cold
    ));
    report.columns(&["tool", "median", "vs mquery", "registry requests"]);
    let mquery_us = median(&times[0]);
    for (t, tool) in tools.iter().enumerate() {
        let us = median(&times[t]);
        report.row(&[
            tool,
            &ms(us),
            &ratio(us as f64, mquery_us as f64),
            &median(&requests[t]).to_string(),
        ]);
    }
    report.say("");
    Ok(())
}
