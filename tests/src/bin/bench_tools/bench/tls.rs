//! Part 1c, TLS and tokens: `docker-registry` serving HTTPS (HTTP/2 by ALPN) with `auth:
//! token`, its realm a second HTTPS server (the harness's token server), each behind its own
//! proxy adding 25 ms each way (a round trip, RTT, is 50 ms), and again with no delay: the
//! round trips are the difference over 50 ms, so the machine's own work is not counted as
//! network. Every run is a new process and counts what it cost: registry connections and
//! token-server connections (from the proxies) and token requests (from the token server). docs/registries.md says what each case should
//! cost; this measures it:
//!
//! - cold lookups of one image on a registry the tool has not met: mquery, `skopeo inspect
//!   --raw`, `docker manifest inspect`;
//! - the service, a new instance on a table where an earlier instance recorded the registry's
//!   challenge (the challenge book): its first lookup, and its next repository;
//! - the service, a new instance without a table (nothing known);
//! - `mquery check` of a Compose file naming many images on that registry, beside a single
//!   cold lookup and a loop of skopeo.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mquery_tests::distribution::Distribution;
use mquery_tests::dynamodb::DynamoLocal;
use mquery_tests::fixtures::{Format, Pusher, platform};
use mquery_tests::proxy::Proxy;
use mquery_tests::token::TokenServer;

use super::processes::{on_path, run_timed, wait_port, write};
use super::report::{median, ms};
use super::{Bench, COMMAND_TIMEOUT};

/// Each way, through each proxy.
const DELAY: Duration = Duration::from_millis(25);
const RTT_MS: f64 = 50.0;

/// The servers and the settings every tool gets.
struct Net {
    /// Kept running until the part ends.
    _registry: Distribution,
    token: TokenServer,
    registry_proxy: Proxy,
    token_proxy: Proxy,
    /// Both test CAs, one PEM file.
    cas: std::path::PathBuf,
    /// `127.0.0.1:PORT`, the registry as tools reach it.
    host: String,
    _dynamodb: DynamoLocal,
    dynamodb_env: Vec<(&'static str, String)>,
}

/// What a case cost: its times with the proxies' delay and without, and what the runs with
/// the delay counted.
#[derive(Default)]
struct Cost {
    us: Vec<u64>,
    /// The same case with no added delay: the machine's own work (servers, TLS, processes).
    zero_us: Vec<u64>,
    registry_connections: Vec<u64>,
    token_connections: Vec<u64>,
    tokens: Vec<u64>,
}

impl Cost {
    /// The round trips: what the delay added to the median time, over one round trip.
    fn round_trips(&self) -> f64 {
        (median(&self.us) as f64 - median(&self.zero_us) as f64) / 1000.0 / RTT_MS
    }

    fn row(&self, label: &str) -> Vec<String> {
        vec![
            label.to_owned(),
            ms(median(&self.us)),
            ms(median(&self.zero_us)),
            format!("{:.1}", self.round_trips()),
            median(&self.registry_connections).to_string(),
            median(&self.token_connections).to_string(),
            median(&self.tokens).to_string(),
        ]
    }
}

/// Every case runs with the delay, then without.
const DELAYS: [Duration; 2] = [DELAY, Duration::ZERO];

impl Net {
    fn start(bench: &Bench, repos: usize) -> Result<Net, String> {
        let dynamodb = DynamoLocal::start();
        let dynamodb_env = dynamodb.env();
        bench.runtime.block_on(async {
            let token = TokenServer::start_tls().await;
            let token_proxy = Proxy::start(token.port(), DELAY).await;
            // a name of its own, as a token service has
            let token = token.via(format!("localhost:{}", token_proxy.port()));
            let registry = Distribution::start_tls_with_token(&token);
            let registry_proxy = Proxy::start(registry.port(), DELAY).await;
            let pusher = Pusher::for_tls_with_token(&registry, &token);
            for i in 0..repos {
                let platforms = vec![
                    platform("linux", "amd64", None),
                    platform("linux", "arm64", Some("v8")),
                ];
                pusher
                    .index_of(&format!("acme/t{i:02}"), Some("v1"), Format::Oci, platforms)
                    .await;
            }
            let path = bench.tmp().join("tls-cas.pem");
            mquery_tests::tls::ca_bundle(&path, &[registry.ca_file(), token.ca_file()])?;
            Ok(Net {
                host: registry_proxy.host(),
                _registry: registry,
                token,
                registry_proxy,
                token_proxy,
                cas: path,
                _dynamodb: dynamodb,
                dynamodb_env,
            })
        })
    }

