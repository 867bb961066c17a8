//! The scanner's hostile files (mquery_tests::attacks) posted to the real `mquery-lambda`,
//! running under a 2 GiB address-space limit, through `POST /v1/check` and the page's form
//! (`POST /`). For each: the server survives, `/healthz` answers within a second all along, the
//! answer is a 200 whose report names the limit the file reached or a 413 with a sentence, it
//! is small, and the server's peak memory stays under 256 MiB.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mquery_tests::attacks::{ADDRESS_SPACE, Attack, MAX_ANSWER, PEAK_RSS_KIB};
use mquery_tests::distribution::Distribution;
use mquery_tests::process::ServiceProcess;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_mquery-lambda"))
}

/// One attack at a time in this binary: each measures its own server's memory and latency,
/// which a neighbour using both cores would blur.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Each `/healthz` probe is answered within this.
const PROBE_WITHIN: Duration = Duration::from_secs(1);
/// Between probes.
const PROBE_EVERY: Duration = Duration::from_millis(100);
/// The attack's answer arrives within this (the test stays under 30 s).
const ANSWER_WITHIN: Duration = Duration::from_secs(20);
/// How much of an answer is kept to read; the rest is only counted.
const KEPT: usize = 8 << 20;

#[derive(Debug, Clone, Copy)]
enum Route {
    /// `POST /v1/check?name=FILE`, the file as the body: JSON.
    Api,
    /// `POST /`, the file form-encoded as `file=`: the page.
    Page,
}

/// What the attacked server answered.
#[derive(Debug)]
struct Answer {
    /// The status, or why there was no answer.
    status: Result<u16, String>,
    /// Its first [`KEPT`] bytes.
    body: Vec<u8>,
    /// All its bytes.
    len: usize,
    elapsed: Duration,
}

async fn send(route: Route, base: &str, attack: &Attack) -> Answer {
    let http = reqwest::Client::builder()
        .timeout(ANSWER_WITHIN)
        .build()
        .expect("client");
    let request = match route {
        Route::Api => http
            .post(format!("{base}/v1/check?name={}", attack.file_name))
            .header("content-type", "application/yaml")
            .body(attack.text.clone()),
        Route::Page => {
            let form = form_urlencoded::Serializer::new(String::new())
                .append_pair("file", &attack.text)
                .finish();
            http.post(format!("{base}/"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
        }
    };
    let started = Instant::now();
    let mut answer = Answer {
        status: Err("no answer".to_owned()),
        body: Vec::new(),
        len: 0,
        elapsed: Duration::ZERO,
    };
    match request.send().await {
        Ok(mut response) => {
            answer.status = Ok(response.status().as_u16());
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        answer.len += chunk.len();
                        let room = KEPT.saturating_sub(answer.body.len()).min(chunk.len());
                        answer.body.extend_from_slice(&chunk[..room]);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        answer.status = Err(format!("the answer broke off: {e}"));
                        break;
                    }
                }
            }
        }
        Err(e) => answer.status = Err(format!("{e}")),
    }
    answer.elapsed = started.elapsed();
    answer
}

