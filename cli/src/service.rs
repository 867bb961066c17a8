//! A deployed mquery service as the CLI's backend (`--endpoint`, `MQUERY_ENDPOINT`): each
//! image is asked of its `/v1/inspect` (docs/cli.md), with the same roots and timeouts as a
//! registry lookup.

use output::{ErrorReport, LookupResult, Report};
use registry::{ErrorCode, Reference};

use crate::error_report;

/// A deployed mquery service, asked through `/v1/inspect`.
#[derive(Debug, Clone)]
pub struct Service {
    http: reqwest::Client,
    inspect: reqwest::Url,
}

impl Service {
    pub fn new(
        base: reqwest::Url,
        client: &registry::ClientConfig,
    ) -> Result<Service, registry::Error> {
        let setup = |detail: String| registry::Error::ClientSetup { detail };
        let inspect = reqwest::Url::parse(&format!(
            "{}/v1/inspect",
            base.as_str().trim_end_matches('/')
        ))
        .map_err(|e| setup(format!("invalid endpoint {base}: {e}")))?;
        // the same roots as registry lookups: system store or compiled-in, plus MQUERY_CA_FILE
        let tls =
            registry::tls::client_config(&client.extra_roots).map_err(|e| setup(e.to_string()))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .user_agent(client.user_agent.clone())
            .connect_timeout(client.connect_timeout)
            // the service has its own registry deadline; leave it room to answer
            .timeout(client.lookup_timeout + std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| setup(format!("cannot build the HTTP client: {e}")))?;
        Ok(Service { http, inspect })
    }

    pub async fn lookup(&self, image: &str, reference: &Reference, verify: bool) -> LookupResult {
        let mut url = self.inspect.clone();
        url.query_pairs_mut().append_pair("image", image);
        if verify {
            url.query_pairs_mut().append_pair("verify", "1");
        }
        let canonical = Some(reference.canonical());
        let unreachable = |detail: String| {
            error_report(
                image,
                canonical.clone(),
                ErrorCode::UpstreamError,
                &format!(
                    "mquery service at {} failed: {detail}",
                    self.inspect.origin().ascii_serialization()
                ),
            )
        };
        let response = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| match registry::tls::certificate_problem(&e) {
                Some(problem) => error_report(
                    image,
                    canonical.clone(),
                    ErrorCode::UpstreamError,
                    &format!(
                        "certificate not trusted: {}: {problem}",
                        self.inspect.origin().ascii_serialization()
                    ),
                ),
                None => unreachable(e.without_url().to_string()),
            })?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| unreachable(e.without_url().to_string()))?;
        if status.is_success() {
            let report = serde_json::from_slice::<Report>(&body)
                .map_err(|e| unreachable(format!("unexpected answer: {e}")))?;
            if verify && report.verification.is_none() {
                // an older service: a silent pass would be a lie
                return Err(unreachable(
                    "the service does not support verify=1".to_owned(),
                ));
            }
            Ok(report)
        } else {
            match serde_json::from_slice::<ErrorReport>(&body) {
                Ok(error) => Err(error),
                Err(_) => Err(unreachable(format!("HTTP {}", status.as_u16()))),
            }
        }
    }
}
