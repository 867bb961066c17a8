//! A token server of our own for distribution's `auth: token` mode.
//!
//! distribution 2.8 verifies RS256/ES256 JWTs whose header carries an `x5c` chain ending in a
//! certificate of its `rootcertbundle`, with `iss`, `aud` (the service, as a string), `exp`,
//! `nbf` and an `access` list. This server signs such tokens with a fresh P-256 key.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

use crate::bind_loopback;
use crate::tls::{TestCa, serve_tls};

/// How the token response is written: registries differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStyle {
    /// `{"token": ..., "expires_in": 300}` (distribution's reference server)
    Token,
    /// `{"access_token": ...}` without `expires_in` (OAuth style; lifetime defaults to 60 s)
    AccessTokenOnly,
}

#[derive(Debug)]
struct Shared {
    key: EcdsaKeyPair,
    cert_der: Vec<u8>,
    service: String,
    issuer: String,
    style: Mutex<TokenStyle>,
    /// Repositories whose tokens carry no access: what Docker Hub does for private or missing
    /// repositories.
    denied: Mutex<HashSet<String>>,
    requests: AtomicUsize,
    scopes: Mutex<Vec<String>>,
    /// The `Authorization` header of every token request, in order.
    authorizations: Mutex<Vec<Option<String>>>,
    /// Who may have a token: Docker Hub's token service with an account.
    accounts: Mutex<Accounts>,
}

/// Which token requests are answered, by their Basic credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Accounts {
    /// Anyone, with or without credentials (the default).
    #[default]
    Anyone,
    /// Only requests carrying exactly these credentials.
    Only { username: String, password: String },
    /// Anonymous requests and these credentials; other credentials are refused with 401.
    AnonymousOr { username: String, password: String },
    /// Only OAuth2 `refresh_token` grants POSTed with this refresh token (an identity token).
    RefreshToken(String),
}

/// A running token server on 127.0.0.1, over plain HTTP or TLS.
#[derive(Debug, Clone)]
pub struct TokenServer {
    addr: SocketAddr,
    cert_pem: String,
    shared: Arc<Shared>,
    /// With TLS: its test CA's files (kept alive with the server).
    tls: Option<Arc<(TestCa, tempfile::TempDir)>>,
    /// TCP connections accepted (TLS only).
    connections: Arc<AtomicUsize>,
    /// Where clients are told to reach it ([`TokenServer::via`]), if not its own address.
    public: Option<String>,
}

impl TokenServer {
    /// A token server over plain HTTP.
    pub async fn start() -> TokenServer {
        TokenServer::start_with(false).await
    }

    /// A token server over TLS (HTTP/2 or HTTP/1.1 by ALPN) with a certificate of a fresh test
    /// CA ([`TokenServer::ca_file`]), as the public registries' token services are.
    pub async fn start_tls() -> TokenServer {
        TokenServer::start_with(true).await
    }

