//! A user's own registry logins, for the command line only (README "Command line",
//! SECURITY.md "Credentials"): the service never sets [`ClientConfig::logins`], so nothing
//! here runs in it. The client asks a [`LoginSource`] (the CLI's reader of docker's and
//! podman's files and credential helpers) for a registry's login once per process, off the
//! async runtime, and only when a registry asks for authentication.
//!
//! Where a login may go ([`Logins::may_receive`]): the registry it was stored for (only that
//! host: a `docker.io` login goes to Docker Hub itself, never to a mirror or the fallback) and
//! the token realm that registry's challenge names, each only over HTTPS or to a host listed
//! in `MQUERY_INSECURE_REGISTRIES`. Redirects never carry it: reqwest drops `Authorization`
//! when a redirect changes host, port or scheme (reqwest `src/redirect.rs`,
//! `remove_sensitive_headers`), and the transport refuses redirects to URLs with userinfo.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use reqwest::Url;
use tokio::sync::OnceCell;

use crate::config::ClientConfig;

/// A password, an identity token: never printed. `Debug` shows `<redacted>`; there is no
/// `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret, for an `Authorization` header or a token request's body only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One registry login, as docker's `AuthConfig` holds it (docker/cli
/// `cli/config/types/authconfig.go`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// A username and password (or access token): HTTP Basic, to the registry itself or to its
    /// token realm.
    Basic { username: String, password: Secret },
    /// An OAuth2 refresh token (`identitytoken`, or a credential helper's `<token>` user):
    /// exchanged at the token realm (distribution `internal/client/auth/session.go`,
    /// `fetchTokenWithOAuth`).
    IdentityToken(Secret),
}

/// Why a login could not be read: a sentence naming the source (a file, a credential helper)
/// and never its content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LoginError(pub String);

/// Where the client gets a registry's login. `login` may block (it runs credential helpers) and
/// must bound its own time; the client calls it on the blocking pool, once per registry.
pub trait LoginSource: fmt::Debug + Send + Sync {
    /// The login for `registry`, a reference's domain (`docker.io`, `ghcr.io`,
    /// `127.0.0.1:5000`); `None` when there is none.
    fn login(&self, registry: &str) -> Result<Option<Login>, LoginError>;
}

type Resolved = Result<Option<Arc<Login>>, LoginError>;

/// The client's view of a [`LoginSource`]: each registry's login resolved once, and which
/// registries asked for Basic auth.
#[derive(Debug)]
pub struct Logins {
    source: Arc<dyn LoginSource>,
    resolved: Mutex<HashMap<String, Arc<OnceCell<Resolved>>>>,
    /// Registry base URLs that answered with a Basic challenge: later requests send the login
    /// at once.
    basic: Mutex<HashSet<String>>,
    /// `host[:port]` entries that may receive a login over plain HTTP.
    insecure: Vec<String>,
}

impl Logins {
    pub fn from_config(config: &ClientConfig) -> Option<Logins> {
        let source = config.logins.clone()?;
        Some(Logins {
            source,
            resolved: Mutex::new(HashMap::new()),
            basic: Mutex::new(HashSet::new()),
            insecure: config.insecure_registries.clone(),
        })
    }

    /// The login for `registry`, read once per process (later callers wait for the first).
    pub async fn login(&self, registry: &str) -> Resolved {
        let cell = {
            let mut resolved = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(resolved.entry(registry.to_owned()).or_default())
        };
        cell.get_or_init(|| {
            let source = Arc::clone(&self.source);
            let registry = registry.to_owned();
            async move {
                tokio::task::spawn_blocking(move || source.login(&registry))
                    .await
                    .unwrap_or_else(|e| Err(LoginError(format!("reading the login failed: {e}"))))
                    .map(|login| login.map(Arc::new))
            }
        })
        .await
        .clone()
    }

    /// Whether a login may be sent to `url`: over HTTPS, or to a host listed as insecure.
    pub fn may_receive(&self, url: &Url) -> bool {
        if url.scheme() == "https" {
            return true;
        }
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        url.scheme() == "http" && self.insecure.iter().any(|h| h.eq_ignore_ascii_case(&host))
    }

    pub fn remember_basic(&self, base: &str) {
        self.basic
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(base.to_owned());
    }

    pub fn wants_basic(&self, base: &str) -> bool {
        self.basic
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Counting(std::sync::atomic::AtomicUsize);

    impl LoginSource for Counting {
        fn login(&self, registry: &str) -> Result<Option<Login>, LoginError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok((registry == "r.io").then(|| Login::Basic {
                username: "me".into(),
                password: Secret::new("hunter2"),
            }))
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let login = Login::Basic {
            username: "me".into(),
            password: Secret::new("hunter2"),
        };
        let shown = format!("{login:?} {:?}", Login::IdentityToken(Secret::new("tok3n")));
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok3n"),
            "{shown}"
        );
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[tokio::test]
    async fn each_registry_is_read_once_and_logins_go_over_https_only() {
        let source = Arc::new(Counting(Default::default()));
        let config = ClientConfig {
            logins: Some(source.clone()),
            insecure_registries: vec!["127.0.0.1:5000".into()],
            ..ClientConfig::default()
        };
        let logins = Logins::from_config(&config).expect("logins");
        for _ in 0..3 {
            assert!(logins.login("r.io").await.expect("ok").is_some());
            assert!(logins.login("other.io").await.expect("ok").is_none());
        }
        assert_eq!(source.0.load(std::sync::atomic::Ordering::SeqCst), 2);
        let url = |u: &str| Url::parse(u).expect("url");
        assert!(logins.may_receive(&url("https://auth.r.io/token")));
        assert!(logins.may_receive(&url("http://127.0.0.1:5000/token")));
        assert!(!logins.may_receive(&url("http://127.0.0.1:5001/token")));
        assert!(!logins.may_receive(&url("http://auth.r.io/token")));
        assert!(Logins::from_config(&ClientConfig::default()).is_none());
    }
}
