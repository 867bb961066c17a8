//! Content negotiation: which of `/v1/inspect`'s formats a request asks for, by its `format`
//! parameter or its `Accept` header (docs/http-api.md, "Content negotiation"). Every other
//! route speaks one format.

use axum::http::{HeaderMap, header};

use super::Format;
use crate::error::AppError;

/// `/v1/inspect`'s format: `format=json` or `format=text`, else what `Accept` prefers.
pub(super) fn inspect_format(
    format: Option<&str>,
    headers: &HeaderMap,
) -> Result<Format, AppError> {
    match format {
        Some("text") => Ok(Format::Text),
        Some("json") => Ok(Format::Json),
        None => Ok(accepted(headers)),
        Some(other) => Err(AppError::invalid_parameter(format!(
            "format must be json or text, not {:?}",
            crate::render::clip(other, 20)
        ))),
    }
}

/// The format `Accept` asks of `/v1/inspect` when the query does not name one.
pub(super) fn accepted(headers: &HeaderMap) -> Format {
    if wants_text(headers) {
        Format::Text
    } else {
        Format::Json
    }
}

/// Whether the client prefers text/plain to JSON, by RFC 9110's rules: a type's quality is the
/// `q` of the most specific range naming it (`text/plain`, then `text/*`, then `*/*`); the
/// higher quality wins; on a tie the more specific range, then the one listed first; JSON when
/// neither is acceptable or nothing is said.
fn wants_text(headers: &HeaderMap) -> bool {
    let ranges: Vec<(String, f32)> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|range| {
            // media types and parameter names are case-insensitive
            let range = range.to_ascii_lowercase();
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_owned();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .filter(|q| q.is_finite())
                .map_or(1.0, |q| q.clamp(0.0, 1.0));
            (media, q)
        })
        .collect();
    if ranges.is_empty() {
        // nothing said (wrk, most API clients): JSON, without ranking
        return false;
    }
    // (quality, specificity, -position): larger is preferred
    let rank = |media: &str| {
        let wildcard = format!("{}/*", media.split('/').next().unwrap_or(""));
        ranges
            .iter()
            .enumerate()
            .filter_map(|(i, (range, q))| {
                let specificity = if range == media {
                    2
                } else if *range == wildcard {
                    1
                } else if range == "*/*" {
                    0
                } else {
                    return None;
                };
                Some((specificity, *q, i))
            })
            .max_by_key(|(specificity, _, _)| *specificity)
    };
    match (rank("text/plain"), rank("application/json")) {
        (Some((_, text_q, _)), None) => text_q > 0.0,
        (Some((text_s, text_q, text_i)), Some((json_s, json_q, json_i))) => {
            text_q > 0.0
                && (text_q > json_q
                    || (text_q == json_q
                        && (text_s > json_s || (text_s == json_s && text_i < json_i))))
        }
        (None, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn accept_negotiation() {
        let mut h = HeaderMap::new();
        assert!(!wants_text(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("text/plain"));
        assert!(wants_text(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/plain;q=0.5"),
        );
        assert!(!wants_text(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert!(!wants_text(&h));
        // q-values decide, not the order (issue 10: this one answered text)
        for (accept, text) in [
            ("text/plain;q=0.1, application/json", false),
            ("text/plain;q=0.9, application/json;q=0.5", true),
            ("application/json;q=0, text/plain", true),
            ("text/plain;q=0", false),
            ("text/*", true),
            ("text/plain, */*", true),
            ("*/*, text/plain", true),
            ("application/json, text/plain", false),
            ("text/plain, application/json", true),
            ("text/*;q=0.5, application/*;q=0.4", true),
            ("TEXT/PLAIN; Q=0.8, application/json; q=0.9", false),
            ("text/html", false),
            ("text/plain;q=abc", true),
        ] {
            h.insert(header::ACCEPT, HeaderValue::from_static(accept));
            assert_eq!(wants_text(&h), text, "{accept}");
        }
    }
}