    fn image(&self, i: usize) -> String {
        format!("{}/acme/t{i:02}:v1", self.host)
    }

    /// The settings of mquery and the service: both hosts may be reached, both CAs trusted.
    fn mquery_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "MQUERY_PRIVATE_REGISTRIES",
                format!("{},localhost:{}", self.host, self.token_proxy.port()),
            ),
            ("MQUERY_CA_FILE", self.cas.display().to_string()),
        ]
    }

    /// Both proxies' delay for the connections from now on.
    fn set_delay(&self, delay: Duration) {
        self.registry_proxy.set_delay(delay);
        self.token_proxy.set_delay(delay);
    }

    /// Runs `work` at `delay`, adding what it cost to `cost`.
    fn measure(
        &self,
        cost: &mut Cost,
        delay: Duration,
        work: impl FnOnce() -> Result<Duration, String>,
    ) -> Result<(), String> {
        self.set_delay(delay);
        // the last run's connections close, the registry's collector settles
        std::thread::sleep(Duration::from_millis(150));
        let (registry, token, tokens) = (
            self.registry_proxy.connections(),
            self.token_proxy.connections(),
            self.token.requests(),
        );
        let took = work()?.as_micros() as u64;
        if delay.is_zero() {
            cost.zero_us.push(took);
            return Ok(());
        }
        cost.us.push(took);
        cost.registry_connections
            .push((self.registry_proxy.connections() - registry) as u64);
        cost.token_connections
            .push((self.token_proxy.connections() - token) as u64);
        cost.tokens.push((self.token.requests() - tokens) as u64);
        Ok(())
    }
}

