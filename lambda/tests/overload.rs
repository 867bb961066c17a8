//! The local server under hostile clients, against the real `mquery-lambda` binary: slow
//! headers (slowloris) at the connection cap cannot delay `/healthz`, clients that never read
//! their answers are cut off at the write timeout, and at the cap with every connection busy a
//! new one waits for a slot. Loopback only, bounded in count and time; no request reaches a
//! registry (the checks name only invalid references).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mquery_tests::process::ServiceProcess;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout};

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_mquery-lambda"))
}

fn address(server: &ServiceProcess) -> SocketAddr {
    server
        .base_url()
        .trim_start_matches("http://")
        .parse()
        .expect("a socket address")
}

/// A field of /proc/PID/status in KiB (`VmHWM`: the peak resident set; `VmRSS`: the current).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server runs");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

/// The server's open descriptors: its listener and runtime's few, plus one per connection.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the server runs")
        .count()
}

/// `GET /healthz` on a new connection; the time from connecting to the whole answer.
async fn probe(addr: SocketAddr) -> Duration {
    let started = Instant::now();
    let answer = timeout(Duration::from_secs(5), async {
        let mut stream = TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        std::io::Result::Ok(answer)
    })
    .await
    .expect("/healthz answers within 5 s")
    .expect("/healthz answers");
    let elapsed = started.elapsed();
    assert!(
        answer.starts_with(b"HTTP/1.1 200 OK"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    elapsed
}

/// One slowloris client: connects, sends the start of a request's headers, then one more
/// byte every 200 ms, never the blank line; when the server closes the connection it notes
/// how long that connection lived and connects again 50 ms later.
async fn slowloris(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    connected: Arc<AtomicUsize>,
    lifetimes: Arc<Mutex<Vec<Duration>>>,
) {
    while !stop.load(Ordering::SeqCst) {
        let Ok(mut stream) = TcpStream::connect(addr).await else {
            sleep(Duration::from_millis(50)).await;
            continue;
        };
        let opened = Instant::now();
        connected.fetch_add(1, Ordering::SeqCst);
        let mut closed = stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .is_err();
        let mut buf = [0u8; 512];
        while !closed && !stop.load(Ordering::SeqCst) {
            match timeout(Duration::from_millis(200), stream.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => closed = true,
                // a 408 before the close, perhaps: read on to the end
                Ok(Ok(_)) => {}
                Err(_) => closed = stream.write_all(b"a").await.is_err(),
            }
        }
        if closed {
            lifetimes.lock().expect("lock").push(opened.elapsed());
            sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The issue's attack: as many slow-header connections as the cap allows, held open by
/// trickling bytes and reopened as soon as they are closed. `/healthz` answers within 1 s
/// throughout (before, it waited for a slot: up to the header timeout, here 10 s), every
/// slow connection is closed within about 1 s (under pressure the header timeout shrinks
/// from 10 s to 1 s), and the server's memory stays flat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_at_the_cap_do_not_delay_healthz() {
    const CAP: usize = 32;
    const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    let server = ServiceProcess::start(
        binary(),
        &[
            ("MQUERY_MAX_CONNECTIONS", CAP.to_string()),
            (
                "MQUERY_HEADER_TIMEOUT_MS",
                HEADER_TIMEOUT.as_millis().to_string(),
            ),
        ],
    );
    let (addr, pid) = (address(&server), server.pid());
    let idle_kib = status_kib(pid, "VmHWM");

    let stop = Arc::new(AtomicBool::new(false));
    let connected = Arc::new(AtomicUsize::new(0));
    let lifetimes = Arc::new(Mutex::new(Vec::new()));
    let attackers: Vec<_> = (0..CAP)
        .map(|_| {
            tokio::spawn(slowloris(
                addr,
                Arc::clone(&stop),
                Arc::clone(&connected),
                Arc::clone(&lifetimes),
            ))
        })
        .collect();
    let filled = Instant::now();
    while connected.load(Ordering::SeqCst) < CAP {
        assert!(
            filled.elapsed() < Duration::from_secs(5),
            "the slow clients could not connect"
        );
        sleep(Duration::from_millis(10)).await;
    }
    sleep(Duration::from_millis(200)).await;

    let attack = Instant::now();
    let mut latencies = Vec::new();
    while attack.elapsed() < Duration::from_secs(4) {
        latencies.push(probe(addr).await);
        sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for attacker in attackers {
        attacker.await.expect("a slow client ended");
    }
    let peak_kib = status_kib(pid, "VmHWM");
    let lifetimes = lifetimes.lock().expect("lock").clone();
    let slowest = latencies.iter().max().copied().unwrap_or_default();
    let longest = lifetimes.iter().max().copied().unwrap_or_default();
    eprintln!(
        "slowloris: {} probes, slowest {slowest:?}; {} slow connections opened, {} closed by the \
         server, the longest-lived {longest:?}; VmHWM {idle_kib} KiB idle, {peak_kib} KiB after",
        latencies.len(),
        connected.load(Ordering::SeqCst),
        lifetimes.len(),
    );

    assert!(latencies.len() >= 20, "{} probes", latencies.len());
    assert!(
        slowest < Duration::from_secs(1),
        "/healthz took {slowest:?} during the attack"
    );
    // the attack was held at the cap the whole time: every slow client was closed at least
    // once, and none lived near the configured header timeout
    assert!(
        lifetimes.len() >= CAP,
        "only {} slow connections were closed",
        lifetimes.len()
    );
    assert!(
        longest < Duration::from_millis(2500),
        "a slow connection lived {longest:?} (header timeout {HEADER_TIMEOUT:?}, 1 s under pressure)"
    );
    assert!(
        peak_kib < idle_kib + (32 << 10),
        "VmHWM rose from {idle_kib} KiB to {peak_kib} KiB"
    );
    assert!(server.terminate().success());
}

/// A list of 1001 invalid references (`A`: uppercase): a 2 KB body whose answer lists 1000 of
/// them, about 96 KB, with no lookup.
fn check_request() -> String {
    let body = "A\n".repeat(1001);
    format!(
        "POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The page: about 5 KB, cheap to make.
const PAGE_REQUEST: &str = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/// The whole answer to `request` (made `Connection: close`), read by a client that reads.
async fn answer_to(addr: SocketAddr, request: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = request.replacen("Host: x\r\n", "Host: x\r\nConnection: close\r\n", 1);
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("answer");
    assert!(
        answer.starts_with(b"HTTP/1.1 200 OK"),
        "{:?}",
        String::from_utf8_lossy(&answer[..answer.len().min(300)])
    );
    answer
}

/// Eight clients post checks, then ask for the page 3000 times, all pipelined, with a tiny
/// receive buffer, and never read: about 15 MB of answers each, several times what the
/// kernel's buffers hold (a loopback send buffer grows to 4 MiB), so the server's writes
/// stall. Each connection is closed by the server once
/// its writes have made no progress for the write timeout, and the clients then find the
/// connection reset or ended, with most of their answers never sent; `/healthz` answers
/// throughout, and the server's memory stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_read_are_cut_off_at_the_write_timeout() {
    const CLIENTS: usize = 8;
    const CHECKS: usize = 4;
    const PAGES: usize = 3000;
    const WRITE_TIMEOUT: Duration = Duration::from_millis(1500);
    let server = ServiceProcess::start(
        binary(),
        &[(
            "MQUERY_WRITE_TIMEOUT_MS",
            WRITE_TIMEOUT.as_millis().to_string(),
        )],
    );
    let (addr, pid) = (address(&server), server.pid());
    let check = answer_to(addr, &check_request()).await.len();
    let page = answer_to(addr, PAGE_REQUEST).await.len();
    assert!(check > 64 << 10, "a check's answer of {check} bytes");
    let everything = check * CHECKS + page * PAGES;

    // the warm-up connections' descriptors may still be closing: the idle count is the
    // fewest seen over a moment
    let mut idle_fds = open_fds(pid);
    for _ in 0..10 {
        sleep(Duration::from_millis(30)).await;
        idle_fds = idle_fds.min(open_fds(pid));
    }
    let idle_rss = status_kib(pid, "VmRSS");
    let pipelined = format!(
        "{}{}",
        check_request().repeat(CHECKS),
        PAGE_REQUEST.repeat(PAGES)
    )
    .into_bytes();
    let mut clients = Vec::new();
    let mut writers = Vec::new();
    for _ in 0..CLIENTS {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let stream = socket.connect(addr).await.expect("connect");
        let (read, mut write) = stream.into_split();
        let pipelined = pipelined.clone();
        // the server stops reading once its writes stall: the rest waits in the buffers
        writers.push(tokio::spawn(async move {
            let _ = write.write_all(&pipelined).await;
            write
        }));
        clients.push(read);
    }
    let started = Instant::now();

    let mut latencies = Vec::new();
    let mut most_fds = 0;
    let mut open_at_half = None;
    let mut closed_after = None;
    let mut stall_rss = 0;
    while started.elapsed() < WRITE_TIMEOUT + Duration::from_secs(4) {
        latencies.push(probe(addr).await);
        let fds = open_fds(pid);
        most_fds = most_fds.max(fds);
        stall_rss = stall_rss.max(status_kib(pid, "VmRSS"));
        if open_at_half.is_none() && started.elapsed() >= WRITE_TIMEOUT / 2 {
            open_at_half = Some(fds);
        }
        if fds <= idle_fds && started.elapsed() >= WRITE_TIMEOUT / 2 {
            closed_after = Some(started.elapsed());
            break;
        }
        sleep(Duration::from_millis(100)).await;
    }
    let peak_kib = status_kib(pid, "VmHWM");
    let after_rss = status_kib(pid, "VmRSS");

    let mut received = Vec::new();
    for mut client in clients {
        let mut total = 0usize;
        let mut buf = vec![0u8; 64 << 10];
        let end = timeout(Duration::from_secs(3), async {
            loop {
                match client.read(&mut buf).await {
                    Ok(0) => return "ended",
                    Ok(n) => total += n,
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return "reset",
                    Err(e) => panic!("reading what the server sent: {e}"),
                }
            }
        })
        .await
        .expect("the server closed the connection: reading ends within 3 s");
        received.push((total, end));
    }
    for writer in writers {
        writer.abort();
    }
    let slowest = latencies.iter().max().copied().unwrap_or_default();
    eprintln!(
        "non-reading clients: {CLIENTS} x ({CHECKS} checks of {check} bytes, {PAGES} pages of \
         {page} bytes); descriptors \
         {idle_fds} idle, {most_fds} at most, {open_at_half:?} at half the write timeout; all \
         closed after {closed_after:?} (write timeout {WRITE_TIMEOUT:?}); received {received:?}; \
         {} probes, slowest {slowest:?}; VmRSS {idle_rss} KiB idle, {stall_rss} KiB at most, \
         {after_rss} KiB after; VmHWM {peak_kib} KiB",
        latencies.len(),
    );

    assert!(
        open_at_half.is_some_and(|fds| fds >= idle_fds + CLIENTS),
        "the connections were open at half the write timeout: {open_at_half:?} descriptors, \
         {idle_fds} idle"
    );
    let closed_after = closed_after.expect("the server closed every connection");
    assert!(
        closed_after >= WRITE_TIMEOUT && closed_after < WRITE_TIMEOUT + Duration::from_secs(3),
        "closed after {closed_after:?}, the write timeout is {WRITE_TIMEOUT:?}"
    );
    for (total, _) in &received {
        assert!(
            *total < everything / 2,
            "a client that never read received {total} of {everything} bytes"
        );
    }
    assert!(
        slowest < Duration::from_secs(1),
        "/healthz took {slowest:?} meanwhile"
    );
    // what the stalled connections held is freed with them: nothing stays behind
    assert!(
        peak_kib < idle_rss + (64 << 10),
        "VmHWM rose from {idle_rss} KiB to {peak_kib} KiB"
    );
    assert!(
        after_rss < idle_rss + (16 << 10),
        "VmRSS {after_rss} KiB once the connections were closed, {idle_rss} KiB before"
    );
    assert!(server.terminate().success());
}

/// At the cap with every connection busy (each is sending a request body), nothing can be
/// shed: a new connection waits, accepted but unserved, until one of them ends; then it is
/// answered at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_with_every_connection_busy_a_new_one_waits() {
    const CAP: usize = 4;
    let server = ServiceProcess::start(binary(), &[("MQUERY_MAX_CONNECTIONS", CAP.to_string())]);
    let addr = address(&server);
    let mut busy = Vec::new();
    for _ in 0..CAP {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        // the handler waits for the rest of the body (up to its 20 s deadline)
        stream
            .write_all(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\nA\n")
            .await
            .expect("write");
        busy.push(stream);
    }
    sleep(Duration::from_millis(300)).await;

    let mut fifth = TcpStream::connect(addr).await.expect("connect");
    fifth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    // longer than the header timeout under pressure (1 s): busy connections are not shed
    let waited = timeout(Duration::from_millis(1500), fifth.read_to_end(&mut answer)).await;
    assert!(
        waited.is_err(),
        "answered while every connection was busy: {:?}",
        String::from_utf8_lossy(&answer)
    );

    let freed = Instant::now();
    drop(busy.remove(0));
    timeout(Duration::from_secs(2), fifth.read_to_end(&mut answer))
        .await
        .expect("answered once a connection ended")
        .expect("read");
    let elapsed = freed.elapsed();
    eprintln!("at the cap, all busy: answered {elapsed:?} after a connection ended");
    assert!(
        answer.starts_with(b"HTTP/1.1 200 OK"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    // the others are still being served: each gets its answer once its body is complete
    for mut stream in busy {
        stream
            .write_all(&b"A\n".repeat(2047))
            .await
            .expect("the rest of the body");
        let mut answer = vec![0u8; 16];
        timeout(Duration::from_secs(5), stream.read_exact(&mut answer))
            .await
            .expect("answered")
            .expect("read");
        assert_eq!(&answer, b"HTTP/1.1 200 OK\r");
    }
    assert!(server.terminate().success());
}
