//! The service against the real registry serving TLS with a certificate from a test CA:
//! 200 when the CA is trusted, 502 with "certificate not trusted" when it is not.

use std::path::Path;

use mquery_tests::distribution::Distribution;
use mquery_tests::fixtures::{APP, Pusher, five_platform_index};
use mquery_tests::process::ServiceProcess;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_mquery-lambda"))
}

async fn inspect(server: &ServiceProcess, image: &str) -> (u16, serde_json::Value) {
    let response = server.inspect(image).await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON document"))
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_registries_trusted_and_not() {
    let registry = Distribution::start_tls();
    let pusher = Pusher::for_tls(&registry);
    let (index, _) = five_platform_index(&pusher, "acme/app", "v1").await;
    let image = registry.image(APP);
    let private = ("MQUERY_PRIVATE_REGISTRIES", registry.host());

    let untrusted = ServiceProcess::start(binary(), std::slice::from_ref(&private));
    let (status, doc) = inspect(&untrusted, &image).await;
    assert_eq!(status, 502, "{doc}");
    assert_eq!(doc["error"]["code"], "UPSTREAM_ERROR", "{doc}");
    assert_eq!(
        doc["error"]["message"],
        format!(
            "certificate not trusted: {}: issued by an unknown authority \
             (trust its CA with SSL_CERT_FILE or MQUERY_CA_FILE)",
            registry.host()
        )
    );

    let trusted = ServiceProcess::start(
        binary(),
        &[
            private,
            ("MQUERY_CA_FILE", registry.ca_file().display().to_string()),
        ],
    );
    let (status, doc) = inspect(&trusted, &image).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["digest"], index.digest.to_string());
    assert_eq!(doc["isList"], true);
}
