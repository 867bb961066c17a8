//! Registry authentication: `WWW-Authenticate` challenges, the token request ([`fetch_token`])
//! and its response, the operator's Docker Hub account ([`DockerHubAccount`]: sent to Docker
//! Hub's token service and nowhere else), what a token request carries ([`Presented`]: the
//! command line user's login is one), and one bounded cache of challenges (per registry)
//! and tokens (per registry and repository).

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use crate::challenges::Known;
use crate::config::{ClientConfig, Credentials};
use crate::credentials::{Login, Secret};
use crate::error::{Error, TokenProblem};
use crate::transport::{Endpoint, Outcome, Transport, Url, read_body};

/// Registries that omit `expires_in` mean 60 seconds (distribution's token spec).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// A token is dropped this long before it expires, so it does not expire in flight.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5);
/// The largest token response read.
const MAX_TOKEN_BODY: usize = 64 << 10;

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

impl BearerChallenge {
    /// Whether a token from `other` is a token from this challenge: the same realm and
    /// service (a challenge's `scope` names the repository asked, not the grant).
    pub fn same_grant(&self, other: &BearerChallenge) -> bool {
        self.realm == other.realm && self.service == other.service
    }
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

/// What the auth cache holds per registry (its base URL) and per repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum AuthKey {
    /// The registry's challenge, or that it serves pulls without one.
    Challenge {
        base: String,
    },
    Token {
        base: String,
        repository: String,
    },
    /// A combined token of the registry's did not say what it grants: ask one per repository.
    NoBatch {
        base: String,
    },
    /// The challenge book had nothing for the registry (not asked again for a while).
    NotInBook {
        base: String,
    },
}

#[derive(Debug, Clone)]
enum AuthEntry {
    /// `verified`: the registry itself answered with it (else it came from a book).
    Challenge {
        challenge: BearerChallenge,
        verified: bool,
    },
    /// The registry answered an anonymous request with content: no token needed.
    Open,
    Token {
        token: Token,
        expires: Instant,
    },
    /// A [`AuthKey::NoBatch`] or [`AuthKey::NotInBook`] mark, until it expires.
    Mark {
        expires: Instant,
    },
}

/// What the client knows of a registry's auth before asking it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Knowledge {
    /// Pulls need a token from this challenge.
    Bearer {
        challenge: BearerChallenge,
        /// The registry itself answered with it in this process; otherwise it is the
        /// settings', the built-in table's ([`crate::challenges`]) or a book's, and a failed
        /// token request means asking the registry which is right.
        verified: bool,
        /// Whether one token request may name many repositories ([`Known::Bearer`]).
        batches: bool,
    },
    /// Pulls are served without a token.
    Open,
    /// Nothing: the first request finds out.
    Unknown,
}

/// How long the marks of [`AuthKey::NoBatch`] and [`AuthKey::NotInBook`] last.
const MARK_LIFETIME: Duration = Duration::from_secs(600);

/// Tokens and marks leave the cache when they expire; challenges when the cache is full.
struct TokenExpiry;

