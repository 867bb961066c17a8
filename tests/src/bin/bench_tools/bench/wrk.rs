//! wrk, the HTTP load generator, and what its `--latency` output says.

use std::process::Command;
use std::time::Duration;

use super::processes::output;

/// One wrk run, its numbers as the report prints them.
#[derive(Debug, Clone, PartialEq)]
pub struct Wrk {
    /// Requests per second, no decimals.
    pub rps: String,
    /// Latency percentiles in ms, three decimals.
    pub p50: String,
    pub p99: String,
    /// Non-2xx or 3xx answers and socket errors of every kind.
    pub errors: u64,
}

/// Runs `wrk ARGS --latency URL` for `secs` seconds (`-d`), and reads its output.
pub fn wrk(args: &[&str], secs: u64, url: &str) -> Result<Wrk, String> {
    let mut command = Command::new("wrk");
    command
        .args(args)
        .arg(format!("-d{secs}s"))
        .arg("--latency")
        .arg(url);
    let what = format!("wrk {} -d{secs}s {url}", args.join(" "));
    // wrk stops on its own after its duration; a minute more covers its start and end
    let out = output(&mut command, Duration::from_secs(secs + 60), &what)?;
    let text = String::from_utf8_lossy(&out);
    parse(&text).ok_or_else(|| format!("{what}: unexpected output:\n{text}"))
}

/// Reads `wrk --latency` output: requests/s, the 50% and 99% latencies, and the errors (non-2xx
/// or 3xx answers and socket errors).
pub fn parse(text: &str) -> Option<Wrk> {
    let after = |label: &str| {
        text.lines()
            .find_map(|line| line.split_once(label).map(|(_, rest)| rest.trim()))
    };
    let rps: f64 = leading_number(after("Requests/sec:")?)?.parse().ok()?;
    let percentile = |which: &str| {
        text.lines().find_map(|line| {
            let mut words = line.split_whitespace();
            let indented = line.starts_with(char::is_whitespace);
            (indented && words.next() == Some(which))
                .then(|| words.next())
                .flatten()
                .and_then(milliseconds)
        })
    };
    let p50 = percentile("50%")?;
    let p99 = percentile("99%")?;
    let mut errors = 0;
    if let Some(rest) = after("Non-2xx or 3xx responses:") {
        errors += leading_number(rest)?.parse::<u64>().ok()?;
    }
    // Socket errors: connect 0, read 12, write 0, timeout 3
    if let Some(rest) = after("Socket errors:") {
        for (kind, count) in ["connect", "read", "write", "timeout"]
            .into_iter()
            .zip(rest.split(','))
        {
            let count = count.trim().strip_prefix(kind)?.trim();
            errors += count.parse::<u64>().ok()?;
        }
    }
    Some(Wrk {
        rps: format!("{rps:.0}"),
        p50: format!("{p50:.3}"),
        p99: format!("{p99:.3}"),
        errors,
    })
}

/// The digits and dots `text` starts with.
fn leading_number(text: &str) -> Option<&str> {
    let end = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    (end > 0).then(|| &text[..end])
}

/// A wrk duration (`850.00us`, `1.23ms`, `2.01s`, `1.50m`) in ms.
fn milliseconds(value: &str) -> Option<f64> {
    let number = leading_number(value)?;
    let unit = &value[number.len()..];
    let scale = [("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60000.0)]
        .into_iter()
        .find_map(|(name, scale)| unit.starts_with(name).then_some(scale))?;
    Some(number.parse::<f64>().ok()? * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "\
Running 3s test @ http://127.0.0.1:41234/v1/inspect?image=127.0.0.1:40000/acme/app:v1
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.52ms    3.01ms  41.20ms   80.12%
    Req/Sec     5.47k   612.31     6.80k    70.00%
  Latency Distribution
     50%    4.49ms
     75%    5.80ms
     90%    7.75ms
     99%    9.56s
  32679 requests in 3.00s, 52.15MB read
  Socket errors: connect 0, read 12, write 1, timeout 3
  Non-2xx or 3xx responses: 5
Requests/sec:  10893.49
Transfer/sec:     17.38MB
";

    #[test]
    fn reads_throughput_percentiles_and_every_error() {
        let wrk = parse(OUTPUT).expect("wrk output");
        assert_eq!(
            wrk,
            Wrk {
                rps: "10893".into(),
                p50: "4.490".into(),
                p99: "9560.000".into(),
                errors: 21,
            }
        );
    }

    #[test]
    fn no_error_lines_is_no_errors_and_microseconds_are_thousandths() {
        let clean = OUTPUT
            .lines()
            .filter(|line| !line.contains("errors") && !line.contains("Non-2xx"))
            .collect::<Vec<_>>()
            .join("\n")
            .replace("4.49ms", "850.00us")
            .replace("9.56s", "1.50m");
        let wrk = parse(&clean).expect("wrk output");
        assert_eq!((wrk.p50.as_str(), wrk.p99.as_str()), ("0.850", "90000.000"));
        assert_eq!(wrk.errors, 0);
    }

    #[test]
    fn output_without_throughput_is_refused() {
        assert_eq!(
            parse("unable to connect to 127.0.0.1:1 Connection refused"),
            None
        );
    }
}
