//! The operator's Docker Hub account, read once at start-up from AWS Secrets Manager by ARN
//! (`MQUERY_DOCKER_HUB_SECRET_ARN`). The secret is JSON: `{"username": "...", "token": "..."}`.
//! Nothing of it is logged but the username.

use std::time::Duration;

use registry::config::Credentials;

/// Secrets Manager gets a little longer than the cache store: it is asked once, at init.
const SECRET_DEADLINE: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("GetSecretValue {arn} failed: {detail}")]
    Request { arn: String, detail: String },
    #[error("secret {arn} has no SecretString")]
    NotAString { arn: String },
    #[error("secret {arn} is not JSON with non-empty \"username\" and \"token\" strings")]
    Shape { arn: String },
}

#[derive(serde::Deserialize)]
struct Shape {
    username: String,
    token: String,
}

/// Reads the secret `arn` (from `endpoint` instead of AWS's when given).
pub async fn docker_hub_credentials(
    arn: &str,
    endpoint: Option<String>,
) -> Result<Credentials, SecretError> {
    let config = cache::sdk_config(endpoint, SECRET_DEADLINE).await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| SecretError::Request {
            arn: arn.to_owned(),
            detail: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
        })?;
    let text = output
        .secret_string()
        .ok_or_else(|| SecretError::NotAString {
            arn: arn.to_owned(),
        })?;
    let shape: Shape = serde_json::from_str(text).map_err(|_| SecretError::Shape {
        arn: arn.to_owned(),
    })?;
    Credentials::new(&shape.username, &shape.token).ok_or_else(|| SecretError::Shape {
        arn: arn.to_owned(),
    })
}