impl moka::Expiry<AuthKey, AuthEntry> for TokenExpiry {
    fn expire_after_create(
        &self,
        _: &AuthKey,
        entry: &AuthEntry,
        now: Instant,
    ) -> Option<Duration> {
        match entry {
            AuthEntry::Token { expires, .. } | AuthEntry::Mark { expires } => {
                Some(expires.saturating_duration_since(now))
            }
            AuthEntry::Challenge { .. } | AuthEntry::Open => None,
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

/// Challenges per registry (so a second repository skips the probe) and tokens per
/// registry and repository (until shortly before they expire), in one bounded cache.
/// Docker Hub's challenge is known in advance and never evicted; the built-in table's
/// ([`crate::challenges::builtin`]) is used until the registry says otherwise.
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

    /// What is known of the registry at `base`: what it answered in this process first, then
    /// the settings' Docker Hub challenge, then the built-in table.
    pub fn knowledge(&self, base: &str) -> Knowledge {
        // the table's "one repository per token" holds for what is learned too
        let batches = !self.entries.contains_key(&AuthKey::NoBatch {
            base: base.to_owned(),
        }) && !matches!(
            crate::challenges::builtin(base),
            Some(Known::Bearer { batches: false, .. })
        );
        match self.entries.get(&AuthKey::Challenge {
            base: base.to_owned(),
        }) {
            Some(AuthEntry::Challenge {
                challenge,
                verified,
            }) => {
                return Knowledge::Bearer {
                    challenge,
                    verified,
                    batches,
                };
            }
            Some(AuthEntry::Open) => return Knowledge::Open,
            _ => {}
        }
        if let Some((known, challenge)) = &self.known
            && known == base
        {
            return Knowledge::Bearer {
                challenge: challenge.clone(),
                verified: false,
                batches,
            };
        }
        match crate::challenges::builtin(base) {
            Some(Known::Open) => Knowledge::Open,
            Some(Known::Bearer {
                challenge,
                batches: table,
            }) => Knowledge::Bearer {
                challenge,
                verified: false,
                batches: batches && table,
            },
            None => Knowledge::Unknown,
        }
    }

    /// The challenge to use for the registry at `base`, if any is known.
    pub fn challenge(&self, base: &str) -> Option<BearerChallenge> {
        match self.knowledge(base) {
            Knowledge::Bearer { challenge, .. } => Some(challenge),
            Knowledge::Open | Knowledge::Unknown => None,
        }
    }

    /// Remembers the challenge the registry at `base` answered with (`verified`), or a book
    /// had for it. Returns whether it is news: not what was already known.
    pub fn remember_challenge(
        &self,
        base: &str,
        challenge: &BearerChallenge,
        verified: bool,
    ) -> bool {
        let news = self
            .challenge(base)
            .is_none_or(|known| !known.same_grant(challenge));
        self.entries.insert(
            AuthKey::Challenge {
                base: base.to_owned(),
            },
            AuthEntry::Challenge {
                challenge: challenge.clone(),
                verified,
            },
        );
        news
    }

    /// Remembers that the registry at `base` answered an anonymous request with content,
    /// unless a challenge it answered with is known.
    pub fn remember_open(&self, base: &str) {
        let key = AuthKey::Challenge {
            base: base.to_owned(),
        };
        if !self.entries.contains_key(&key) {
            self.entries.insert(key, AuthEntry::Open);
        }
    }

    /// Remembers that a combined token of the registry at `base` did not say what it grants.
    pub fn stop_batching(&self, base: &str) {
        self.mark(AuthKey::NoBatch {
            base: base.to_owned(),
        });
    }

    /// Whether the challenge book was asked for `base` recently (and had nothing); marks it
    /// asked.
    pub fn book_asked(&self, base: &str) -> bool {
        let key = AuthKey::NotInBook {
            base: base.to_owned(),
        };
        if self.entries.contains_key(&key) {
            return true;
        }
        self.mark(key);
        false
    }

    fn mark(&self, key: AuthKey) {
        self.entries.insert(
            key,
            AuthEntry::Mark {
                expires: Instant::now() + MARK_LIFETIME,
            },
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

/// The operator's Docker Hub account and the one place it may go: Docker Hub's token service,
/// asked for a token for Docker Hub itself. Not to a mirror, not to a realm another registry
/// names.
#[derive(Debug)]
pub struct DockerHubAccount {
    credentials: Credentials,
    /// Docker Hub's base URL.
    registry: String,
    /// Docker Hub's token service.
    realm: String,
}

impl DockerHubAccount {
    /// The account of the settings, if one is set; `docker_hub` is Docker Hub's endpoint.
    pub fn from_config(config: &ClientConfig, docker_hub: &Endpoint) -> Option<DockerHubAccount> {
        let credentials = config.docker_hub_credentials.clone()?;
        Some(DockerHubAccount {
            credentials,
            registry: docker_hub.base.clone(),
            realm: config.docker_hub.realm.clone(),
        })
    }

    /// The credentials to send with a token request for `ep` to the challenge's realm: only
    /// Docker Hub's own, to Docker Hub's own token service.
    pub fn for_request(&self, ep: &Endpoint, challenge: &BearerChallenge) -> Option<&Credentials> {
        (ep.base == self.registry && challenge.realm == self.realm).then_some(&self.credentials)
    }
}

/// What a token request carries.
#[derive(Debug, Clone, Copy)]
pub enum Presented<'a> {
    Anonymous,
    /// The operator's Docker Hub account ([`DockerHubAccount::for_request`]); if Docker Hub
    /// refuses it, the token is asked for anonymously.
    Account(&'a Credentials),
    /// The command line user's login ([`crate::credentials`]): a username and password as
    /// Basic auth, or an identity token exchanged as OAuth2 (distribution
    /// `internal/client/auth/session.go`, `fetchTokenWithOAuth`: a `refresh_token` grant
    /// POSTed with `service`, `scope` and `client_id`). If refused, the lookup is.
    User(&'a Login),
}

/// The longest list of repositories one token request names (its URL stays under 8 KiB).
pub const MAX_SCOPES: usize = 64;

/// A pull token for `repositories` (at least one, at most [`MAX_SCOPES`]) on the registry
/// at `ep`, from the challenge's realm, and its lifetime. The only action ever asked for is
/// `pull`, one `scope` parameter per repository (distribution's token spec allows several).
/// A refusal is [`Error::NotFound`] for the first repository.
pub async fn fetch_token(
    transport: &Transport,
    presented: Presented<'_>,
    ep: &Endpoint,
    repositories: &[&str],
    challenge: &BearerChallenge,
) -> Result<(Token, Duration), Error> {
    let realm_host = Url::parse(&challenge.realm)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let failed = |problem: TokenProblem| Error::TokenServer {
        registry: ep.host.clone(),
        realm_host: realm_host.clone(),
        problem,
    };
    let url = token_url(challenge, repositories)
        .ok_or_else(|| failed(TokenProblem::InvalidRealm(challenge.realm.clone())))?;
    let request = match presented {
        Presented::Anonymous => transport.request(Method::GET, &url)?,
        Presented::Account(credentials) => transport
            .request(Method::GET, &url)?
            .basic_auth(credentials.username(), Some(credentials.token())),
        Presented::User(Login::Basic { username, password }) => transport
            .request(Method::GET, &url)?
            .basic_auth(username, Some(password.expose())),
        Presented::User(Login::IdentityToken(refresh)) => {
            let mut realm = url.clone();
            realm.set_query(None);
            transport
                .credentialed_request(Method::POST, &realm)?
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(refresh_form(&url, refresh))
        }
    };
    let mut response = transport.send(ep, request).await?;
    if matches!(presented, Presented::Account(_))
        && matches!(
            response.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        )
    {
        // refused credentials must not take the service down: go on anonymously
        tracing::error!(registry = %ep.host, status = response.status().as_u16(), "Docker Hub refused the configured credentials; continuing anonymously");
        crate::transport::drain(response).await;
        response = transport
            .send(ep, transport.request(Method::GET, &url)?)
            .await?;
    }
    match transport.classify(ep, response).await {
        Outcome::Success(response) => {
            let body = read_body(ep, response, MAX_TOKEN_BODY, "token response")
                .await
                .map_err(|e| match e {
                    // an oversized token is the token server's failure, not a manifest's
                    Error::TooLarge { limit, .. } => failed(TokenProblem::TooLarge(limit)),
                    other => other,
                })?;
            parse_token_response(&body).map_err(failed)
        }
        Outcome::Unauthorized(_) => Err(Error::NotFound {
            reference: format!(
                "{}/{}",
                ep.host,
                repositories.first().copied().unwrap_or_default()
            ),
        }),
        Outcome::RateLimited(retry_after) => Err(Error::RateLimited {
            registry: ep.host.clone(),
            retry_after,
        }),
        Outcome::NotFound => Err(failed(TokenProblem::Status(404))),
        Outcome::ServerError(status, _) | Outcome::Unexpected(status, _) => {
            Err(failed(TokenProblem::Status(status.as_u16())))
        }
    }
}

/// The repositories a token grants `pull` on, when it says so ([`oci::token_claims`]).
pub fn granted_repositories(token: &Token) -> Option<Vec<String>> {
    oci::token_claims::granted_repositories(token.secret())
}

/// The OAuth2 form exchanging an identity token: the token URL's `service` and `scope`, a
/// `refresh_token` grant and mquery's `client_id`.
fn refresh_form(token_url: &Url, refresh: &Secret) -> String {
    let mut form = Url::parse("http://form.invalid/").expect("a constant URL");
    {
        let mut pairs = form.query_pairs_mut();
        for (key, value) in token_url.query_pairs() {
            pairs.append_pair(&key, &value);
        }
        pairs
            .append_pair("client_id", "mquery")
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", refresh.expose());
    }
    form.query().unwrap_or_default().to_owned()
}

/// The token request's URL: the realm with `service` and a pull `scope` per repository. Userinfo in the
/// realm is dropped (reqwest would send it as Basic auth: credentials named by a URL the
/// registry supplied are never sent anywhere). `None` for a realm that is not http(s).
fn token_url(challenge: &BearerChallenge, repositories: &[&str]) -> Option<Url> {
    let mut url = Url::parse(&challenge.realm).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    if !url.username().is_empty() || url.password().is_some() {
        tracing::debug!("dropping userinfo from the token realm");
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    {
        let mut query = url.query_pairs_mut();
        if let Some(service) = &challenge.service {
            query.append_pair("service", service);
        }
        for repository in repositories {
            query.append_pair("scope", &format!("repository:{repository}:pull"));
        }
    }
    Some(url)
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
        cache.remember_challenge("https://other", &other, true);
        assert!(cache.len() <= 2);
        cache.forget_token("r", "c");
        assert_eq!(cache.token("r", "c", now), None);
        // the known challenge is not an entry: it survives any eviction
        assert_eq!(cache.challenge("https://hub"), Some(hub));
        assert_eq!(cache.challenge("https://nowhere"), None);
    }

    #[test]
    fn token_urls() {
        let challenge = |realm: &str| BearerChallenge {
            realm: realm.into(),
            service: Some("registry.example".into()),
            scope: None,
        };
        let url = token_url(
            &challenge("https://user:pw@auth.example/token"),
            &["org/app"],
        )
        .expect("url");
        assert_eq!(
            url.as_str(),
            "https://auth.example/token?service=registry.example&scope=repository%3Aorg%2Fapp%3Apull"
        );
        assert!(token_url(&challenge("file:///etc/passwd"), &["a"]).is_none());
        // an identity token is exchanged for a pull token of the repository, nothing more
        let form = refresh_form(&url, &Secret::new("r&fresh"));
        assert_eq!(
            form,
            "service=registry.example&scope=repository%3Aorg%2Fapp%3Apull&client_id=mquery\
             &grant_type=refresh_token&refresh_token=r%26fresh"
        );
        assert!(token_url(&challenge("not a url"), &["a"]).is_none());
        // one request for many repositories: a scope each
        let url = token_url(&challenge("https://auth.example/token"), &["a", "b/c"]).expect("url");
        assert_eq!(
            url.query(),
            Some(
                "service=registry.example&scope=repository%3Aa%3Apull&scope=repository%3Ab%2Fc%3Apull"
            )
        );
    }

    #[test]
    fn what_is_known_of_a_registry() {
        let hub = BearerChallenge {
            realm: "https://auth.docker.io/token".into(),
            service: Some("registry.docker.io".into()),
            scope: None,
        };
        let cache = AuthCache::new(
            64,
            Some(("https://registry-1.docker.io".into(), hub.clone())),
        );
        assert!(matches!(
            cache.knowledge("https://registry-1.docker.io"),
            Knowledge::Bearer { verified: false, batches: true, ref challenge } if *challenge == hub
        ));
        // the table: a guess, until the registry answers
        assert!(matches!(
            cache.knowledge("https://ghcr.io"),
            Knowledge::Bearer {
                verified: false,
                batches: false,
                ..
            }
        ));
        assert_eq!(cache.knowledge("https://quay.io"), Knowledge::Open);
        assert_eq!(cache.knowledge("https://r.example"), Knowledge::Unknown);
        // what the registry answered wins over the table, and is news once
        let real = BearerChallenge {
            realm: "https://ghcr.io/token2".into(),
            service: Some("ghcr.io".into()),
            scope: Some("repository:user/image:pull".into()),
        };
        assert!(cache.remember_challenge("https://ghcr.io", &real, true));
        assert!(!cache.remember_challenge(
            "https://ghcr.io",
            &BearerChallenge {
                scope: None,
                ..real.clone()
            },
            true
        ));
        assert!(matches!(
            cache.knowledge("https://ghcr.io"),
            Knowledge::Bearer { verified: true, ref challenge, .. } if challenge.realm == real.realm
        ));
        // open once an anonymous request was answered, unless a challenge is known
        cache.remember_open("https://r.example");
        assert_eq!(cache.knowledge("https://r.example"), Knowledge::Open);
        cache.remember_open("https://ghcr.io");
        assert!(matches!(
            cache.knowledge("https://ghcr.io"),
            Knowledge::Bearer { .. }
        ));
        // an opaque combined token stops batching
        cache.remember_challenge("https://b.example", &real, true);
        cache.stop_batching("https://b.example");
        assert!(matches!(
            cache.knowledge("https://b.example"),
            Knowledge::Bearer { batches: false, .. }
        ));
        // the book is asked once in a while
        assert!(!cache.book_asked("https://c.example"));
        assert!(cache.book_asked("https://c.example"));
    }
}
