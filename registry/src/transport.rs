//! The HTTP transport under the client: the reqwest client with the address guard, the
//! redirect policy and the trusted roots; the per-lookup request budget; body caps; what a
//! response means ([`Outcome`]); header parsing. It knows registries as [`Repository`]
//! values and nothing of manifests or tokens.

use std::time::Duration;

pub use reqwest::Url;
use reqwest::header::{HeaderMap, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};

use crate::auth::{BearerChallenge, Challenge, parse_challenge};
// Docker Hub's pull-limit headers are read with its pull quota; the parser keeps its path here
pub use crate::client::quota::parse_ratelimit;
use crate::config::ClientConfig;
use crate::error::{Error, OciErrorCode};
use crate::guard::{Guard, Refused, find_refusal};
use crate::reference::Reference;

const MAX_REDIRECTS: usize = 3;
const MAX_ERROR_BODY: usize = 16 << 10;
/// Requests one lookup may send besides its nested indexes: challenge, token, manifest, config,
/// a token refetch, the 429 wait and the 5xx retry, with room to spare.
pub const LOOKUP_BUDGET: usize = 12;

tokio::task_local! {
    /// Registry requests the running lookup may still send (set by [`with_budget`]).
    static BUDGET: std::cell::Cell<usize>;
}

/// Where a registry is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `scheme://host[:port][/prefix]`, without a trailing slash.
    pub base: String,
    /// The host, for messages and logs.
    pub host: String,
}

impl Endpoint {
    /// An endpoint for a base URL of the operator's (Docker Hub, a mirror, a fallback).
    pub fn from_base_url(base: &str) -> Endpoint {
        let host = Url::parse(base)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        Endpoint {
            base: base.trim_end_matches('/').to_owned(),
            host,
        }
    }
}

/// One repository at one endpoint: what every registry request is about.
#[derive(Debug, Clone)]
pub struct Repository<'a> {
    pub endpoint: Endpoint,
    /// The reference being looked up (for messages: what was not found).
    pub reference: &'a Reference,
}

impl Repository<'_> {
    /// The repository path (`library/alpine`).
    pub fn name(&self) -> &str {
        self.reference.repository()
    }

    pub fn host(&self) -> &str {
        &self.endpoint.host
    }

    /// `{base}/v2/{name}/{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.endpoint.base, self.name())
    }

    pub fn not_found(&self) -> Error {
        Error::NotFound {
            reference: self.reference.canonical(),
        }
    }
}

/// What a registry's answer means for the request loop.
#[derive(Debug)]
pub enum Outcome {
    /// 2xx: the response to read.
    Success(Response),
    /// 401/403: the challenge it carried (`None`: none), or `Basic` auth.
    Unauthorized(AuthDemand),
    /// 429 and the wait it asked for.
    RateLimited(Option<Duration>),
    /// 404.
    NotFound,
    /// 5xx, with the registry's error codes.
    ServerError(StatusCode, Vec<OciErrorCode>),
    /// Any other status, with the registry's error codes.
    Unexpected(StatusCode, Vec<OciErrorCode>),
}

/// What a 401/403 asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthDemand {
    Bearer(BearerChallenge),
    /// Basic auth: the repository is private; anonymous access is impossible.
    Basic,
    /// No challenge at all (ghcr.io and ECR Public refusing an expired token).
    Silent,
}

/// The HTTP client every registry request goes through.
#[derive(Debug, Clone)]
pub struct Transport {
    http: reqwest::Client,
    /// For requests that carry credentials in their body (an identity token's grant): no
    /// redirect is followed, since a 307 or 308 would send the body again to wherever it
    /// points; a redirect is the token server's failure.
    credentialed: reqwest::Client,
    guard: Guard,
}

