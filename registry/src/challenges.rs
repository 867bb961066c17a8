//! What the client knows of a registry's token challenge before asking it: a built-in table
//! of the public registries people use most ([`builtin`]), the challenges learned from 401s in
//! this process (kept in [`crate::auth::AuthCache`]), and, in the service, a [`ChallengeBook`]
//! that outlives the process (an item per registry in the cache table), so that a new Lambda
//! instance starts knowing them.
//!
//! A known challenge lets a lookup ask for its token while it opens the registry's connection
//! (4 round trips over HTTPS where a probe first costs 6); a registry known to serve anonymous
//! pulls without a token is asked directly. A table entry is a starting guess, never trusted
//! over the registry: when the registry answers with another challenge, that one is learned
//! and used (docs/registries.md).

use std::future::Future;
use std::pin::Pin;

use crate::auth::BearerChallenge;

/// What is known of a registry before the first request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// Anonymous pulls are served without a token: ask the registry directly.
    Open,
    /// Pulls need a token from this challenge's realm.
    Bearer {
        challenge: BearerChallenge,
        /// Whether one token request may name many repositories' scopes and the answer tell
        /// which it grants (a JWT with an `access` claim). `false` where the registry is known
        /// to answer otherwise: ghcr.io's anonymous tokens are opaque and name one repository,
        /// gcr.io fails requests with several scopes, ECR Public's tokens are opaque.
        batches: bool,
    },
}

/// The built-in entry for a registry reached at `base` (`https://HOST`, no port, no path), if
/// it has one. Each entry is the registry's documented or observed anonymous challenge
/// (docs/registries.md lists the sources); Docker Hub's is the client's settings
/// (`MQUERY_DOCKER_HUB_*`), not an entry here.
pub fn builtin(base: &str) -> Option<Known> {
    let host = base.strip_prefix("https://")?;
    if host.contains([':', '/']) {
        return None;
    }
    let host = host.to_ascii_lowercase();
    let bearer = |realm: String, service: &str, batches: bool| Known::Bearer {
        challenge: BearerChallenge {
            realm,
            service: Some(service.to_owned()),
            scope: None,
        },
        batches,
    };
    match host.as_str() {
        // quay.io serves public repositories without a token (quay `endpoints/v2`:
        // `allow_public`); a private one answers 401 with its challenge, which is then learned
        "quay.io" => Some(Known::Open),
        // answers `/v2/` itself and redirects manifests to a public backend: no token
        "registry.k8s.io" => Some(Known::Open),
        "mcr.microsoft.com" => Some(Known::Open),
        "ghcr.io" => Some(bearer("https://ghcr.io/token".into(), "ghcr.io", false)),
        "public.ecr.aws" => Some(bearer(
            "https://public.ecr.aws/token/".into(),
            "public.ecr.aws",
            false,
        )),
        "registry.gitlab.com" => Some(bearer(
            "https://gitlab.com/jwt/auth".into(),
            "container_registry",
            true,
        )),
        // gcr.io and its regional hosts, and Artifact Registry: the realm is on the host itself
        h if is_google(h) => Some(bearer(format!("https://{h}/v2/token"), h, false)),
        _ => None,
    }
}

/// gcr.io, `*.gcr.io` and Artifact Registry's `LOCATION-docker.pkg.dev`.
fn is_google(host: &str) -> bool {
    let label = |rest: &str| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    host == "gcr.io"
        || host.strip_suffix(".gcr.io").is_some_and(label)
        || host.strip_suffix("-docker.pkg.dev").is_some_and(label)
}

/// A challenge book's future.
pub type BookFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Challenges kept outside the process (the service's cache table): read when the client
/// meets a registry it knows nothing of, written when it learns a challenge. Both are best
/// effort: a failure is a miss.
pub trait ChallengeBook: std::fmt::Debug + Send + Sync {
    /// The challenge recorded for the registry at `base`, if any.
    fn recall<'a>(&'a self, base: &'a str) -> BookFuture<'a, Option<BearerChallenge>>;
    /// Records the challenge the registry at `base` answered with.
    fn record<'a>(&'a self, base: &'a str, challenge: &'a BearerChallenge) -> BookFuture<'a, ()>;
}

/// The longest realm or service a book records: a challenge is a header of a registry's, and
/// the book is shared.
pub const MAX_RECORDED_FIELD: usize = 1024;

/// Whether a learned challenge may be written to a book: bounded, and its realm an http(s)
/// URL.
pub fn recordable(challenge: &BearerChallenge) -> bool {
    challenge.realm.len() <= MAX_RECORDED_FIELD
        && challenge
            .service
            .as_ref()
            .is_none_or(|s| s.len() <= MAX_RECORDED_FIELD)
        && (challenge.realm.starts_with("https://") || challenge.realm.starts_with("http://"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn realm(known: Option<Known>) -> Option<(String, Option<String>, bool)> {
        match known? {
            Known::Bearer { challenge, batches } => {
                Some((challenge.realm, challenge.service, batches))
            }
            Known::Open => None,
        }
    }

    #[test]
    fn the_table() {
        assert_eq!(
            realm(builtin("https://ghcr.io")),
            Some((
                "https://ghcr.io/token".into(),
                Some("ghcr.io".into()),
                false
            ))
        );
        assert_eq!(
            realm(builtin("https://GCR.io")),
            Some((
                "https://gcr.io/v2/token".into(),
                Some("gcr.io".into()),
                false
            ))
        );
        assert_eq!(
            realm(builtin("https://eu.gcr.io")),
            Some((
                "https://eu.gcr.io/v2/token".into(),
                Some("eu.gcr.io".into()),
                false
            ))
        );
        assert_eq!(
            realm(builtin("https://us-central1-docker.pkg.dev")),
            Some((
                "https://us-central1-docker.pkg.dev/v2/token".into(),
                Some("us-central1-docker.pkg.dev".into()),
                false
            ))
        );
        assert_eq!(
            realm(builtin("https://registry.gitlab.com")),
            Some((
                "https://gitlab.com/jwt/auth".into(),
                Some("container_registry".into()),
                true
            ))
        );
        assert!(realm(builtin("https://public.ecr.aws")).is_some());
        for open in ["quay.io", "registry.k8s.io", "mcr.microsoft.com"] {
            assert_eq!(builtin(&format!("https://{open}")), Some(Known::Open));
        }
        // only the registry itself over HTTPS on its default port
        for other in [
            "http://ghcr.io",
            "https://ghcr.io:8443",
            "https://ghcr.io/prefix",
            "https://evil.example",
            "https://x.y.gcr.io",
            "https://-docker.pkg.dev",
            "https://gcr.io.evil.example",
        ] {
            assert_eq!(builtin(other), None, "{other}");
        }
    }

    #[test]
    fn what_a_book_records() {
        let challenge = |realm: &str| BearerChallenge {
            realm: realm.into(),
            service: Some("s".into()),
            scope: None,
        };
        assert!(recordable(&challenge("https://auth.example/token")));
        assert!(!recordable(&challenge("file:///etc/passwd")));
        assert!(!recordable(&challenge(&format!(
            "https://a.example/{}",
            "x".repeat(MAX_RECORDED_FIELD)
        ))));
    }
}
