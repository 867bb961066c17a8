//! Registry authentication: `WWW-Authenticate` challenges, token responses, and one bounded
//! cache of challenges (per registry) and tokens (per registry and repository). The token
//! request itself is the client's (it needs the transport and the operator's credentials).

use std::fmt;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::error::TokenProblem;

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
pub fn parse_token_response(body: &[u8]) -> Result<(Token, Duration), TokenProblem> {
    let raw: RawTokenResponse =
        serde_json::from_slice(body).map_err(|e| TokenProblem::NotJson(e.to_string()))?;
    let secret = raw
        .token
        .filter(|t| !t.is_empty())
        .or(raw.access_token.filter(|t| !t.is_empty()))
        .ok_or(TokenProblem::NoToken)?;
    let lifetime = raw
        .expires_in
        .filter(|s| *s > 0)
        .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs);
    Ok((Token(secret), lifetime))
}

/// What the auth cache holds: a registry's challenge, or a token for one repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum AuthKey {
    Challenge { base: String },
    Token { base: String, repository: String },
}

#[derive(Debug, Clone)]
enum AuthEntry {
    Challenge(BearerChallenge),
    Token { token: Token, expires: Instant },
}

/// Tokens leave the cache when they expire; challenges when the cache is full.
struct TokenExpiry;

impl moka::Expiry<AuthKey, AuthEntry> for TokenExpiry {
    fn expire_after_create(
        &self,
        _: &AuthKey,
        entry: &AuthEntry,
        now: Instant,
    ) -> Option<Duration> {
        match entry {
            AuthEntry::Token { expires, .. } => Some(expires.saturating_duration_since(now)),
            AuthEntry::Challenge(_) => None,
        }
    }

    fn expire_after_update(
        &self,
        key: &AuthKey,
        entry: &AuthEntry,
        now: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        self.expire_after_create(key, entry, now)
    }
}

/// Bearer challenges per registry (so a second repository skips the probe) and tokens per
/// registry and repository (until shortly before they expire), in one bounded cache.
/// Docker Hub's challenge is known in advance and never evicted.
pub struct AuthCache {
    entries: moka::sync::Cache<AuthKey, AuthEntry>,
    known: Option<(String, BearerChallenge)>,
}

impl fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // tokens show as `Token(<redacted>)`
        let entries: Vec<(AuthKey, AuthEntry)> = self
            .entries
            .iter()
            .map(|(key, entry)| ((*key).clone(), entry))
            .collect();
        f.debug_struct("AuthCache")
            .field("entries", &entries)
            .field("known", &self.known.as_ref().map(|(base, _)| base))
            .finish()
    }
}

impl AuthCache {
    /// A cache of at most `capacity` entries; `known` is a registry base URL whose challenge
    /// is known without asking (Docker Hub's).
    pub fn new(capacity: usize, known: Option<(String, BearerChallenge)>) -> AuthCache {
        AuthCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity.max(1) as u64)
                .expire_after(TokenExpiry)
                .build(),
            known,
        }
    }

    pub fn challenge(&self, base: &str) -> Option<BearerChallenge> {
        if let Some((known, challenge)) = &self.known
            && known == base
        {
            return Some(challenge.clone());
        }
        match self.entries.get(&AuthKey::Challenge {
            base: base.to_owned(),
        }) {
            Some(AuthEntry::Challenge(challenge)) => Some(challenge),
            _ => None,
        }
    }

    pub fn remember_challenge(&self, base: &str, challenge: &BearerChallenge) {
        self.entries.insert(
            AuthKey::Challenge {
                base: base.to_owned(),
            },
            AuthEntry::Challenge(challenge.clone()),
        );
    }

    pub fn token(&self, base: &str, repository: &str, now: Instant) -> Option<Token> {
        match self.entries.get(&token_key(base, repository)) {
            Some(AuthEntry::Token { token, expires }) if expires > now => Some(token),
            _ => None,
        }
    }

    pub fn insert_token(
        &self,
        base: &str,
        repository: &str,
        token: Token,
        lifetime: Duration,
        now: Instant,
    ) {
        let expires = now
            + lifetime
                .saturating_sub(EXPIRY_MARGIN)
                .max(Duration::from_secs(1));
        self.entries.insert(
            token_key(base, repository),
            AuthEntry::Token { token, expires },
        );
    }

    pub fn forget_token(&self, base: &str, repository: &str) {
        self.entries.invalidate(&token_key(base, repository));
    }

    #[cfg(test)]
    fn len(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }
}

fn token_key(base: &str, repository: &str) -> AuthKey {
    AuthKey::Token {
        base: base.to_owned(),
        repository: repository.to_owned(),
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
        assert_eq!(
            parse_token_response(br#"{"expires_in":1}"#),
            Err(TokenProblem::NoToken)
        );
        assert!(matches!(
            parse_token_response(b"<html>"),
            Err(TokenProblem::NotJson(_))
        ));
    }

    #[test]
    fn token_debug_is_redacted() {
        let t = Token::new("supersecret".into());
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
    }

    #[test]
    fn cache_expires_and_stays_bounded() {
        let hub = BearerChallenge {
            realm: "https://auth/token".into(),
            service: None,
            scope: None,
        };
        let cache = AuthCache::new(2, Some(("https://hub".into(), hub.clone())));
        let now = Instant::now();
        let life = Duration::from_secs(60);
        cache.insert_token("r", "a", Token::new("1".into()), life, now);
        assert_eq!(cache.token("r", "a", now).map(|t| t.0), Some("1".into()));
        assert_eq!(cache.token("r", "b", now), None);
        // expired after lifetime minus the margin
        assert_eq!(cache.token("r", "a", now + Duration::from_secs(56)), None);
        cache.insert_token("r", "b", Token::new("2".into()), life, now);
        cache.insert_token("r", "c", Token::new("3".into()), life, now);
        let other = BearerChallenge {
            realm: "https://other/token".into(),
            ..hub.clone()
        };
        cache.remember_challenge("https://other", &other);
        assert!(cache.len() <= 2);
        cache.forget_token("r", "c");
        assert_eq!(cache.token("r", "c", now), None);
        // the known challenge is not an entry: it survives any eviction
        assert_eq!(cache.challenge("https://hub"), Some(hub));
        assert_eq!(cache.challenge("https://nowhere"), None);
    }
}