impl Transport {
    /// Builds the client: trusted roots, timeouts, guarded DNS and guarded redirects.
    pub fn new(config: &ClientConfig, guard: Guard) -> Result<Transport, Error> {
        let redirect_guard = guard.clone();
        // redirects (blob CDNs) are followed a few times, each target through the guard
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            // previous() starts with the original URL: N redirects make it N long
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            if !matches!(attempt.url().scheme(), "http" | "https") {
                return attempt.error("redirect to a scheme other than http(s)");
            }
            if !attempt.url().username().is_empty() || attempt.url().password().is_some() {
                return attempt.error("redirect to a URL with credentials");
            }
            // nothing that went over HTTPS goes on in clear text
            let from_https = attempt
                .previous()
                .last()
                .is_some_and(|u| u.scheme() == "https");
            if from_https && attempt.url().scheme() == "http" {
                return attempt.error("redirect from HTTPS to plain HTTP");
            }
            match redirect_guard.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(refused) => attempt.error(refused),
            }
        });
        let tls =
            crate::tls::client_config(&config.extra_roots).map_err(|e| Error::ClientSetup {
                detail: e.to_string(),
            })?;
        let builder = |redirects: reqwest::redirect::Policy, tls: rustls::ClientConfig| {
            reqwest::Client::builder()
                .user_agent(config.user_agent.clone())
                .connect_timeout(config.connect_timeout)
                .timeout(config.request_timeout)
                .redirect(redirects)
                .dns_resolver(guard.resolver())
                .tls_backend_preconfigured(tls)
                .build()
                .map_err(|e| Error::ClientSetup {
                    detail: format!("cannot build the HTTP client: {e}"),
                })
        };
        let credentialed = builder(reqwest::redirect::Policy::none(), tls.clone())?;
        let http = builder(redirects, tls)?;
        Ok(Transport {
            http,
            credentialed,
            guard,
        })
    }

    /// Whether the guard lets `url` be asked (its host's addresses are checked again when
    /// the connection is made).
    pub fn check(&self, url: &Url) -> Result<(), Error> {
        self.guard
            .check_url(url)
            .map_err(|refused| not_allowed(&refused))
    }

    /// A request to `url`, checked by the guard before anything is sent.
    pub fn request(&self, method: Method, url: &Url) -> Result<RequestBuilder, Error> {
        self.check(url)?;
        Ok(self.http.request(method, url.clone()))
    }

    /// A request to `url` that carries credentials in its body, checked by the guard, sent by
    /// a client that follows no redirect.
    pub fn credentialed_request(&self, method: Method, url: &Url) -> Result<RequestBuilder, Error> {
        self.check(url)?;
        Ok(self.credentialed.request(method, url.clone()))
    }

    /// Sends a request, taking one from the lookup's budget; a failed connection is the
    /// error it stands for.
    pub async fn send(&self, ep: &Endpoint, request: RequestBuilder) -> Result<Response, Error> {
        spend(ep)?;
        request.send().await.map_err(|e| transport_error(ep, e))
    }

    /// What a response means. Only an error status reads the (small, capped) error body.
    pub async fn classify(&self, ep: &Endpoint, response: Response) -> Outcome {
        let status = response.status();
        match status {
            s if s.is_success() => Outcome::Success(response),
            // a challenge counts only from the endpoint itself: after a redirect to another
            // origin (a blob CDN, another registry), that host would choose the token realm
            // the login goes to (docker trusts challenges from the registry's host only)
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                let demand = if same_origin(response.url(), ep) {
                    auth_demand(response.headers())
                } else {
                    AuthDemand::Silent
                };
                // the request after a 401 (with its token) goes on this connection
                drain(response).await;
                Outcome::Unauthorized(demand)
            }
            StatusCode::TOO_MANY_REQUESTS => {
                let wait = retry_after(response.headers());
                drain(response).await;
                Outcome::RateLimited(wait)
            }
            StatusCode::NOT_FOUND => {
                drain(response).await;
                Outcome::NotFound
            }
            s if s.is_server_error() => Outcome::ServerError(s, error_codes(ep, response).await),
            s => Outcome::Unexpected(s, error_codes(ep, response).await),
        }
    }
}

/// Reads a body, refusing more than `limit` bytes (before reading, when the length is
/// announced).
pub async fn read_body(
    ep: &Endpoint,
    mut response: Response,
    limit: usize,
    what: &'static str,
) -> Result<Vec<u8>, Error> {
    let too_large = || Error::TooLarge {
        registry: ep.host.clone(),
        what,
        limit,
    };
    let announced = response.content_length();
    if announced.is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(announced.map_or(8 << 10, |len| len as usize));
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(ep, e))? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads and drops a refusal's (small) body, so that an HTTP/1.1 connection goes back to the
/// pool for the next request instead of being closed half read. A body over
/// `MAX_ERROR_BODY` is left: the connection is then closed, which is cheaper than reading it.
pub async fn drain(mut response: Response) {
    if response
        .content_length()
        .is_some_and(|len| len > MAX_ERROR_BODY as u64)
    {
        return;
    }
    let mut read = 0;
    while let Ok(Some(chunk)) = response.chunk().await {
        read += chunk.len();
        if read > MAX_ERROR_BODY {
            return;
        }
    }
}

/// The registry's own error codes, if its body has them (at most three).
async fn error_codes(ep: &Endpoint, response: Response) -> Vec<OciErrorCode> {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        code: OciErrorCode,
    }
    let Ok(body) = read_body(ep, response, MAX_ERROR_BODY, "error body").await else {
        return Vec::new();
    };
    serde_json::from_slice::<Errors>(&body)
        .map(|errors| errors.errors.into_iter().take(3).map(|e| e.code).collect())
        .unwrap_or_default()
}