pub fn run(bench: &mut Bench) -> Result<(), String> {
    // the smoke run (CI) keeps the part working in one round, on a smaller stack
    let smoke = bench.runs.cold < 5;
    let runs = if smoke { 1 } else { bench.runs.cold };
    let stack_images = if smoke { 10 } else { 50 };
    // repositories, so that no run is helped by another's: the tools' single lookups first
    // (no cache outlives a command), then two
    // per service instance on the table (the table keeps answers: a repository looked up once
    // would be a cache hit for the next instance, and no lookup at all), then the one whose
    // lookup records the challenge
    let table_image = |run: usize, delay: usize, which: usize| runs + (run * 2 + delay) * 2 + which;
    let recording = table_image(runs, 0, 0);
    let net = Net::start(bench, stack_images.max(recording + 1))?;
    let env = net.mquery_env();
    let mquery = |args: &[&str]| -> Command {
        let mut command = bench.command(bench.binary("mquery"));
        command
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .args(args);
        command
    };
    let go_tool = |program: &str, args: &[&str]| -> Command {
        // Go's crypto/x509 reads SSL_CERT_FILE on Linux: both CAs, nothing else
        let mut command = bench.command(program);
        command.env("SSL_CERT_FILE", &net.cas).args(args);
        command
    };

    let mut tools: Vec<(&str, Cost)> =
        vec![("mquery", Cost::default()), ("skopeo", Cost::default())];
    if on_path("docker") {
        tools.push(("docker manifest inspect", Cost::default()));
    }
    for run in 0..runs {
        let image = net.image(run);
        for delay in DELAYS {
            for (tool, cost) in &mut tools {
                let mut command = match *tool {
                    "mquery" => mquery(&["--json", &image]),
                    "skopeo" => go_tool(
                        "skopeo",
                        &["inspect", "--raw", &format!("docker://{image}")],
                    ),
                    _ => go_tool("docker", &["manifest", "inspect", &image]),
                };
                command.stdout(Stdio::null());
                net.measure(cost, delay, || {
                    run_timed(&mut command, COMMAND_TIMEOUT, tool)
                })?;
            }
        }
    }

    // the service: one instance records the challenge in the table, then each new instance
    // (a new process, memory empty) looks up a repository it has not seen, then the next one
    let mut table_env = env.clone();
    table_env.extend(net.dynamodb_env.iter().cloned());
    let service = |envs: &[(&'static str, String)]| -> Result<(std::process::Child, u16), String> {
        let port = mquery_tests::free_port();
        let child = bench
            .command(bench.binary("mquery-lambda"))
            .env("MQUERY_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "error")
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("mquery-lambda: {e}"))?;
        wait_port(port)?;
        Ok((child, port))
    };
    let inspect = |port: u16, image: &str| -> Result<Duration, String> {
        let url = format!(
            "http://127.0.0.1:{port}/v1/inspect?image={}",
            mquery_tests::encode_query(image)
        );
        let started = Instant::now();
        bench.get(&url)?;
        Ok(started.elapsed())
    };
    let (mut first, port) = service(&table_env)?;
    inspect(port, &net.image(recording))?;
    // the book is written in the background: give it a moment before the process ends
    std::thread::sleep(Duration::from_millis(300));
    let _ = first.kill();
    let _ = first.wait();
    let (mut known, mut next, mut unknown) = (Cost::default(), Cost::default(), Cost::default());
    for run in 0..runs {
        for (d, delay) in DELAYS.into_iter().enumerate() {
            // each new instance's connections are made at this delay
            net.set_delay(delay);
            let (mut instance, port) = service(&table_env)?;
            let (looked_up, next_one) = (table_image(run, d, 0), table_image(run, d, 1));
            let outcome = net
                .measure(&mut known, delay, || inspect(port, &net.image(looked_up)))
                .and_then(|()| {
                    net.measure(&mut next, delay, || inspect(port, &net.image(next_one)))
                });
            let _ = instance.kill();
            let _ = instance.wait();
            outcome?;
            let (mut instance, port) = service(&env)?;
            // no table: nothing is kept between instances
            let outcome = net.measure(&mut unknown, delay, || inspect(port, &net.image(run)));
            let _ = instance.kill();
            let _ = instance.wait();
            outcome?;
        }
    }

    // a stack on that registry: mquery check, and a loop of skopeo
    let mut compose = String::from("name: stack\nservices:\n");
    for i in 0..stack_images {
        compose.push_str(&format!("  s{i}:\n    image: {}\n", net.image(i)));
    }
    let compose_path = bench.tmp().join("compose-tls.yaml");
    write(&compose_path, compose)?;
    let compose_arg = compose_path.display().to_string();
    let mut stack = Cost::default();
    for _ in 0..runs {
        for delay in DELAYS {
            let mut command = mquery(&["check", "--platform", "linux/arm64", &compose_arg]);
            command.stdout(Stdio::null());
            net.measure(&mut stack, delay, || {
                run_timed(&mut command, COMMAND_TIMEOUT, "mquery check")
            })?;
        }
    }
    let mut skopeo_loop = Cost::default();
    for delay in DELAYS {
        net.measure(&mut skopeo_loop, delay, || {
            let started = Instant::now();
            for i in 0..stack_images {
                let image = format!("docker://{}", net.image(i));
                let mut command = go_tool("skopeo", &["inspect", "--raw", &image]);
                run_timed(command.stdout(Stdio::null()), COMMAND_TIMEOUT, "skopeo")?;
            }
            Ok(started.elapsed())
        })?;
    }

    let report = &mut bench.report;
    report.section(&format!(
        "TLS and tokens: HTTPS registry (HTTP/2 offered) with an HTTPS token realm, each behind \
         its own proxy adding 25 ms each way (RTT 50 ms); a new process per run, median of {runs}"
    ));
    report.columns(&[
        "case",
        "median",
        "median, no delay",
        "round trips",
        "registry connections",
        "token-server connections",
        "token requests",
    ]);
    for (tool, cost) in &tools {
        let row = cost.row(&format!("{tool}: a cold lookup, registry not met before"));
        report.row(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    for (label, cost) in [
        (
            "service, new instance, challenge in the table: first lookup",
            &known,
        ),
        ("service, the same instance: next repository", &next),
        ("service, new instance, no table: first lookup", &unknown),
        (
            &*format!("mquery check, {stack_images} images") as &str,
            &stack,
        ),
        (
            &*format!("skopeo loop, {stack_images} images") as &str,
            &skopeo_loop,
        ),
    ] {
        let row = cost.row(label);
        report.row(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    report.say("");
    let single = &tools[0].1;
    report.paragraph(&format!(
        "Round trips: what the 25 ms each way added to the case's median time (the median with \
         the delay less the median without), over the 50 ms of a round trip; the time without \
         delay is this machine's own work (the servers, TLS, process start) on two shared \
         cores. mquery check of {stack_images} images took {:.2}x a single cold mquery lookup \
         of one of them ({:.1} round trips against {:.1}).",
        median(&stack.us) as f64 / median(&single.us) as f64,
        stack.round_trips(),
        single.round_trips(),
    ));
    Ok(())
}
