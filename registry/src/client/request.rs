//! One registry request: the request loop with anonymous token auth (a cached token, else
//! one from the registry's known challenge, else the challenge of its 401), the operator's
//! Docker Hub account where [`crate::auth::DockerHubAccount`] lets it go, one wait for a short
//! 429 and one retry after a 5xx. Every answer's pull-limit headers go to [`super::quota`].

use std::time::Instant;

use reqwest::header::ACCEPT;
use reqwest::{Method, Response};

use crate::auth::{BearerChallenge, Token};
use crate::error::Error;
use crate::transport::{AuthDemand, Outcome, Repository, Url};

use super::Client;

/// The retries one request may take, each at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// A (new) token after a 401/403.
    Reauthenticate,
    /// Waiting out a short `Retry-After` of a 429.
    RateLimit,
    /// Asking again after a 5xx.
    ServerError,
}

/// Which [`Retry`]s a request has taken.
#[derive(Debug, Default)]
struct Retries(Vec<Retry>);

impl Retries {
    /// Whether `retry` is still available; taking it uses it up.
    fn take(&mut self, retry: Retry) -> bool {
        if self.0.contains(&retry) {
            return false;
        }
        self.0.push(retry);
        true
    }
}

impl Client {
    /// One registry request with auth, the 429 wait and the one 5xx retry. Returns a 2xx
    /// response or the error it stands for.
    pub(super) async fn request(
        &self,
        repo: &Repository<'_>,
        method: Method,
        path: &str,
        accept: Option<&str>,
    ) -> Result<Response, Error> {
        let ep = &repo.endpoint;
        let url = Url::parse(&repo.url(path)).map_err(|_| Error::Transport {
            registry: ep.host.clone(),
            detail: "invalid registry URL".to_owned(),
        })?;
        // refused before anything is sent, a token request included
        self.inner.transport.check(&url)?;
        let auth = &self.inner.auth;
        let mut token = auth.token(&ep.base, repo.name(), Instant::now());
        if token.is_none()
            && let Some(challenge) = auth.challenge(&ep.base)
        {
            token = Some(self.fetch_token(repo, &challenge).await?);
        }
        let mut retries = Retries::default();
        loop {
            let mut request = self.inner.transport.request(method.clone(), &url)?;
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            if let Some(token) = &token {
                request = request.bearer_auth(token.secret());
            }
            let response = self.inner.transport.send(ep, request).await?;
            match self.inner.transport.classify(ep, response).await {
                Outcome::Success(response) => {
                    self.inner.quota.note(ep, response.headers());
                    return Ok(response);
                }
                Outcome::Unauthorized(demand) => {
                    if !retries.take(Retry::Reauthenticate) {
                        // a token was just fetched and still refused: denied, not public
                        return Err(repo.not_found());
                    }
                    let challenge = match demand {
                        AuthDemand::Bearer(challenge) => {
                            auth.remember_challenge(&ep.base, &challenge);
                            challenge
                        }
                        // ghcr.io and ECR Public answer 403 without a challenge to an
                        // expired token: fetch a new one from the challenge we know
                        AuthDemand::Silent if token.is_some() => {
                            auth.challenge(&ep.base).ok_or_else(|| repo.not_found())?
                        }
                        // Basic auth or no challenge: anonymous access is impossible
                        AuthDemand::Silent | AuthDemand::Basic => return Err(repo.not_found()),
                    };
                    auth.forget_token(&ep.base, repo.name());
                    token = Some(self.fetch_token(repo, &challenge).await?);
                }
                Outcome::RateLimited(Some(wait))
                    if wait <= self.inner.config.max_retry_wait
                        && retries.take(Retry::RateLimit) =>
                {
                    tracing::info!(registry = %ep.host, wait_ms = wait.as_millis() as u64, "rate limited; waiting once");
                    tokio::time::sleep(wait).await;
                }
                Outcome::RateLimited(retry_after) => {
                    return Err(Error::RateLimited {
                        registry: ep.host.clone(),
                        retry_after,
                    });
                }
                Outcome::NotFound => return Err(repo.not_found()),
                Outcome::ServerError(status, _) if retries.take(Retry::ServerError) => {
                    tracing::info!(registry = %ep.host, status = status.as_u16(), "server error; retrying once");
                    tokio::time::sleep(self.inner.config.retry_backoff).await;
                }
                Outcome::ServerError(status, codes) | Outcome::Unexpected(status, codes) => {
                    return Err(Error::UnexpectedStatus {
                        registry: ep.host.clone(),
                        status: status.as_u16(),
                        codes,
                    });
                }
            }
        }
    }

    /// A pull token for the repository ([`crate::auth::fetch_token`]), with the operator's
    /// Docker Hub account where it may go.
    async fn fetch_token(
        &self,
        repo: &Repository<'_>,
        challenge: &BearerChallenge,
    ) -> Result<Token, Error> {
        let inner = &self.inner;
        let account = inner.account.as_ref();
        crate::auth::fetch_token(&inner.transport, &inner.auth, account, repo, challenge).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_retry_is_taken_once() {
        let mut retries = Retries::default();
        assert!(retries.take(Retry::ServerError));
        assert!(retries.take(Retry::Reauthenticate));
        assert!(!retries.take(Retry::ServerError));
        assert!(retries.take(Retry::RateLimit));
        assert!(!retries.take(Retry::RateLimit));
        assert!(!retries.take(Retry::Reauthenticate));
    }
}