/// Runs one lookup with a fresh request budget.
pub async fn with_budget<T>(lookup: impl Future<Output = T>) -> T {
    BUDGET
        .scope(std::cell::Cell::new(LOOKUP_BUDGET), lookup)
        .await
}

/// Adds to the running lookup's budget (for each nested index it must fetch).
pub fn grow_budget(requests: usize) {
    let _ = BUDGET.try_with(|left| left.set(left.get() + requests));
}

/// Takes one request from the running lookup's budget.
fn spend(ep: &Endpoint) -> Result<(), Error> {
    BUDGET
        .try_with(|left| match left.get() {
            0 => Err(Error::BudgetExceeded {
                registry: ep.host.clone(),
                limit: LOOKUP_BUDGET,
            }),
            n => {
                left.set(n - 1);
                Ok(())
            }
        })
        // outside a lookup (never in this crate): unbounded
        .unwrap_or(Ok(()))
}

pub fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header_str(headers, RETRY_AFTER.as_str()).and_then(parse_retry_after)
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Whether `url` has the scheme, host and port of the endpoint's base URL.
pub(crate) fn same_origin(url: &Url, ep: &Endpoint) -> bool {
    Url::parse(&ep.base).is_ok_and(|base| {
        base.scheme() == url.scheme()
            && base.host_str() == url.host_str()
            && base.port_or_known_default() == url.port_or_known_default()
    })
}

/// The first Bearer challenge of a refusal; Basic when only Basic is offered.
fn auth_demand(headers: &HeaderMap) -> AuthDemand {
    let mut basic = false;
    for value in headers.get_all(WWW_AUTHENTICATE) {
        match value.to_str().ok().and_then(parse_challenge) {
            Some(Challenge::Bearer(challenge)) => return AuthDemand::Bearer(challenge),
            Some(Challenge::Basic) => basic = true,
            _ => {}
        }
    }
    if basic {
        AuthDemand::Basic
    } else {
        AuthDemand::Silent
    }
}

pub fn not_allowed(refused: &Refused) -> Error {
    Error::NotAllowed {
        host: refused.host.clone(),
        reason: format!("it resolves to {}", refused.reason.describe()),
    }
}

pub fn transport_error(ep: &Endpoint, e: reqwest::Error) -> Error {
    if let Some(refused) = find_refusal(&e) {
        return not_allowed(refused);
    }
    let registry = ep.host.clone();
    if let Some(problem) = crate::tls::certificate_problem(&e) {
        return Error::CertificateNotTrusted { registry, problem };
    }
    if e.is_timeout() {
        return Error::Timeout { registry };
    }
    let detail = if e.is_connect() {
        let mut chain = String::new();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            chain.push_str(&format!(": {s}"));
            source = s.source();
        }
        tracing::debug!(registry = %ep.host, error = %chain, "cannot connect");
        "cannot connect".to_owned()
    } else if e.is_redirect() {
        "too many redirects".to_owned()
    } else {
        e.without_url().to_string()
    };
    Error::Transport { registry, detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        let wait = parse_retry_after(&later).expect("http date");
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn refusals_name_what_they_demand() {
        let mut h = HeaderMap::new();
        assert_eq!(auth_demand(&h), AuthDemand::Silent);
        h.append(
            WWW_AUTHENTICATE,
            "Basic realm=\"x\"".parse().expect("header"),
        );
        assert_eq!(auth_demand(&h), AuthDemand::Basic);
        h.append(
            WWW_AUTHENTICATE,
            "Bearer realm=\"https://t/token\"".parse().expect("header"),
        );
        assert!(matches!(auth_demand(&h), AuthDemand::Bearer(c) if c.realm == "https://t/token"));
    }

    #[tokio::test]
    async fn the_request_budget_runs_out() {
        let ep = Endpoint::from_base_url("https://registry.example");
        let spent = BUDGET
            .scope(std::cell::Cell::new(2), async {
                (spend(&ep), spend(&ep), spend(&ep))
            })
            .await;
        assert!(spent.0.is_ok() && spent.1.is_ok());
        match spent.2 {
            Err(Error::BudgetExceeded { registry, limit }) => {
                assert_eq!(
                    (registry.as_str(), limit),
                    ("registry.example", LOOKUP_BUDGET)
                );
            }
            other => panic!("{other:?}"),
        }
        // outside a lookup nothing is counted
        assert!(spend(&ep).is_ok());
    }
}
