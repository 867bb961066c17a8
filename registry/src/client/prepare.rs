//! Before many lookups at once (a stack): one token request per registry for all its
//! repositories, and the registry's connection opened once, so that a stack costs about
//! what one image costs (docs/registries.md). Each registry that two or more of the
//! references name is prepared on its own task, all at once:
//!
//! - its challenge is known and batches ([`Knowledge::Bearer`]): one token request names
//!   every repository's pull scope (distribution's token spec allows `scope` repeated), while
//!   a `GET /v2/` opens the registry's connection;
//! - its challenge is unknown: a `GET /v2/` learns it (and opens the connection), then the
//!   same;
//! - it serves pulls without a token, or its tokens are one per repository: nothing.
//!
//! The answer is a JWT whose `access` claim says which repositories it grants
//! ([`crate::auth::granted_repositories`]); each gets the token. A repository the grant
//! leaves out, or any failure here, leaves its lookup to ask for its own token as it would
//! have. An opaque token stops batching for that registry.

use std::collections::HashMap;
use std::time::Instant;

use crate::auth::{Knowledge, MAX_SCOPES, granted_repositories};
use crate::reference::Reference;
use crate::transport::{Endpoint, Repository};

use super::Client;

/// The longest the lookups wait for the preparation: about 7 round trips of a slow network.
const PREPARE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

impl Client {
    /// Prepares the lookups of `references` (see the module documentation). Returns when
    /// every registry is prepared or has failed, or after [`PREPARE_WAIT`].
    pub async fn prepare(&self, references: &[Reference]) {
        let mut registries: HashMap<String, (Endpoint, Vec<Reference>)> = HashMap::new();
        for reference in references {
            let ep = self.inner.routes.endpoint(reference.domain());
            let (_, named) = registries
                .entry(ep.base.clone())
                .or_insert_with(|| (ep, Vec::new()));
            if !named
                .iter()
                .any(|r| r.repository() == reference.repository())
            {
                named.push(reference.clone());
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (_, (ep, named)) in registries {
            if named.len() < 2 {
                continue;
            }
            let client = self.clone();
            tasks.spawn(async move { client.prepare_registry(ep, named).await });
        }
        // a registry that is slow to prepare holds every row back only this long; its
        // lookups then ask on their own (the others are prepared by then)
        let deadline = self.inner.config.lookup_timeout.min(PREPARE_WAIT);
        let _ = tokio::time::timeout(deadline, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
    }

    async fn prepare_registry(&self, ep: Endpoint, named: Vec<Reference>) {
        let auth = &self.inner.auth;
        let now = Instant::now();
        let names: Vec<&str> = named
            .iter()
            .map(Reference::repository)
            .filter(|name| auth.token(&ep.base, name, now).is_none())
            .collect();
        if names.len() < 2 {
            return;
        }
        let challenge = match auth.knowledge(&ep.base) {
            Knowledge::Bearer { batches: false, .. } | Knowledge::Open => return,
            Knowledge::Bearer { challenge, .. } => challenge,
            Knowledge::Unknown => match self.probe(&ep).await {
                Some(challenge) => challenge,
                None => return,
            },
        };
        let repo = Repository {
            endpoint: ep.clone(),
            reference: &named[0],
        };
        for chunk in names.chunks(MAX_SCOPES) {
            let (token, ()) = tokio::join!(
                self.token_for(&repo, chunk, &challenge),
                self.warm_up(&ep, &challenge)
            );
            let (token, lifetime) = match token {
                Ok((token, lifetime, _)) => (token, lifetime),
                Err(e) => {
                    tracing::debug!(registry = %ep.host, error = %e, "no combined token; each lookup asks its own");
                    return;
                }
            };
            let Some(granted) = granted_repositories(&token) else {
                tracing::debug!(registry = %ep.host, "an opaque combined token; one per repository from now on");
                auth.stop_batching(&ep.base);
                return;
            };
            let now = Instant::now();
            for name in chunk.iter().filter(|n| granted.iter().any(|g| g == *n)) {
                auth.insert_token(&ep.base, name, token.clone(), lifetime, now);
            }
        }
    }
}
