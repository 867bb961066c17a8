//! Which endpoint a reference goes to: `docker.io` to the Docker Hub mirror if one is set
//! (`MQUERY_DOCKER_HUB_MIRROR`), else to Docker Hub, whose token challenge is then known in
//! advance; a registry of `MQUERY_INSECURE_REGISTRIES` over plain HTTP; any other over HTTPS.
//! When Docker Hub itself answers 429, a lookup is asked once more of the fallback mirror
//! (`MQUERY_DOCKER_HUB_FALLBACK`).

use crate::auth::BearerChallenge;
use crate::config::ClientConfig;
use crate::error::Error;
use crate::reference::{DEFAULT_DOMAIN, Reference};
use crate::transport::{Endpoint, Repository};

use super::Client;

/// The endpoints of the settings, parsed once.
#[derive(Debug)]
pub(super) struct Routes {
    /// Docker Hub itself.
    docker_hub: Endpoint,
    /// Where `docker.io` references go: the mirror if one is set, else Docker Hub.
    docker_io: Endpoint,
    /// Asked for `docker.io` references when Docker Hub answers 429 (never with a mirror).
    fallback: Option<Endpoint>,
    /// Whether `docker.io` references go to a mirror.
    mirrored: bool,
    /// `host[:port]` of registries reached over plain HTTP, lowercased.
    insecure: Vec<String>,
}

impl Routes {
    pub(super) fn new(config: &ClientConfig) -> Routes {
        let docker_hub = Endpoint::from_base_url(&config.docker_hub.registry);
        let docker_io = match &config.docker_hub_mirror {
            Some(mirror) => Endpoint::from_base_url(mirror.as_str()),
            None => docker_hub.clone(),
        };
        let fallback = config
            .docker_hub_fallback
            .as_ref()
            .map(|url| Endpoint::from_base_url(url.as_str()));
        Routes {
            docker_hub,
            docker_io,
            fallback,
            mirrored: config.docker_hub_mirror.is_some(),
            insecure: config.insecure_registries.clone(),
        }
    }

    /// Docker Hub itself (not a mirror).
    pub(super) fn docker_hub(&self) -> &Endpoint {
        &self.docker_hub
    }

    /// Docker Hub's base URL and challenge, known in advance; `None` with a mirror, which has
    /// its own.
    pub(super) fn known_challenge(
        &self,
        config: &ClientConfig,
    ) -> Option<(String, BearerChallenge)> {
        (!self.mirrored).then(|| {
            (
                self.docker_hub.base.clone(),
                BearerChallenge {
                    realm: config.docker_hub.realm.clone(),
                    service: Some(config.docker_hub.service.clone()),
                    scope: None,
                },
            )
        })
    }

    pub(super) fn endpoint(&self, domain: &str) -> Endpoint {
        if domain == DEFAULT_DOMAIN {
            return self.docker_io.clone();
        }
        // host names are case-insensitive: the list is lowercased when parsed
        let insecure = self.insecure.iter().any(|r| r.eq_ignore_ascii_case(domain));
        let scheme = if insecure { "http" } else { "https" };
        Endpoint {
            base: format!("{scheme}://{domain}"),
            host: domain.to_owned(),
        }
    }

    /// Where `docker.io` references go when Docker Hub answers 429, if anywhere.
    fn fallback_for(&self, reference: &Reference, error: &Error) -> Option<Endpoint> {
        match (error, &self.fallback) {
            (Error::RateLimited { .. }, Some(fallback))
                if reference.domain() == DEFAULT_DOMAIN && !self.mirrored =>
            {
                tracing::warn!(fallback = %fallback.base, "Docker Hub rate-limited us; asking the fallback mirror");
                Some(fallback.clone())
            }
            _ => None,
        }
    }
}

impl Client {
    /// Runs `lookup` against the reference's endpoint, and once more against the fallback
    /// mirror when Docker Hub rate-limited it.
    pub(super) async fn with_fallback<'r, T, F, Fut>(
        &self,
        reference: &'r Reference,
        lookup: F,
    ) -> Result<T, Error>
    where
        F: Fn(Repository<'r>) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let routes = &self.inner.routes;
        let repo = Repository {
            endpoint: routes.endpoint(reference.domain()),
            reference,
        };
        let result = self.bounded(&repo.endpoint.clone(), lookup(repo)).await;
        match &result {
            Err(error) => match routes.fallback_for(reference, error) {
                Some(fallback) => {
                    let repo = Repository {
                        endpoint: fallback,
                        reference,
                    };
                    self.bounded(&repo.endpoint.clone(), lookup(repo)).await
                }
                None => result,
            },
            Ok(_) => result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Url;

    #[test]
    fn endpoints() {
        let client = Client::new(ClientConfig {
            insecure_registries: vec!["localhost:5000".into()],
            ..ClientConfig::default()
        })
        .expect("client");
        let endpoint = |client: &Client, domain: &str| client.inner.routes.endpoint(domain);
        assert_eq!(
            endpoint(&client, "docker.io").base,
            "https://registry-1.docker.io"
        );
        assert_eq!(
            endpoint(&client, "localhost:5000").base,
            "http://localhost:5000"
        );
        assert_eq!(
            endpoint(&client, "localhost:5001").base,
            "https://localhost:5001"
        );
        assert_eq!(endpoint(&client, "ghcr.io").base, "https://ghcr.io");
        let knows = |client: &Client, base: &str| client.inner.auth.challenge(base).is_some();
        assert!(knows(&client, "https://registry-1.docker.io"));

        let mirrored = Client::new(ClientConfig {
            docker_hub_mirror: Some(Url::parse("http://127.0.0.1:9/").expect("url")),
            ..ClientConfig::default()
        })
        .expect("client");
        assert_eq!(endpoint(&mirrored, "docker.io").base, "http://127.0.0.1:9");
        assert!(!knows(&mirrored, "http://127.0.0.1:9"));
    }
}
