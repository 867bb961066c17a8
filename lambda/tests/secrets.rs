//! The operator's Docker Hub account read from Secrets Manager at start-up, against moto's
//! emulator of the Secrets Manager API, by the real binary: the account is taken (its
//! username logged, its token nowhere); a malformed or missing secret leaves the service
//! running, anonymously, with the reason logged.

use std::path::Path;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use mquery_tests::moto::Moto;
use mquery_tests::process::ServiceProcess;

const TOKEN: &str = "dckr_pat_from_secrets_manager";

async fn create_secret(moto: &Moto, name: &str, value: &str) -> String {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region("us-east-1")
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .endpoint_url(moto.endpoint())
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("create the secret in moto")
        .arn()
        .expect("an ARN")
        .to_owned()
}

fn start(moto: &Moto, arn: &str) -> ServiceProcess {
    ServiceProcess::start(
        Path::new(env!("CARGO_BIN_EXE_mquery-lambda")),
        &[
            ("RUST_LOG", "info".to_owned()),
            ("MQUERY_DOCKER_HUB_SECRET_ARN", arn.to_owned()),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.endpoint()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ],
    )
}

/// The first log line containing `needle`, waiting a little for the log to arrive.
fn log_line(service: &ServiceProcess, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(line) = service.logs().into_iter().find(|l| l.contains(needle)) {
            return line;
        }
        assert!(
            Instant::now() < deadline,
            "no log line with {needle:?}: {:?}",
            service.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_docker_hub_account_comes_from_secrets_manager() {
    let moto = Moto::start();
    let good = create_secret(
        &moto,
        "mquery/docker-hub",
        &format!(r#"{{"username": "mquery-bot", "token": "{TOKEN}"}}"#),
    )
    .await;
    let service = start(&moto, &good);
    let line = log_line(&service, "Docker Hub account read from Secrets Manager");
    assert!(
        line.contains("username=\"mquery-bot\"") || line.contains("username=mquery-bot"),
        "{line}"
    );
    assert!(service.logs().iter().all(|l| !l.contains(TOKEN)));

    let bad = create_secret(&moto, "mquery/bad", r#"{"user": "x"}"#).await;
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:none-AbCdEf";
    for (arn, why) in [
        (bad.as_str(), "is not JSON with"),
        (missing, "GetSecretValue"),
    ] {
        let service = start(&moto, arn);
        let line = log_line(&service, "cannot read the Docker Hub secret");
        assert!(line.contains(why), "{line}");
        // and it serves
        let health = reqwest::get(format!("{}/healthz", service.base_url()))
            .await
            .expect("healthz");
        assert_eq!(health.status(), 200);
    }
}