/// `GET /healthz` now, then every [`PROBE_EVERY`] until `stop`, and once more after it, each on
/// a new connection: how long each took, or why it failed. Returns once the first has been
/// answered, so that the attack starts on a server known to answer.
async fn probe(
    base: String,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<Result<Duration, String>>> {
    let (first, answered) = tokio::sync::oneshot::channel();
    let prober = tokio::spawn(async move {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(PROBE_WITHIN * 3)
            .build()
            .expect("client");
        let mut first = Some(first);
        let mut probes = Vec::new();
        let mut last = false;
        loop {
            let started = Instant::now();
            let outcome = match http.get(format!("{base}/healthz")).send().await {
                Ok(r) if r.status() == 200 => Ok(started.elapsed()),
                Ok(r) => Err(format!("status {}", r.status())),
                Err(e) => Err(format!("{e} after {:?}", started.elapsed())),
            };
            probes.push(outcome);
            if let Some(first) = first.take() {
                let _ = first.send(());
            }
            if last {
                return probes;
            }
            tokio::time::sleep(PROBE_EVERY).await;
            last = stop.load(Ordering::SeqCst);
        }
    });
    answered.await.expect("the first probe");
    prober
}

/// The text of a page without the posted file its form echoes, so that only what the page
/// says is searched.
fn without_echo(page: &str) -> String {
    match (page.find("<textarea"), page.find("</textarea>")) {
        (Some(start), Some(end)) if start < end => format!("{}{}", &page[..start], &page[end..]),
        _ => page.to_owned(),
    }
}

/// Whether the answer refuses the file in words: a 200 whose report names the limit, or a 413
/// `PAYLOAD_TOO_LARGE` with a sentence. `Err` says what it said instead.
fn says_why(route: Route, attack: &Attack, answer: &Answer) -> Result<(), String> {
    let status = answer.status.clone()?;
    let text = String::from_utf8_lossy(&answer.body);
    let head: String = text.chars().take(600).collect();
    match (route, status) {
        (Route::Api, 200) => {
            let doc: serde_json::Value = serde_json::from_slice(&answer.body)
                .map_err(|e| format!("200 but not JSON ({e}): {head}"))?;
            if doc["status"] != "error" {
                return Err(format!("status {:?}, not \"error\": {head}", doc["status"]));
            }
            if !attack.names_limit(&text) {
                return Err(format!("the report does not name the limit: {head}"));
            }
        }
        (Route::Api, 413) => {
            let doc: serde_json::Value = serde_json::from_slice(&answer.body)
                .map_err(|e| format!("413 but not JSON ({e}): {head}"))?;
            let message = doc["error"]["message"].as_str().unwrap_or_default();
            if doc["error"]["code"] != "PAYLOAD_TOO_LARGE" || !is_sentence(message) {
                return Err(format!("413 without its code and a sentence: {head}"));
            }
        }
        (Route::Page, 200) => {
            let page = without_echo(&text);
            if !page.contains("Stack check") || !attack.names_limit(&page) {
                let result = page.find("id=\"result\"").map_or("", |at| &page[at..]);
                let result: String = result.chars().take(1500).collect();
                return Err(format!("the page does not name the limit: {result}"));
            }
        }
        (Route::Page, 413) => {
            let page = without_echo(&text);
            if !page.contains("PAYLOAD_TOO_LARGE") {
                return Err(format!("a 413 page without PAYLOAD_TOO_LARGE: {head}"));
            }
        }
        (_, other) => return Err(format!("status {other}: {head}")),
    }
    Ok(())
}

/// A sentence that says how much: words and a number.
fn is_sentence(message: &str) -> bool {
    message.split_whitespace().count() >= 4 && message.chars().any(|c| c.is_ascii_digit())
}

/// Posts `make`'s file to a new server through `route` while probing `/healthz`, prints what
/// happened, then asserts the bounds.
async fn attack(make: fn(&str) -> Attack, route: Route) {
    let _serial = SERIAL.lock().await;
    // the YAML files' images are on this registry; `docker.io` references (the list's `a`)
    // go to it as the Docker Hub mirror: nothing leaves the machine
    let registry = Distribution::start_open();
    let attack = make(&registry.host());
    assert!(attack.dotenv.is_none(), "the service reads no .env");
    let mut server = ServiceProcess::start_with_address_space(
        binary(),
        &[
            registry.insecure_env(),
            ("MQUERY_DOCKER_HUB_MIRROR", registry.base_url()),
            ("MQUERY_REGISTRY_TIMEOUT_MS", "5000".to_owned()),
        ],
        ADDRESS_SPACE,
    );
    let base = server.base_url();
    let stop = Arc::new(AtomicBool::new(false));
    let prober = probe(base.clone(), Arc::clone(&stop)).await;
    let answer = send(route, &base, &attack).await;
    stop.store(true, Ordering::SeqCst);
    let probes = prober.await.expect("prober");
    // give an abort that follows the answer (the worker dying after it wrote) time to show
    tokio::time::sleep(Duration::from_millis(200)).await;
    let exited = server.exited();
    let peak = server.peak_rss_kib();

    let slowest = probes
        .iter()
        .filter_map(|p| p.as_ref().ok())
        .max()
        .copied()
        .unwrap_or_default();
    let failed: Vec<&String> = probes.iter().filter_map(|p| p.as_ref().err()).collect();
    let report = format!(
        "{} via {route:?} ({} bytes sent): {}, answer {} bytes, peak RSS {}, {:.2?}; {} /healthz probes, slowest {slowest:.1?}, {} failed{}",
        attack.name,
        attack.text.len(),
        match &answer.status {
            Ok(status) => format!("status {status}"),
            Err(e) => format!("no answer ({e})"),
        },
        answer.len,
        peak.map_or("- (exited)".to_owned(), |kib| format!(
            "{:.1} MiB",
            kib as f64 / 1024.0
        )),
        answer.elapsed,
        probes.len(),
        failed.len(),
        match &exited {
            Some(status) => format!("; the server EXITED: {status}"),
            None => String::new(),
        },
    );
    eprintln!("attack: {report}");

    assert!(
        exited.is_none(),
        "{report}\nlogs: {:?}",
        tail(&server.logs())
    );
    assert!(
        failed.is_empty() && slowest < PROBE_WITHIN,
        "{report}\n/healthz must answer within {PROBE_WITHIN:?} throughout: {failed:?}"
    );
    assert!(probes.len() >= 2, "{report}");
    if let Err(why) = says_why(route, &attack, &answer) {
        panic!(
            "{report}\nthe answer must refuse the file naming {}: {why}",
            attack.limit
        );
    }
    assert!(
        answer.len < MAX_ANSWER,
        "{report}\nthe answer must be under {MAX_ANSWER} bytes"
    );
    let peak = peak.expect("a running server has a VmHWM");
    assert!(
        peak < PEAK_RSS_KIB,
        "{report}\nthe server's peak RSS must stay under {} MiB",
        PEAK_RSS_KIB >> 10
    );
}

fn tail(logs: &[String]) -> &[String] {
    &logs[logs.len().saturating_sub(5)..]
}

macro_rules! attacks {
    ($($name:ident => $make:path,)*) => {
        mod api {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::attack($make, super::Route::Api).await;
                }
            )*
        }
        mod page {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::attack($make, super::Route::Page).await;
                }
            )*
        }
    };
}

