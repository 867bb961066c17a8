//! Part 5, burst: three waves of requests for images never asked for before (wrk with a Lua
//! script) to a service whose registry is the fake answering after 20 ms, which counts the
//! requests in flight; a 4 MB memory cache, so its bound is reached within the run and a
//! plateau shows.

use std::time::Duration;

use super::Bench;
use super::processes::{status_kib, write};
use super::wrk::{Wrk, wrk};

/// What the checks at the end read of the bursts.
pub struct Burst {
    pub errors: Vec<u64>,
    max_in_flight: u64,
    /// RSS after each burst, in KiB.
    rss_kib: Vec<u64>,
}

/// The most registry requests mquery may have in flight at once.
const CAP: u64 = 64;

impl Burst {
    pub fn within_cap(&self) -> bool {
        let within = self.max_in_flight <= CAP;
        if !within {
            eprintln!(
                "bench: {} registry requests at once, over the cap of {CAP}",
                self.max_in_flight
            );
        }
        within
    }

    /// Memory is flat if the third burst grew RSS by less than 20% (+2 MB) over the second
    /// (the memory cache is bounded).
    pub fn flat(&self) -> bool {
        let (second, third) = (self.rss_kib[1] as f64, self.rss_kib[2] as f64);
        let flat = third <= second * 1.2 + 2048.0;
        if !flat {
            eprintln!("bench: RSS grew between bursts");
        }
        flat
    }
}

pub fn run(bench: &mut Bench) -> Result<Burst, String> {
    let fake_port = bench.helper("fake-registry", &["20".into()])?;
    // a small memory cache, so its bound is reached within the run and a plateau shows
    let (pid, service_port) = bench.service(fake_port, &[("MQUERY_CACHE_MEMORY_MB", "4")])?;
    // every request names an image never asked for before (per thread, per burst)
    let script = bench.tmp().join("burst.lua");
    write(
        &script,
        format!(
            "counter = 0\nmath.randomseed(os.time())\nlocal threads = 0\n\
             setup = function(thread)\n  threads = threads + 1\n  \
             thread:set(\"tid\", tostring(threads) .. \"x\" .. tostring(math.random(1, 1000000000)))\n\
             end\nrequest = function()\n  counter = counter + 1\n  \
             return wrk.format(\"GET\", \"/v1/inspect?image=127.0.0.1:{fake_port}/burst/t\" .. tid .. \"-\" .. counter .. \":v1\")\n\
             end\n"
        ),
    )?;
    let script = script.display().to_string();
    let url = format!("http://127.0.0.1:{service_port}");
    let mut waves: Vec<Wrk> = Vec::new();
    let mut rss_kib = Vec::new();
    for _ in 0..3 {
        waves.push(wrk(
            &["-t2", "-c200", "-s", &script],
            bench.runs.burst_secs,
            &url,
        )?);
        // wrk abandons the requests in flight when it stops; the pause lets those end before
        // the next measurement, so the fake registry's in-flight peak counts only live requests
        std::thread::sleep(Duration::from_secs(1));
        rss_kib.push(status_kib(pid, "VmRSS").ok_or("the burst's service is gone")?);
    }
    let stats = bench.get_json(&format!("http://127.0.0.1:{fake_port}/stats"))?;
    let count = |field: &str| {
        stats[field]
            .as_u64()
            .ok_or_else(|| format!("no {field} in the fake registry's stats: {stats}"))
    };
    let max_in_flight = count("max_in_flight")?;
    let requests = count("requests")?;

    let report = &mut bench.report;
    report.section(&format!(
        "Burst: distinct uncached images (wrk -c200, 3 x {}s, registry latency 20 ms, 4 MB \
         memory cache)",
        bench.runs.burst_secs
    ));
    let errors: Vec<u64> = waves.iter().map(|w| w.errors).collect();
    report.paragraph(&format!(
        "{}, {} and {} lookups/s, p99 {} / {} / {} ms, errors {}; {requests} registry \
         requests, at most {max_in_flight} at once (cap {CAP}); RSS {}, {} and {} MB after \
         each burst.",
        waves[0].rps,
        waves[1].rps,
        waves[2].rps,
        waves[0].p99,
        waves[1].p99,
        waves[2].p99,
        errors.iter().sum::<u64>(),
        rss_kib[0] / 1024,
        rss_kib[1] / 1024,
        rss_kib[2] / 1024,
    ));
    Ok(Burst {
        errors,
        max_in_flight,
        rss_kib,
    })
}
