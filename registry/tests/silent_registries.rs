//! Registries that accept connections and never answer, against the real CNCF registry: they
//! hold at most their own shares, their breakers open and fail their lookups at once, and
//! lookups of the real registry keep their usual time throughout (SECURITY.md, "Limits").
//!
//! The silent registries are in-process listeners on 127.0.0.1 (a real registry cannot be
//! made to hang); the healthy one is Debian's docker-registry from the harness.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mquery_tests::distribution::Distribution;
use mquery_tests::fixtures::{Pusher, five_platform_index};
use mquery_tests::{assert_error, bind_loopback, client_config, client_for};
use registry::client::breaker::{probation_share, unproven_pool};
use registry::{Client, ClientConfig, Error, Reference};

/// The deadlines and cool-downs of these tests: short, so each ends in seconds.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(1500);
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(4);
const COOL_DOWN: Duration = Duration::from_secs(3);
/// What a healthy lookup may take while silent registries are flooded: less than a silent
/// request's deadline, so a healthy lookup that waited for a silent one's slot fails it.
const HEALTHY_BOUND: Duration = Duration::from_secs(1);
/// What a lookup of a host whose breaker is open may take: well under the deadline.
const FAIL_FAST: Duration = Duration::from_millis(200);

/// Connections open at the silent listeners right now, across all of them.
#[derive(Debug, Default)]
struct Held(AtomicUsize);

