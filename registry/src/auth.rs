//! Anonymous registry authentication: `WWW-Authenticate` challenges, token responses and a
//! bounded token cache keyed by registry and repository.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// Registries that omit `expires_in` mean 60 seconds (distribution's token spec).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// A token is dropped this long before it expires, so it does not expire in flight.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5);

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Bearer(BearerChallenge),
    /// Basic auth: the repository is private, anonymous access is impossible.
    Basic,
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerChallenge {
    pub realm: String,
    pub service: Option<String>,
    pub scope: Option<String>,
}

/// Parses one `WWW-Authenticate` header value. `None` when it is not a challenge at all.
pub fn parse_challenge(value: &str) -> Option<Challenge> {
    let value = value.trim();
    let (scheme, params) = match value.find(char::is_whitespace) {
        Some(i) => (&value[..i], &value[i..]),
        None => (value, ""),
    };
    if scheme.is_empty() {
        return None;
    }
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => {
            let params = parse_params(params);
            let get = |key: &str| {
                params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v.clone())
            };
            let realm = get("realm").filter(|r| !r.is_empty())?;
            Some(Challenge::Bearer(BearerChallenge {
                realm,
                service: get("service"),
                scope: get("scope"),
            }))
        }
        other => Some(Challenge::Other(other.to_owned())),
    }
}

/// `key=value` pairs separated by commas; values are tokens or quoted strings with `\` escapes.
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && *c != ',') {
            key.push(c);
        }
        if key.is_empty() && chars.peek().is_none() {
            return out;
        }
        if chars.next_if_eq(&'=').is_none() {
            // a bare token without value: skip it
            if chars.peek().is_none() {
                return out;
            }
            continue;
        }
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(escaped) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                value.push(c);
            }
            value = value.trim().to_owned();
        }
        out.push((key.trim().to_owned(), value));
    }
}

/// A bearer token. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(secret: String) -> Token {
        Token(secret)
    }

    /// The secret, for the `Authorization` header only.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

#[derive(Deserialize)]
struct RawTokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Reads a token response: `token` or `access_token` (either may be sent), and `expires_in`
/// defaulting to 60 seconds.
pub fn parse_token_response(body: &[u8]) -> Result<(Token, Duration), String> {
    let raw: RawTokenResponse =
        serde_json::from_slice(body).map_err(|e| format!("token response is not JSON: {e}"))?;
    let secret = raw
        .token
        .filter(|t| !t.is_empty())
        .or(raw.access_token.filter(|t| !t.is_empty()))
        .ok_or_else(|| "token response has neither token nor access_token".to_owned())?;
    let lifetime = raw
        .expires_in
        .filter(|s| *s > 0)
        .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs);
    Ok((Token(secret), lifetime))
}

/// Tokens per (registry, repository) until shortly before they expire. Bounded: when full,
/// expired tokens are dropped, and if that is not enough the cache starts over.
#[derive(Debug)]
pub struct TokenCache {
    entries: Mutex<HashMap<(String, String), (Token, Instant)>>,
    capacity: usize,
}

impl TokenCache {
    pub fn new(capacity: usize) -> TokenCache {
        TokenCache {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), (Token, Instant)>> {
        // A panic while holding this lock leaves only a map of tokens behind: still usable.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, registry: &str, repository: &str, now: Instant) -> Option<Token> {
        let entries = self.lock();
        entries
            .get(&(registry.to_owned(), repository.to_owned()))
            .filter(|(_, expires)| *expires > now)
            .map(|(token, _)| token.clone())
    }

    pub fn insert(
        &self,
        registry: &str,
        repository: &str,
        token: Token,
        lifetime: Duration,
        now: Instant,
    ) {
        let expires = now
            + lifetime
                .saturating_sub(EXPIRY_MARGIN)
                .max(Duration::from_secs(1));
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.retain(|_, (_, e)| *e > now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(
            (registry.to_owned(), repository.to_owned()),
            (token, expires),
        );
    }

    pub fn remove(&self, registry: &str, repository: &str) {
        self.lock()
            .remove(&(registry.to_owned(), repository.to_owned()));
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_challenge() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer(BearerChallenge {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/alpine:pull".into()),
            }))
        );
    }

    #[test]
    fn challenge_variants() {
        assert_eq!(
            parse_challenge(r#"bearer REALM=https://x/t , service = "a \"q\" b""#),
            Some(Challenge::Bearer(BearerChallenge {
                realm: "https://x/t".into(),
                service: Some("a \"q\" b".into()),
                scope: None,
            }))
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="registry""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge("Negotiate"),
            Some(Challenge::Other("negotiate".into()))
        );
        // a Bearer challenge without realm cannot be followed
        assert_eq!(parse_challenge(r#"Bearer service="x""#), None);
        assert_eq!(parse_challenge("   "), None);
        assert_eq!(
            parse_challenge(r#"Bearer realm="unterminated"#),
            Some(Challenge::Bearer(BearerChallenge {
                realm: "unterminated".into(),
                service: None,
                scope: None,
            }))
        );
    }

    #[test]
    fn token_response_forms() {
        let (t, life) = parse_token_response(br#"{"token":"abc","expires_in":300}"#).expect("ok");
        assert_eq!((t.secret(), life), ("abc", Duration::from_secs(300)));
        let (t, life) = parse_token_response(br#"{"access_token":"xyz"}"#).expect("ok");
        assert_eq!((t.secret(), life), ("xyz", DEFAULT_TOKEN_LIFETIME));
        let (t, _) = parse_token_response(br#"{"token":"","access_token":"xyz","expires_in":0}"#)
            .expect("ok");
        assert_eq!(t.secret(), "xyz");
        assert!(parse_token_response(br#"{"expires_in":1}"#).is_err());
        assert!(parse_token_response(b"<html>").is_err());
    }

    #[test]
    fn token_debug_is_redacted() {
        let t = Token::new("supersecret".into());
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
    }

    #[test]
    fn cache_expires_and_stays_bounded() {
        let cache = TokenCache::new(2);
        let now = Instant::now();
        cache.insert(
            "r",
            "a",
            Token::new("1".into()),
            Duration::from_secs(60),
            now,
        );
        assert_eq!(cache.get("r", "a", now).map(|t| t.0), Some("1".into()));
        assert_eq!(cache.get("r", "b", now), None);
        // expired after lifetime minus the margin
        assert_eq!(cache.get("r", "a", now + Duration::from_secs(56)), None);
        cache.insert(
            "r",
            "b",
            Token::new("2".into()),
            Duration::from_secs(60),
            now,
        );
        cache.insert(
            "r",
            "c",
            Token::new("3".into()),
            Duration::from_secs(60),
            now,
        );
        assert!(cache.len() <= 2);
        assert_eq!(cache.get("r", "c", now).map(|t| t.0), Some("3".into()));
        cache.remove("r", "c");
        assert_eq!(cache.get("r", "c", now), None);
    }
}
