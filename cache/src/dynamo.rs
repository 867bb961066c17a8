//! The DynamoDB store: `GetItem` and `PutItem` on a table keyed by `pk` (String) with the TTL
//! attribute `expires_at` (Number, epoch seconds), as template.yaml creates it.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::{ProfileFileCredentialsProvider, ProfileFileRegionProvider};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::store::{Item, SCHEMA_VERSION, Store, StoreError, StoreFuture};

/// How long one store call may take, retries included: the cache must never make a request
/// slow because DynamoDB is.
pub const STORE_DEADLINE: Duration = Duration::from_millis(1500);

/// The AWS SDK settings of the service's AWS clients (this store, and the service's Secrets
/// Manager read): credentials from the environment (Lambda's) or a profile file, the region
/// from the environment or a profile, `endpoint` instead of AWS's when given (DynamoDB Local,
/// a Secrets Manager emulator), and `deadline` for a whole call, one retry included. No
/// instance-metadata lookups: nothing is sent to link-local addresses.
pub async fn sdk_config(endpoint: Option<String>, deadline: Duration) -> aws_config::SdkConfig {
    let region = RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
        .or_else(ProfileFileRegionProvider::builder().build())
        .or_else("us-east-1");
    let credentials = CredentialsProviderChain::first_try(
        "Environment",
        EnvironmentVariableCredentialsProvider::new(),
    )
    .or_else("Profile", ProfileFileCredentialsProvider::builder().build());
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .credentials_provider(credentials)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(500))
                .operation_attempt_timeout(deadline.mul_f64(7.0 / 15.0))
                .operation_timeout(deadline)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(2));
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// A DynamoDB table as the second cache tier.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// Connects with credentials from the environment (Lambda's) or a profile file, the
    /// region from the environment or a profile, and `endpoint` instead of AWS's when given
    /// (DynamoDB Local). No instance-metadata lookups: nothing is sent to link-local
    /// addresses.
    pub async fn connect(table: String, endpoint: Option<String>) -> DynamoStore {
        let config = sdk_config(endpoint, STORE_DEADLINE).await;
        DynamoStore::with_config(table, &config)
    }

    /// The store of `table` with AWS SDK settings the caller made ([`connect`] makes the
    /// service's; tests make DynamoDB Local's, with placeholder credentials).
    ///
    /// [`connect`]: DynamoStore::connect
    pub fn with_config(table: String, config: &aws_config::SdkConfig) -> DynamoStore {
        DynamoStore {
            client: Client::new(config),
            table,
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get_item(&self, key: &str) -> Result<Option<Item>, StoreError> {
        let call = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.to_owned()))
            .send();
        let output = bounded("GetItem", call)
            .await?
            .map_err(|e| request_error("GetItem", e))?;
        match output.item {
            Some(attributes) => decode(key, &attributes).map(Some),
            None => Ok(None),
        }
    }

    async fn put_item(&self, item: &Item) -> Result<(), StoreError> {
        let call = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(item.key.clone()))
            .item("payload", AttributeValue::S(item.payload.clone()))
            .item("fetched_at", AttributeValue::N(item.fetched_at.to_string()))
            .item(
                "fresh_until",
                AttributeValue::N(item.fresh_until.to_string()),
            )
            .item("expires_at", AttributeValue::N(item.expires_at.to_string()))
            .item("v", AttributeValue::N(SCHEMA_VERSION.to_string()))
            .send();
        bounded("PutItem", call)
            .await?
            .map_err(|e| request_error("PutItem", e))?;
        Ok(())
    }
}

impl Store for DynamoStore {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Item>> {
        Box::pin(self.get_item(key))
    }

    fn put<'a>(&'a self, item: &'a Item) -> StoreFuture<'a, ()> {
        Box::pin(self.put_item(item))
    }

    fn name(&self) -> &'static str {
        "dynamodb"
    }
}

/// An SDK failure as a store error: the SDK's own deadlines (operation, attempt, connect) are
/// timeouts like ours, so the circuit breaker opens on the first one.
fn request_error<E, R>(
    operation: &'static str,
    e: aws_sdk_dynamodb::error::SdkError<E, R>,
) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let timed_out = matches!(e, aws_sdk_dynamodb::error::SdkError::TimeoutError(_))
        || matches!(&e, aws_sdk_dynamodb::error::SdkError::DispatchFailure(d) if d.is_timeout());
    if timed_out {
        StoreError::Timeout {
            operation,
            millis: STORE_DEADLINE.as_millis(),
        }
    } else {
        StoreError::Request {
            operation,
            source: sdk_error(e),
        }
    }
}

/// The SDK error with its whole chain of causes in the message (its own Display is terse).
fn sdk_error(e: impl std::error::Error) -> Box<dyn std::error::Error + Send + Sync> {
    Box::new(std::io::Error::other(
        aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string(),
    ))
}

async fn bounded<T>(
    operation: &'static str,
    call: impl std::future::Future<Output = T>,
) -> Result<T, StoreError> {
    tokio::time::timeout(STORE_DEADLINE, call)
        .await
        .map_err(|_| StoreError::Timeout {
            operation,
            millis: STORE_DEADLINE.as_millis(),
        })
}

fn decode(key: &str, attributes: &HashMap<String, AttributeValue>) -> Result<Item, StoreError> {
    let malformed = |reason: &str| StoreError::Malformed {
        key: key.to_owned(),
        reason: reason.to_owned(),
    };
    let number = |name: &str| -> Result<u64, StoreError> {
        attributes
            .get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| malformed(&format!("{name} is not a number")))
    };
    if number("v")? != SCHEMA_VERSION {
        return Err(malformed("another schema version"));
    }
    let payload = attributes
        .get("payload")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| malformed("payload is not a string"))?;
    Ok(Item {
        key: key.to_owned(),
        payload: payload.clone(),
        fetched_at: number("fetched_at")?,
        fresh_until: number("fresh_until")?,
        expires_at: number("expires_at")?,
    })
}