    async fn start_with(tls: bool) -> TokenServer {
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .expect("generate a P-256 key");
        let params = rcgen::CertificateParams::new(vec!["mquery-test-token-issuer".to_owned()])
            .expect("certificate parameters");
        let cert = params
            .self_signed(&key_pair)
            .expect("self-signed certificate");
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &key_pair.serialize_der())
                .expect("the generated key is PKCS#8");
        let shared = Arc::new(Shared {
            key,
            cert_der: cert.der().to_vec(),
            service: "mquery-test-registry".to_owned(),
            issuer: "mquery-test-issuer".to_owned(),
            style: Mutex::new(TokenStyle::Token),
            denied: Mutex::new(HashSet::new()),
            requests: AtomicUsize::new(0),
            scopes: Mutex::new(Vec::new()),
            authorizations: Mutex::new(Vec::new()),
            accounts: Mutex::new(Accounts::Anyone),
        });
        let (listener, addr) = bind_loopback().await;
        let app = Router::new()
            .route("/token", get(issue).post(refresh))
            .with_state(Arc::clone(&shared));
        let connections = Arc::new(AtomicUsize::new(0));
        let tls = if tls {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let ca = TestCa::issue(dir.path()).expect("a test CA");
            let config = ca.server_config().expect("a TLS server configuration");
            serve_tls(listener, config, app, Arc::clone(&connections));
            Some(Arc::new((ca, dir)))
        } else {
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            None
        };
        TokenServer {
            addr,
            cert_pem: cert.pem(),
            shared,
            tls,
            connections,
            public: None,
        }
    }

    /// The same server, with its realm naming `host` (`127.0.0.1:PORT`, a proxy in front of
    /// it) instead of its own address.
    pub fn via(&self, host: String) -> TokenServer {
        TokenServer {
            public: Some(host),
            ..self.clone()
        }
    }

    /// With TLS: the test CA that issued the server's certificate (PEM), for the client's
    /// trusted roots.
    pub fn ca_file(&self) -> &std::path::Path {
        &self
            .tls
            .as_ref()
            .expect("ca_file is only for a token server started with start_tls")
            .0
            .ca
    }

    /// With TLS: the TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// `127.0.0.1:PORT`, to list among the insecure registries (the SSRF guard refuses
    /// unlisted loopback addresses).
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn realm(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        match &self.public {
            Some(host) => format!("{scheme}://{host}/token"),
            None => format!("{scheme}://{}/token", self.addr),
        }
    }

    pub fn service(&self) -> &str {
        &self.shared.service
    }

    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    pub fn certificate_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn set_style(&self, style: TokenStyle) {
        *self.shared.style.lock().expect("style lock") = style;
    }

    pub fn deny(&self, repository: &str) {
        self.shared
            .denied
            .lock()
            .expect("denied lock")
            .insert(repository.to_owned());
    }

    pub fn set_accounts(&self, accounts: Accounts) {
        *self.shared.accounts.lock().expect("accounts lock") = accounts;
    }

    /// The `Authorization` header of every token request so far.
    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.shared
            .authorizations
            .lock()
            .expect("authorizations lock")
            .clone()
    }

    /// How many tokens were asked for.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// The scopes asked for, in order.
    pub fn scopes(&self) -> Vec<String> {
        self.shared.scopes.lock().expect("scopes lock").clone()
    }

    /// A token for `repository:NAME:pull,push`, for the fixtures' pushes.
    pub fn push_token(&self, repository: &str) -> String {
        sign(
            &self.shared,
            &[(repository.to_owned(), vec!["pull".into(), "push".into()])],
        )
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn sign(shared: &Shared, access: &[(String, Vec<String>)]) -> String {
    let header = json!({"typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(&shared.cert_der)]});
    let now = now();
    let access: Vec<serde_json::Value> = access
        .iter()
        .map(|(name, actions)| json!({"type": "repository", "name": name, "actions": actions}))
        .collect();
    let claims = json!({
        "iss": shared.issuer,
        "sub": "",
        "aud": shared.service,
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": format!("{now}-{}", shared.requests.load(Ordering::SeqCst)),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = shared
        .key
        .sign(&SystemRandom::new(), signing_input.as_bytes())
        .expect("ECDSA signing");
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    )
}

async fn issue(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    shared
        .authorizations
        .lock()
        .expect("authorizations lock")
        .push(authorization.clone());
    let basic = |username: &str, password: &str| {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{username}:{password}"))
        )
    };
    let allowed = match &*shared.accounts.lock().expect("accounts lock") {
        Accounts::Anyone => true,
        Accounts::Only { username, password } => {
            authorization.as_deref() == Some(basic(username, password).as_str())
        }
        Accounts::AnonymousOr { username, password } => {
            authorization.is_none()
                || authorization.as_deref() == Some(basic(username, password).as_str())
        }
        Accounts::RefreshToken(_) => false,
    };
    if !allowed {
        return (StatusCode::UNAUTHORIZED, "bad credentials").into_response();
    }
    grant(&shared, &query.unwrap_or_default())
}

/// An OAuth2 token request (distribution's token spec, "OAuth2"): a form with `grant_type`
/// `refresh_token`, the refresh token, `service` and `scope`.
async fn refresh(State(shared): State<Arc<Shared>>, form: String) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let pairs = url_pairs(&form);
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let granted = match &*shared.accounts.lock().expect("accounts lock") {
        Accounts::RefreshToken(token) => {
            field("grant_type") == Some("refresh_token")
                && field("refresh_token") == Some(token.as_str())
        }
        _ => false,
    };
    if !granted {
        return (StatusCode::UNAUTHORIZED, "bad refresh token").into_response();
    }
    grant(&shared, &form)
}

/// A token for the `scope`s of `query` (a query string or a form), if its `service` is ours.
fn grant(shared: &Shared, query: &str) -> Response {
    let mut service_ok = false;
    let mut access = Vec::new();
    for (key, value) in url_pairs(query) {
        match key.as_str() {
            "service" => service_ok = value == shared.service,
            "scope" => {
                shared
                    .scopes
                    .lock()
                    .expect("scopes lock")
                    .push(value.clone());
                let mut parts = value.splitn(3, ':');
                if let (Some("repository"), Some(name), Some(actions)) =
                    (parts.next(), parts.next(), parts.next())
                {
                    let denied = shared.denied.lock().expect("denied lock").contains(name);
                    let actions = if denied {
                        Vec::new()
                    } else {
                        actions.split(',').map(str::to_owned).collect()
                    };
                    access.push((name.to_owned(), actions));
                }
            }
            _ => {}
        }
    }
    if !service_ok {
        return (StatusCode::BAD_REQUEST, "unknown service").into_response();
    }
    let token = sign(shared, &access);
    let style = *shared.style.lock().expect("style lock");
    let body = match style {
        TokenStyle::Token => json!({"token": token, "expires_in": 300}),
        TokenStyle::AccessTokenOnly => json!({"access_token": token}),
    };
    axum::Json(body).into_response()
}

/// Decodes `application/x-www-form-urlencoded` pairs.
fn url_pairs(query: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{query}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}