/// A listener that accepts connections, reads what is sent and never answers, until told to
/// answer every request with a 404 (a registry coming back).
#[derive(Debug)]
struct Silent {
    host: String,
    accepted: Arc<AtomicUsize>,
    answer: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Silent {
    async fn start(held: &Arc<Held>) -> Silent {
        let (listener, addr) = bind_loopback().await;
        let accepted = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(AtomicBool::new(false));
        let (count, answering, held) =
            (Arc::clone(&accepted), Arc::clone(&answer), Arc::clone(held));
        let task = tokio::spawn(async move {
            // the connections' tasks end with the listener's (aborted on drop)
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let answer = answering.load(Ordering::SeqCst);
                connections.spawn(connection(stream, answer, Arc::clone(&held)));
            }
        });
        Silent {
            host: addr.to_string(),
            accepted,
            answer,
            task,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn reference(&self, rest: &str) -> Reference {
        Reference::parse(&format!("{}/{rest}", self.host)).expect("valid reference")
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Holds a connection until the client closes it; with `answer`, answers its request with a
/// 404 first.
async fn connection(stream: tokio::net::TcpStream, answer: bool, held: Arc<Held>) {
    held.0.fetch_add(1, Ordering::SeqCst);
    let mut request = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        if stream.readable().await.is_err() {
            break;
        }
        match stream.try_read(&mut buf) {
            Ok(0) => break,
            Ok(n) => request.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => break,
        }
        if answer && request.windows(4).any(|w| w == b"\r\n\r\n") {
            let response =
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
            if stream.writable().await.is_ok() {
                let _ = stream.try_write(response);
            }
            break;
        }
    }
    held.0.fetch_sub(1, Ordering::SeqCst);
}

/// The real registry holding the five-platform index `acme/app:v1`.
async fn healthy_registry() -> Distribution {
    let registry = Distribution::start_open();
    five_platform_index(&Pusher::open(&registry), "acme/app", "v1").await;
    registry
}

fn settings(config: &mut ClientConfig) {
    config.request_timeout = REQUEST_TIMEOUT;
    config.lookup_timeout = LOOKUP_TIMEOUT;
    config.breaker_cool_down = COOL_DOWN;
    config.breaker_max_cool_down = Duration::from_secs(10);
}

/// A client that may reach the registry and the silent listeners, with [`settings`].
fn client(registry: &Distribution, silent: &[Silent]) -> (Client, ClientConfig) {
    let mut hosts: Vec<&str> = silent.iter().map(|s| s.host.as_str()).collect();
    let registry_host = registry.host();
    hosts.push(&registry_host);
    let mut config = client_config(&hosts);
    settings(&mut config);
    (Client::new(config.clone()).expect("client builds"), config)
}

/// The time of the slowest of `n` lookups of the registry by a client of its own: the
/// registry's usual time here.
async fn usual_time(registry: &Distribution, n: usize) -> Duration {
    let client = client_for(&[&registry.host()]);
    let reference = Reference::parse(&registry.image("acme/app:v1")).expect("valid reference");
    let mut slowest = Duration::ZERO;
    for _ in 0..n {
        let started = Instant::now();
        client
            .summarize(&reference)
            .await
            .expect("the registry answers");
        slowest = slowest.max(started.elapsed());
    }
    slowest
}

type Flooded = Vec<(Result<registry::Summary, Error>, Duration)>;

/// `per_host` lookups of each silent registry at once: each one's outcome and duration, once
/// all have ended (then `over` is set).
fn flood(
    client: &Client,
    silent: &[Silent],
    per_host: usize,
    over: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Flooded> {
    let mut lookups = Vec::new();
    for host in silent {
        for i in 0..per_host {
            let client = client.clone();
            let reference = host.reference(&format!("flood/app{i}"));
            lookups.push(tokio::spawn(async move {
                let started = Instant::now();
                (client.summarize(&reference).await, started.elapsed())
            }));
        }
    }
    let over = Arc::clone(over);
    tokio::spawn(async move {
        let mut outcomes = Vec::new();
        for lookup in lookups {
            outcomes.push(lookup.await.expect("a flood lookup panicked"));
        }
        over.store(true, Ordering::SeqCst);
        outcomes
    })
}

/// Lookups of the real registry by `workers` loops at once, until `over` is set (or a lookup
/// deadline has passed): each one's time.
async fn healthy_lookups(
    client: &Client,
    registry: &Distribution,
    workers: usize,
    over: &Arc<AtomicBool>,
) -> Vec<Duration> {
    let until = Instant::now() + LOOKUP_TIMEOUT;
    let reference = Reference::parse(&registry.image("acme/app:v1")).expect("valid reference");
    let loops: Vec<_> = (0..workers)
        .map(|_| {
            let (client, reference, over) = (client.clone(), reference.clone(), Arc::clone(over));
            tokio::spawn(async move {
                let mut times = Vec::new();
                while !over.load(Ordering::SeqCst) && Instant::now() < until {
                    let started = Instant::now();
                    let summary = client.summarize(&reference).await;
                    let took = started.elapsed();
                    let summary = summary.unwrap_or_else(|e| panic!("after {took:?}: {e}"));
                    assert!(summary.is_list);
                    times.push(took);
                }
                times
            })
        })
        .collect();
    let mut times = Vec::new();
    for one in loops {
        times.extend(one.await.expect("a healthy loop panicked"));
    }
    times.sort();
    times
}

/// `n` silent registries, counting their connections in one [`Held`].
async fn silent_registries(n: usize) -> (Arc<Held>, Vec<Silent>) {
    let held = Arc::new(Held::default());
    let mut silent = Vec::new();
    for _ in 0..n {
        silent.push(Silent::start(&held).await);
    }
    (held, silent)
}

/// What a [`flood`] of the silent registries did while 4 loops looked up the real registry.
struct Flood {
    /// Connections the silent registries held mid-way through the first request deadline.
    held_midway: usize,
    /// The healthy lookups' times, sorted.
    healthy: Vec<Duration>,
    outcomes: Flooded,
}

/// Floods each silent registry with `per_host` lookups at once, and looks up the real
/// registry in 4 loops until the flood is over.
async fn flood_beside_healthy(
    (client, registry): (&Client, &Distribution),
    silent: &[Silent],
    held: &Held,
    per_host: usize,
) -> Flood {
    let over = Arc::new(AtomicBool::new(false));
    let flooding = flood(client, silent, per_host, &over);
    // mid-way through the first request deadline: each silent registry holds its share
    tokio::time::sleep(REQUEST_TIMEOUT / 2).await;
    let held_midway = held.0.load(Ordering::SeqCst);
    let healthy = healthy_lookups(client, registry, 4, &over).await;
    let outcomes = flooding.await.expect("the flood");
    Flood {
        held_midway,
        healthy,
        outcomes,
    }
}

/// At least `at_least` healthy lookups, each faster than [`HEALTHY_BOUND`].
fn assert_kept_their_time(healthy: &[Duration], at_least: usize, note: &str) {
    assert!(
        healthy.len() >= at_least,
        "only {} healthy lookups",
        healthy.len()
    );
    let slowest = healthy.last().copied().unwrap_or_default();
    assert!(
        slowest < HEALTHY_BOUND,
        "a healthy lookup took {slowest:?}{note}"
    );
}

/// Runs a test's body, failing it if it has not ended after a minute.
async fn within_a_minute(body: impl Future<Output = ()>) {
    tokio::time::timeout(Duration::from_secs(60), body)
        .await
        .expect("the test ends by itself");
}

fn report(what: &str, times: &[Duration]) {
    let at = |q: usize| times.get((times.len() * q / 100).min(times.len().saturating_sub(1)));
    eprintln!(
        "{what}: {} lookups, median {:?}, p99 {:?}, max {:?}",
        times.len(),
        at(50),
        at(99),
        times.last()
    );
}

/// Ten silent registries flooded with 20 lookups each, while the real registry (not looked
/// up before by this client) is looked up in a loop: its lookups keep their usual time, each
/// silent registry sees only its probation share at a time and as many lookups as it takes
/// to open its breaker, and the breakers then fail lookups at once, probe one at a time
/// after the cool-down and close when the registry answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_silent_registries_cannot_starve_a_healthy_one() {
    within_a_minute(ten_silent_registries()).await;
}

async fn ten_silent_registries() {
    let registry = healthy_registry().await;
    let usual = usual_time(&registry, 5).await;
    let (held, silent) = silent_registries(10).await;
    let (client, config) = client(&registry, &silent);
    let share = probation_share(&config);
    let threshold = config.breaker_threshold as usize;
    assert_eq!(
        (share, threshold, unproven_pool(&config)),
        (2, 3, 32),
        "the service's shares"
    );

    let Flood {
        held_midway: held_then,
        healthy,
        outcomes,
    } = flood_beside_healthy((&client, &registry), &silent, &held, 20).await;

    let mut timed_out = 0;
    let mut refused = Vec::new();
    let mut flood_took = Duration::ZERO;
    for (result, took) in outcomes {
        flood_took = flood_took.max(took);
        let err = result.expect_err("a silent registry never answers");
        match err.code().as_str() {
            "UPSTREAM_TIMEOUT" => timed_out += 1,
            _ => {
                assert_error(&err, "UPSTREAM_ERROR", "not answering (");
                refused.push(took);
            }
        }
    }
    let accepted: Vec<usize> = silent.iter().map(Silent::accepted).collect();
    refused.sort();
    eprintln!(
        "usual time of a lookup of the real registry: {usual:?}; silent registries held \
         {held_then} connections mid-way through the first deadline; the slowest of the flood's \
         200 lookups took {flood_took:?}: {timed_out} timed out, {} refused by open breakers (slowest {:?}); \
         connections each silent registry saw: {accepted:?}",
        refused.len(),
        refused.last()
    );
    report("healthy lookups during the flood", &healthy);

    assert!(
        held_then <= silent.len() * share && held_then >= silent.len(),
        "ten silent registries held {held_then} connections"
    );
    for (i, n) in accepted.iter().enumerate() {
        // lookups run `share` at a time until `threshold` of them timed out
        assert!(
            *n >= share && *n <= threshold.div_ceil(share) * share,
            "silent registry {i} saw {n} connections"
        );
    }
    assert_eq!(
        timed_out,
        accepted.iter().sum::<usize>(),
        "only lookups that ran timed out"
    );
    assert!(
        refused.len() >= 150,
        "most of the flood was refused at once: {}",
        refused.len()
    );
    assert!(
        flood_took < LOOKUP_TIMEOUT + Duration::from_millis(500),
        "{flood_took:?}"
    );
    assert_kept_their_time(&healthy, 20, &format!(" (usually {usual:?})"));

    // every breaker is open: lookups fail at once and reach no one
    for host in &silent {
        let started = Instant::now();
        let err = client
            .summarize(&host.reference("after/app"))
            .await
            .expect_err("open");
        let took = started.elapsed();
        assert_error(
            &err,
            "UPSTREAM_ERROR",
            "lookups in a row timed out); tried again in ",
        );
        assert!(took < FAIL_FAST, "failing fast took {took:?}");
    }
    let now: Vec<usize> = silent.iter().map(Silent::accepted).collect();
    assert_eq!(now, accepted, "an open breaker sends nothing");

    // after the cool-down: one registry answers again, another is still silent
    tokio::time::sleep(COOL_DOWN).await;
    silent[0].answer.store(true, Ordering::SeqCst);
    let err = client
        .summarize(&silent[0].reference("back/app"))
        .await
        .expect_err("404");
    assert_eq!(err.code(), "NOT_FOUND", "{err}");
    let err = client
        .summarize(&silent[0].reference("back/app2"))
        .await
        .expect_err("404");
    assert_eq!(
        err.code(),
        "NOT_FOUND",
        "the probe's answer closed it: {err}"
    );
    assert_eq!(silent[0].accepted(), accepted[0] + 2);

    let probe = {
        let (client, reference) = (client.clone(), silent[1].reference("probe/app"));
        tokio::spawn(async move { client.summarize(&reference).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let err = client
        .summarize(&silent[1].reference("beside/app"))
        .await
        .expect_err("refused while the probe runs");
    assert_error(&err, "UPSTREAM_ERROR", "being tried again now");
    assert!(started.elapsed() < FAIL_FAST, "{:?}", started.elapsed());
    let err = probe.await.expect("probe task").expect_err("still silent");
    assert_eq!(err.code(), "UPSTREAM_TIMEOUT", "{err}");
    let err = client
        .summarize(&silent[1].reference("later/app"))
        .await
        .expect_err("open again");
    // the second opening in a row: twice the cool-down
    assert_error(&err, "UPSTREAM_ERROR", "tried again in 6 s");
    assert_eq!(silent[1].accepted(), accepted[1] + 1, "exactly one probe");
}

/// Forty silent registries, more than the unproven half of the pool can hold at their
/// probation shares: together they hold at most that half, and a registry that has answered
/// keeps the other half.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn silent_registries_hold_at_most_half_the_pool() {
    within_a_minute(forty_silent_registries()).await;
}

async fn forty_silent_registries() {
    let registry = healthy_registry().await;
    let (held, silent) = silent_registries(40).await;
    let (client, config) = client(&registry, &silent);
    let pool = unproven_pool(&config);
    assert!(silent.len() * probation_share(&config) > pool);
    // the registry has answered this client before
    let reference = Reference::parse(&registry.image("acme/app:v1")).expect("valid reference");
    client
        .summarize(&reference)
        .await
        .expect("the registry answers");

    let Flood {
        held_midway: held_then,
        healthy,
        outcomes,
    } = flood_beside_healthy((&client, &registry), &silent, &held, 3).await;
    for (result, _) in outcomes {
        result.expect_err("a silent registry never answers");
    }
    eprintln!(
        "forty silent registries held {held_then} connections (the unproven pool: {pool}); \
         they saw {} in all",
        silent.iter().map(Silent::accepted).sum::<usize>()
    );
    report("healthy lookups beside forty silent registries", &healthy);
    assert!(
        held_then <= pool && held_then > pool / 2,
        "forty silent registries held {held_then} connections"
    );
    assert_kept_their_time(&healthy, 10, "");
}
