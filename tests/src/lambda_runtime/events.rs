//! The events posted to the invoke API: fixtures filled in, and a minimal HTTP API v2 event.

use serde_json::Value;

/// A fixture event (lambda/tests/fixtures) with its placeholders filled in: `{{IMAGE}}`,
/// `{{IMAGE_ENCODED}}` (as a browser encodes a query value) and `{{ETAG}}` (JSON-escaped).
pub fn fill_event(template: &str, image: &str, etag: &str) -> String {
    template
        .replace("{{IMAGE_ENCODED}}", &crate::encode_query(image))
        .replace("{{IMAGE}}", image)
        .replace("{{ETAG}}", &etag.replace('"', "\\\""))
}

/// A minimal API Gateway HTTP API (v2) `GET` event for `path` and `query` (already encoded),
/// for benchmarks.
pub fn http_api_event(path: &str, query: &str) -> String {
    let params: serde_json::Map<String, Value> = form_pairs(query)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"accept": "application/json", "host": "bench.execute-api.local"},
        "queryStringParameters": params,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.execute-api.local",
            "domainPrefix": "bench",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "mquery-bench"},
            "requestId": "bench",
            "routeKey": "$default",
            "stage": "$default",
            "time": "22/Nov/2026:19:00:00 +0000",
            "timeEpoch": 1795374000000u64
        },
        "isBase64Encoded": false
    })
    .to_string()
}

/// `a=b&c=d` -> pairs, percent-decoded.
fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