attacks! {
    nested_block_sequences => mquery_tests::attacks::nested_block_sequences,
    nested_flow_sequences => mquery_tests::attacks::nested_flow_sequences,
    alias_bomb_kubernetes => mquery_tests::attacks::alias_bomb_kubernetes,
    alias_bomb_compose => mquery_tests::attacks::alias_bomb_compose,
    merge_key_bomb_compose => mquery_tests::attacks::merge_key_bomb_compose,
    merge_chain_compose => mquery_tests::attacks::merge_chain_compose,
    dockerfile_arg_expansion => mquery_tests::attacks::dockerfile_arg_expansion,
    dockerfile_arg_chain => mquery_tests::attacks::dockerfile_arg_chain,
    one_letter_lines => mquery_tests::attacks::one_letter_lines,
    aliased_long_image => mquery_tests::attacks::aliased_long_image,
    lenient_growth => mquery_tests::attacks::lenient_growth,
    gitlab_variable_bomb => mquery_tests::attacks::gitlab_variable_bomb,
    gitlab_extends_chain => mquery_tests::attacks::gitlab_extends_chain,
    compose_include_fan_out => mquery_tests::attacks::compose_include_fan_out,
    kustomize_tag_suffix_growth => mquery_tests::attacks::kustomize_tag_suffix_growth,
}
