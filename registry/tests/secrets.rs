//! Tokens never reach logs or error messages: a full token-auth lookup, a denied one and a
//! failing one, with every log line of every crate captured at TRACE level.

use std::io::Write;
use std::sync::{Arc, Mutex};

use mquery_tests::client_for;
use mquery_tests::distribution::Distribution;
use mquery_tests::fixtures::{Pusher, five_platform_index};
use mquery_tests::token::TokenServer;
use registry::Reference;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_never_appear_in_logs_or_errors() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let token = TokenServer::start().await;
    let registry = Distribution::start_with_token(&token);
    let pusher = Pusher::new(&registry.base_url(), Some(&token));
    five_platform_index(&pusher, "team/app", "v1").await;
    five_platform_index(&pusher, "team/secret", "v1").await;
    token.deny("team/secret");
    let client = client_for(&[&registry.host(), &token.host()]);

    let ok = client
        .summarize(&Reference::parse(&format!("{}/team/app:v1", registry.host())).expect("valid"))
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    let denied = client
        .summarize(
            &Reference::parse(&format!("{}/team/secret:v1", registry.host())).expect("valid"),
        )
        .await
        .expect_err("denied");
    let missing = client
        .summarize(&Reference::parse(&format!("{}/team/app:nope", registry.host())).expect("valid"))
        .await
        .expect_err("missing");

    let logs = String::from_utf8(captured.0.lock().expect("log lock").clone()).expect("utf-8");
    assert!(logs.len() > 100, "TRACE logging captured something: {logs}");
    // every token this server issues is a JWT starting with this header
    const JWT_PREFIX: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiI";
    for (what, text) in [
        ("logs", logs.as_str()),
        ("denied error", &format!("{denied} {denied:?}")),
        ("missing error", &format!("{missing} {missing:?}")),
    ] {
        assert!(!text.contains(JWT_PREFIX), "a token leaked into {what}");
        assert!(
            !text.to_ascii_lowercase().contains("bearer ey"),
            "a token leaked into {what}"
        );
    }
    // the client's own Debug (its token cache included) shows no secret either
    let debug = format!("{client:?}");
    assert!(debug.contains("Token(<redacted>)"), "{debug}");
    assert!(!debug.contains(JWT_PREFIX));
}
