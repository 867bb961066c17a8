//! One registry request: the request loop with token auth (a cached token, else one from the
//! registry's known challenge, asked for while the registry's connection opens, else the
//! challenge of its 401), the operator's Docker Hub
//! account where [`crate::auth::DockerHubAccount`] lets it go, the command line user's login
//! where [`crate::credentials`] lets it go (to a token realm, or as Basic auth to a registry
//! that asks for it), one wait for a short 429 and one retry after a 5xx. Every answer's pull-limit headers go to [`super::quota`].

use std::sync::Arc;
use std::time::Instant;

use reqwest::header::ACCEPT;
use reqwest::{Method, Response};

use crate::auth::{BearerChallenge, Knowledge, Presented, Token};
use crate::credentials::Login;
use crate::error::Error;
use crate::reference::DEFAULT_DOMAIN;
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
    /// Asking anonymously after a guessed challenge's token was refused without a challenge.
    Relearn,
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

    /// Makes `retry` available again (once [`Retry::Relearn`] turned the request anonymous:
    /// its 401 may still be followed by a token).
    fn give_back(&mut self, retry: Retry) {
        self.0.retain(|r| *r != retry);
    }
}

/// Whether a token request's failure may mean its challenge was the wrong one: its realm did
/// not answer as a token service, or refused a request that carried no login.
fn wrong_guess(e: &Error) -> bool {
    matches!(
        e,
        Error::TokenServer { .. }
            | Error::Transport { .. }
            | Error::CertificateNotTrusted { .. }
            | Error::NotFound { .. }
    )
}

