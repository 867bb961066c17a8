//! What the client knows of a registry before asking it, and the connection it opens early:
//! the auth cache's knowledge ([`crate::auth::AuthCache::knowledge`]: learned, the settings',
//! the built-in table's), completed in the service by the challenge book
//! ([`crate::challenges::ChallengeBook`]) for a registry the process has not met; the
//! challenges learned from 401s, written back to the book; and the warm-up request that opens
//! the registry's connection (TCP, TLS, HTTP/2 by ALPN) while the token is asked for, so that
//! a cold lookup costs max(token path, registry handshake) + one GET.

use std::time::Duration;

use reqwest::Method;

use crate::auth::{BearerChallenge, Knowledge};
use crate::challenges::recordable;
use crate::transport::{AuthDemand, Endpoint, Outcome, Url};

use super::Client;

/// How long after a request to a registry its connection is taken to be still open (hyper
/// keeps an idle connection 90 s): no warm-up request then.
pub(super) const CONNECTION_WARM: Duration = Duration::from_secs(60);

impl Client {
    /// What is known of the registry at `ep`; for one the process knows nothing of, what the
    /// challenge book recorded (asked once per registry in a while).
    pub(super) async fn knowledge(&self, ep: &Endpoint) -> Knowledge {
        let auth = &self.inner.auth;
        let known = auth.knowledge(&ep.base);
        let Some(book) = &self.inner.book else {
            return known;
        };
        if known != Knowledge::Unknown || auth.book_asked(&ep.base) {
            return known;
        }
        match book.recall(&ep.base).await {
            Some(challenge) if recordable(&challenge) => {
                tracing::debug!(registry = %ep.host, "challenge from the book");
                auth.remember_challenge(&ep.base, &challenge, false);
                auth.knowledge(&ep.base)
            }
            _ => known,
        }
    }

    /// Remembers the challenge the registry at `ep` answered with and, when it is news and
    /// the client has a book, records it there (in the background: a lookup does not wait for
    /// the book).
    pub(super) fn learn(&self, ep: &Endpoint, challenge: &BearerChallenge) {
        let news = self
            .inner
            .auth
            .remember_challenge(&ep.base, challenge, true);
        let Some(book) = &self.inner.book else {
            return;
        };
        if !news || !recordable(challenge) {
            return;
        }
        let (book, base, challenge) = (book.clone(), ep.base.clone(), challenge.clone());
        tokio::spawn(async move { book.record(&base, &challenge).await });
    }

    /// Notes that a request to `ep` was just answered: its connection is open.
    pub(super) fn used(&self, ep: &Endpoint) {
        self.inner.recent.insert(ep.base.clone(), ());
    }

    /// Opens the registry's connection while the token for `challenge` is asked for: a
    /// `GET /v2/` (the API's version check, answered at once by every registry), unless the
    /// registry was asked something within [`CONNECTION_WARM`] or the token realm is on the
    /// registry's own host (the token request opens that connection). A challenge it answers
    /// with is learned. Failures are the lookup's own request's to report: ignored here.
    pub(super) async fn warm_up(&self, ep: &Endpoint, challenge: &BearerChallenge) {
        if self.inner.recent.contains_key(&ep.base) || same_host(&ep.base, &challenge.realm) {
            return;
        }
        self.used(ep);
        let Ok(url) = Url::parse(&format!("{}/v2/", ep.base)) else {
            return;
        };
        let transport = &self.inner.transport;
        let Ok(request) = transport.request(Method::GET, &url) else {
            return;
        };
        let Ok(response) = transport.send(ep, request).await else {
            return;
        };
        match transport.classify(ep, response).await {
            Outcome::Unauthorized(AuthDemand::Bearer(answered))
                if !answered.same_grant(challenge) =>
            {
                self.learn(ep, &answered);
            }
            Outcome::Success(response) => crate::transport::drain(response).await,
            _ => {}
        }
    }
}

/// Whether two URLs have the same scheme, host and port.
fn same_host(a: &str, b: &str) -> bool {
    match (Url::parse(a), Url::parse(b)) {
        (Ok(a), Ok(b)) => {
            a.scheme() == b.scheme()
                && a.host_str() == b.host_str()
                && a.port_or_known_default() == b.port_or_known_default()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realms_on_the_registry_itself() {
        assert!(same_host("https://gcr.io", "https://gcr.io/v2/token"));
        assert!(same_host("https://gcr.io", "https://GCR.io:443/v2/token"));
        assert!(!same_host(
            "https://ghcr.io",
            "https://auth.docker.io/token"
        ));
        assert!(!same_host("http://r.example", "https://r.example/token"));
        assert!(!same_host(
            "https://r.example:5000",
            "https://r.example/token"
        ));
        assert!(!same_host("https://r.example", "not a url"));
    }
}
