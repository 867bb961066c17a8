//! What the client knows of a registry before asking it, and the connection it opens early:
//! the auth cache's knowledge ([`crate::auth::AuthCache::knowledge`]: learned, the settings',
//! the built-in table's), completed in the service by the challenge book
//! ([`crate::challenges::ChallengeBook`]) for a registry the process has not met, asked while
//! the registry's connection opens; the
//! challenges learned from 401s, written back to the book; and the warm-up request that opens
//! the registry's connection (TCP, TLS, HTTP/2 by ALPN) while the token is asked for, so that
//! a cold lookup costs max(token path, registry handshake) + one GET.

use std::time::Duration;

use reqwest::Method;

use crate::auth::{BearerChallenge, Knowledge, Token};
use crate::challenges::recordable;
use crate::error::Error;
use crate::transport::{AuthDemand, Endpoint, Outcome, Repository, Url};

use super::Client;

/// How long after a request to a registry its connection is taken to be still open (hyper
/// keeps an idle connection 90 s): no warm-up request then.
pub(super) const CONNECTION_WARM: Duration = Duration::from_secs(60);

impl Client {
    /// For a registry this process knows nothing of, in the service (with a challenge book,
    /// asked once per registry in a while): whether to ask the book.
    pub(super) fn may_ask_book(&self, ep: &Endpoint) -> bool {
        self.inner.book.is_some() && bookable(&ep.base) && !self.inner.auth.book_asked(&ep.base)
    }

    /// Whether the registry itself answered with `challenge` (a 401, or `/v2/` while its
    /// token was asked for).
    pub(super) fn confirmed(&self, ep: &Endpoint, challenge: &BearerChallenge) -> bool {
        matches!(
            self.inner.auth.knowledge(&ep.base),
            Knowledge::Bearer { challenge: known, verified: true, .. } if known.same_grant(challenge)
        )
    }

    /// The token of a registry this process knows nothing of, asking the book while the
    /// registry's connection opens (`GET /v2/`): a recorded challenge's token is asked for as
    /// soon as the book answers, so the book's latency hides behind the registry's handshake.
    /// When the book has nothing, or its challenge is not the one `/v2/` names, the challenge
    /// of `/v2/` is learned and used. `None`: the registry wants no token (or said nothing
    /// useful): the lookup goes on anonymously. Returns whether the user's login went too.
    pub(super) async fn token_asking_the_book(
        &self,
        repo: &Repository<'_>,
    ) -> Result<Option<(Token, bool)>, Error> {
        let ep = &repo.endpoint;
        let Some(book) = &self.inner.book else {
            return Ok(None);
        };
        let from_book = async {
            let challenge = book.recall(&ep.base).await.filter(recordable)?;
            tracing::debug!(registry = %ep.host, "challenge from the book");
            self.inner
                .auth
                .remember_challenge(&ep.base, &challenge, false);
            let token = self.fetch_token(repo, &challenge).await;
            Some((challenge, token))
        };
        let (from_book, answered) = tokio::join!(from_book, self.probe(ep));
        match (from_book, answered) {
            (Some((recorded, Ok(token))), answered)
                if answered.as_ref().is_none_or(|a| a.same_grant(&recorded)) =>
            {
                Ok(Some(token))
            }
            (Some((_, Err(e @ Error::Login { .. }))), _) => Err(e),
            // the registry names the book's challenge: its failure is the answer
            (Some((recorded, Err(e))), Some(answered)) if answered.same_grant(&recorded) => Err(e),
            (_, Some(answered)) => self.fetch_token(repo, &answered).await.map(Some),
            (_, None) => Ok(None),
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
        if !news || !recordable(challenge) || !bookable(&ep.base) {
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
        // the same challenge: now confirmed; another: learned for the next lookup
        if let Some(VersionCheck::Bearer(answered)) = self.version_check(ep).await {
            self.learn(ep, &answered);
        }
    }

    /// `GET /v2/` of a registry the client knows nothing of: the challenge it answers with,
    /// learned; `None` when it wants none (remembered as open) or something else.
    pub(super) async fn probe(&self, ep: &Endpoint) -> Option<BearerChallenge> {
        match self.version_check(ep).await? {
            VersionCheck::Bearer(challenge) => {
                self.learn(ep, &challenge);
                Some(challenge)
            }
            VersionCheck::Open => {
                self.inner.auth.remember_open(&ep.base);
                None
            }
            VersionCheck::Other => None,
        }
    }

    /// `GET /v2/` with no credentials: what the registry wants. Opens (and notes) its
    /// connection; `None` when it could not be asked.
    async fn version_check(&self, ep: &Endpoint) -> Option<VersionCheck> {
        self.used(ep);
        let url = Url::parse(&format!("{}/v2/", ep.base)).ok()?;
        let transport = &self.inner.transport;
        let request = transport.request(Method::GET, &url).ok()?;
        let response = transport.send(ep, request).await.ok()?;
        Some(match transport.classify(ep, response).await {
            Outcome::Unauthorized(AuthDemand::Bearer(challenge)) => VersionCheck::Bearer(challenge),
            Outcome::Success(response) => {
                crate::transport::drain(response).await;
                VersionCheck::Open
            }
            _ => VersionCheck::Other,
        })
    }
}

/// What a registry's `GET /v2/` answered.
#[derive(Debug)]
enum VersionCheck {
    /// 401 with a Bearer challenge.
    Bearer(BearerChallenge),
    /// 200: the API answers without credentials.
    Open,
    /// Anything else (Basic auth, an error).
    Other,
}

/// Whether the registry at `base` may have an item in the book: not when its URL carries
/// credentials (an operator's mirror given as `https://user:pass@host`), which the table must
/// never hold.
fn bookable(base: &str) -> bool {
    Url::parse(base).is_ok_and(|url| url.username().is_empty() && url.password().is_none())
}

/// Whether the URL `a` (a registry's base) and the URL `b` (a realm) have one origin: the
/// transport's rule for whose challenge counts ([`crate::transport::same_origin`]).
fn same_host(a: &str, b: &str) -> bool {
    Url::parse(b).is_ok_and(|b| crate::transport::same_origin(&b, &Endpoint::from_base_url(a)))
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

    #[test]
    fn no_book_item_for_a_url_with_credentials() {
        assert!(bookable("https://mirror.example"));
        assert!(!bookable("https://user:pass@mirror.example"));
        assert!(!bookable("https://user@mirror.example"));
    }
}