/// What a request carries.
#[derive(Debug)]
enum Authorization {
    Anonymous,
    Bearer(Token),
    /// The user's login, to a registry that asked for Basic auth.
    Basic(Arc<Login>),
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
        // whether the request carries the user's login (as Basic, or through the token it was
        // exchanged for): only then does a refusal mean "check your login"
        let mut login_sent = false;
        let mut authorization = match auth.token(&ep.base, repo.name(), Instant::now()) {
            Some(token) => Authorization::Bearer(token),
            None => match auth.knowledge(&ep.base) {
                Knowledge::Bearer { challenge, .. } => {
                    // the token is asked for while the registry's connection opens
                    let (token, ()) = tokio::join!(
                        self.fetch_token(repo, &challenge),
                        self.warm_up(ep, &challenge)
                    );
                    match token {
                        Ok((token, sent)) => {
                            login_sent = sent;
                            Authorization::Bearer(token)
                        }
                        // a challenge the registry has not confirmed (the settings', the
                        // table's, a book's) whose realm failed or refused without a login:
                        // ask the registry, whose 401 names the right one. A timeout, a rate
                        // limit or a refused login is the answer, not a wrong guess.
                        Err(e) if wrong_guess(&e) && !self.confirmed(ep, &challenge) => {
                            tracing::info!(registry = %ep.host, error = %e, "the expected token challenge failed; asking the registry");
                            Authorization::Anonymous
                        }
                        Err(e) => return Err(e),
                    }
                }
                Knowledge::Unknown if self.may_ask_book(ep) => {
                    match self.token_asking_the_book(repo).await? {
                        Some((token, sent)) => {
                            login_sent = sent;
                            Authorization::Bearer(token)
                        }
                        None => Authorization::Anonymous,
                    }
                }
                Knowledge::Open | Knowledge::Unknown
                    if self
                        .inner
                        .logins
                        .as_ref()
                        .is_some_and(|l| l.wants_basic(&ep.base)) =>
                {
                    let login = self.basic_login(repo, &url).await?;
                    login_sent = login.is_some();
                    login.map_or(Authorization::Anonymous, Authorization::Basic)
                }
                Knowledge::Open | Knowledge::Unknown => Authorization::Anonymous,
            },
        };
        let mut retries = Retries::default();
        loop {
            let mut request = self.inner.transport.request(method.clone(), &url)?;
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            request = match &authorization {
                Authorization::Bearer(token) => request.bearer_auth(token.secret()),
                Authorization::Basic(login) => match &**login {
                    Login::Basic { username, password } => {
                        request.basic_auth(username, Some(password.expose()))
                    }
                    Login::IdentityToken(_) => request,
                },
                Authorization::Anonymous => request,
            };
            let response = self.inner.transport.send(ep, request).await?;
            self.used(ep);
            match self.inner.transport.classify(ep, response).await {
                Outcome::Success(response) => {
                    self.inner.quota.note(ep, response.headers());
                    if matches!(authorization, Authorization::Anonymous) {
                        auth.remember_open(&ep.base);
                    }
                    return Ok(response);
                }
                Outcome::Unauthorized(demand) => {
                    if !retries.take(Retry::Reauthenticate) {
                        // a token (or login) was just fetched and still refused: denied
                        return Err(self.denied(repo, login_sent));
                    }
                    let challenge = match demand {
                        AuthDemand::Bearer(challenge) => {
                            self.learn(ep, &challenge);
                            challenge
                        }
                        // ghcr.io and ECR Public answer 403 without a challenge to an
                        // expired token: fetch a new one from the challenge we know
                        AuthDemand::Silent if matches!(authorization, Authorization::Bearer(_)) => {
                            match auth.knowledge(&ep.base) {
                                Knowledge::Bearer {
                                    challenge,
                                    verified: true,
                                    ..
                                } => challenge,
                                // a guessed challenge's token refused without a word: ask
                                // anonymously, once, to learn the registry's own
                                Knowledge::Bearer { .. } if retries.take(Retry::Relearn) => {
                                    authorization = Authorization::Anonymous;
                                    retries.give_back(Retry::Reauthenticate);
                                    continue;
                                }
                                _ => return Err(self.denied(repo, login_sent)),
                            }
                        }
                        // Basic auth: the user's login (ECR, a registry with htpasswd), if any
                        AuthDemand::Basic => match self.basic_login(repo, &url).await? {
                            Some(login) => {
                                if let Some(logins) = &self.inner.logins {
                                    logins.remember_basic(&ep.base);
                                }
                                authorization = Authorization::Basic(login);
                                login_sent = true;
                                continue;
                            }
                            None => return Err(self.denied(repo, false)),
                        },
                        // no challenge: anonymous access is impossible
                        AuthDemand::Silent => return Err(self.denied(repo, login_sent)),
                    };
                    auth.forget_token(&ep.base, repo.name());
                    let (token, sent) = self.fetch_token(repo, &challenge).await?;
                    (authorization, login_sent) = (Authorization::Bearer(token), sent);
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

    /// A pull token for the repository ([`crate::auth::fetch_token`]), kept until it
    /// expires; and whether the user's login went with the request.
    pub(super) async fn fetch_token(
        &self,
        repo: &Repository<'_>,
        challenge: &BearerChallenge,
    ) -> Result<(Token, bool), Error> {
        let (token, lifetime, sent) = self.token_for(repo, &[repo.name()], challenge).await?;
        let base = &repo.endpoint.base;
        self.inner
            .auth
            .insert_token(base, repo.name(), token.clone(), lifetime, Instant::now());
        Ok((token, sent))
    }

    /// A pull token for `repositories` of `repo`'s registry, with the operator's Docker Hub
    /// account where it may go, else the user's login where it may go; its lifetime; and
    /// whether the user's login went with the request.
    pub(super) async fn token_for(
        &self,
        repo: &Repository<'_>,
        repositories: &[&str],
        challenge: &BearerChallenge,
    ) -> Result<(Token, std::time::Duration, bool), Error> {
        let inner = &self.inner;
        let ep = &repo.endpoint;
        let account = inner
            .account
            .as_ref()
            .and_then(|account| account.for_request(ep, challenge));
        let user = match account {
            Some(_) => None,
            None => self.user_login(repo).await?,
        };
        let presented = match (account, &user, &inner.logins) {
            (Some(credentials), _, _) => Presented::Account(credentials),
            (None, Some(login), Some(logins)) => {
                if Url::parse(&challenge.realm).is_ok_and(|realm| logins.may_receive(&realm)) {
                    Presented::User(login)
                } else {
                    tracing::warn!(registry = %ep.host, "the token realm is not HTTPS: asking it without the login");
                    Presented::Anonymous
                }
            }
            _ => Presented::Anonymous,
        };
        let sent = matches!(presented, Presented::User(_));
        match crate::auth::fetch_token(&inner.transport, presented, ep, repositories, challenge)
            .await
        {
            Ok((token, lifetime)) => Ok((token, lifetime, sent)),
            // the token server refused: the lookup is denied
            Err(Error::NotFound { .. }) => Err(self.denied(repo, sent)),
            Err(e) => Err(e),
        }
    }

    /// The user's login for the repository's registry, if the client has logins and this
    /// endpoint may receive one: a `docker.io` login goes to Docker Hub itself (not a mirror
    /// or the fallback), and not when the operator's Docker Hub account is set.
    async fn user_login(&self, repo: &Repository<'_>) -> Result<Option<Arc<Login>>, Error> {
        let Some(logins) = &self.inner.logins else {
            return Ok(None);
        };
        let domain = repo.reference.domain();
        if domain == DEFAULT_DOMAIN
            && (&repo.endpoint != self.inner.routes.docker_hub() || self.inner.account.is_some())
        {
            return Ok(None);
        }
        logins.login(domain).await.map_err(|e| Error::Login {
            registry: domain.to_owned(),
            detail: e.0,
        })
    }

    /// The user's username and password for a registry that asked for Basic auth at `url`.
    async fn basic_login(
        &self,
        repo: &Repository<'_>,
        url: &Url,
    ) -> Result<Option<Arc<Login>>, Error> {
        let may_receive = self
            .inner
            .logins
            .as_ref()
            .is_some_and(|logins| logins.may_receive(url));
        if !may_receive {
            return Ok(None);
        }
        Ok(self
            .user_login(repo)
            .await?
            .filter(|login| matches!(**login, Login::Basic { .. })))
    }

    /// What a refusal means: when the request carried the user's login (the command line),
    /// "unauthorized: check your login"; without one (a misspelled public image, a login that
    /// could not go, or the service, which reads no logins), "not found or not public", as
    /// registries answer a repository that does not exist exactly as one they may not show.
    fn denied(&self, repo: &Repository<'_>, login_sent: bool) -> Error {
        if login_sent {
            Error::Unauthorized {
                registry: repo.reference.domain().to_owned(),
                reference: repo.reference.canonical(),
            }
        } else {
            repo.not_found()
        }
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
