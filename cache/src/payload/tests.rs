use super::*;
use crate::entry::decode;
use crate::store::Item;

/// Payloads as the service wrote them before the payload named its version: the bytes of
/// `serde_json::to_string` of the service's cache entry (`lambda/src/inspect.rs`'s `Entry`,
/// then `#[serde(tag = "type")]` over `Summary`'s own serde), for [`image`] and [`artifact`].
const V1_IMAGE: &str = concat!(
    r#"{"type":"image","summary":{"digest":"sha256:1bc04b5291c26a46d918139138b992d2de976d6851d0893b0476b85bfbdfc6e6","#,
    r#""mediaType":"application/vnd.oci.image.index.v1+json","isList":true,"platforms":["#,
    r#"{"os":"linux","architecture":"amd64","digest":"sha256:5861314d7fccb39c2192173240eab44fa35ca66426201ca2acd0630a6258dd51","#,
    r#""mediaType":"application/vnd.oci.image.manifest.v1+json","size":1234},"#,
    r#"{"os":"linux","architecture":"arm","variant":"v7","digest":"sha256:ddf7ff5ebd9d66ce161466c1c0262430fa04de32b0e420ee3f489e2e2112e386","#,
    r#""mediaType":"application/vnd.oci.image.manifest.v1+json","size":99},"#,
    r#"{"os":"windows","architecture":"amd64","os.version":"10.0.20348.2227","os.features":["win32k"],"#,
    r#""digest":"sha256:823a3180dad3c9c3c4dea43ab2baf9f04bac9c3a7711745ff5f702551496d735","#,
    r#""mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":7}],"#,
    r#""attestations":2,"unlabeled":1}}"#
);
const V1_ARTIFACT: &str = concat!(
    r#"{"type":"image","summary":{"digest":"sha256:d3cec99112255db9bf4963f7798562b6a36f1bd0b2016918629e007d474deb70","#,
    r#""mediaType":"application/vnd.oci.image.manifest.v1+json","isList":false,"platforms":[],"#,
    r#""attestations":0,"unlabeled":0,"artifactType":"application/vnd.example+json"}}"#
);
const V1_MISSING: &str = r#"{"type":"missing"}"#;

fn entry(platform: Platform, digest: &[u8], media_type: &str, size: u64) -> PlatformEntry {
    PlatformEntry {
        platform,
        digest: Digest::sha256(digest),
        media_type: media_type.into(),
        size,
    }
}

fn image() -> Summary {
    let manifest = "application/vnd.oci.image.manifest.v1+json";
    let mut windows = Platform::new("windows", "amd64", None);
    windows.os_version = Some("10.0.20348.2227".into());
    windows.os_features = vec!["win32k".into()];
    Summary {
        digest: Digest::sha256(b"index"),
        media_type: "application/vnd.oci.image.index.v1+json".into(),
        is_list: true,
        platforms: vec![
            entry(
                Platform::new("linux", "amd64", None),
                b"amd64",
                manifest,
                1234,
            ),
            entry(
                Platform::new("linux", "arm", Some("v7")),
                b"arm",
                manifest,
                99,
            ),
            entry(
                windows,
                b"win",
                "application/vnd.docker.distribution.manifest.v2+json",
                7,
            ),
        ],
        attestations: 2,
        unlabeled: 1,
        artifact_type: None,
    }
}

fn artifact() -> Summary {
    Summary {
        digest: Digest::sha256(b"art"),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        is_list: false,
        platforms: Vec::new(),
        attestations: 0,
        unlabeled: 0,
        artifact_type: Some("application/vnd.example+json".into()),
    }
}

fn read(payload: &str) -> Result<StoredAnswer, serde_json::Error> {
    serde_json::from_str(payload)
}

fn item(payload: &str) -> Item {
    Item {
        key: "docker.io/library/alpine:latest".into(),
        payload: payload.into(),
        fetched_at: 1_800_000_000,
        fresh_until: 1_800_000_300,
        expires_at: 1_800_086_400,
    }
}

#[test]
fn items_written_before_the_version_read_back() {
    let cases = [
        (V1_IMAGE, StoredAnswer::Image(Arc::new(image()))),
        (V1_ARTIFACT, StoredAnswer::Image(Arc::new(artifact()))),
        (V1_MISSING, StoredAnswer::Missing),
    ];
    for (payload, answer) in cases {
        assert_eq!(read(payload).expect("a v1 payload"), answer, "{payload}");
        let entry = decode::<StoredAnswer>(&item(payload)).expect("a v1 item");
        assert_eq!(*entry.value, answer, "{payload}");
    }
    // items older still, from before `unlabeled` was counted
    let older = V1_ARTIFACT.replace(r#""unlabeled":0,"#, "");
    assert_eq!(
        read(&older).expect("no unlabeled"),
        StoredAnswer::Image(Arc::new(artifact()))
    );
}

#[test]
fn writes_its_version_first_then_the_v1_layout() {
    let cases = [
        (StoredAnswer::Image(Arc::new(image())), V1_IMAGE),
        (StoredAnswer::Image(Arc::new(artifact())), V1_ARTIFACT),
        (StoredAnswer::Missing, V1_MISSING),
    ];
    for (answer, v1) in cases {
        let written = serde_json::to_string(&answer).expect("serializes");
        assert_eq!(written, format!(r#"{{"v":1,{}"#, &v1[1..]));
        assert_eq!(read(&written).expect("reads back"), answer);
    }
}

#[test]
fn an_unknown_version_is_a_miss() {
    let newer = [
        r#"{"v":2,"type":"missing"}"#,
        r#"{"v":2,"type":"image","summary":{"entirely":"different"}}"#,
        r#"{"v":18446744073709551615,"type":"missing"}"#,
        r#"{"v":0,"type":"missing"}"#,
        r#"{"v":-1,"type":"missing"}"#,
        r#"{"v":"2","type":"missing"}"#,
        r#"{"v":1.5,"type":"missing"}"#,
    ];
    for payload in newer {
        assert!(read(payload).is_err(), "{payload}");
        assert!(decode::<StoredAnswer>(&item(payload)).is_err(), "{payload}");
    }
    // refused on `v` itself, before the rest is read
    let error = read(newer[1]).expect_err("a newer version");
    assert!(
        error.to_string().starts_with("payload version 2 is not 1"),
        "{error}"
    );
    // `v` wherever it stands
    let late = r#"{"type":"missing","v":2}"#;
    assert!(read(late).is_err());
}

#[test]
fn malformed_payloads_are_misses() {
    for payload in [
        r#"{"type":"image"}"#,
        r#"{"v":1,"type":"other"}"#,
        r#"{"summary":{}}"#,
        r#"{"type":"image","summary":{}}"#,
        r#"{"type":"image","summary":{"digest":"sha256:abc","mediaType":"m","isList":true,"platforms":[],"attestations":0}}"#,
        "[]",
        "null",
        "",
    ] {
        assert!(read(payload).is_err(), "{payload}");
    }
}

/// Through the cache: an item of the previous layout is a store hit; an item of an unknown
/// version is a miss, and the answer loaded instead overwrites it in this build's layout.
#[cfg(feature = "tiered")]
#[tokio::test]
async fn the_cache_serves_v1_items_and_overwrites_unknown_versions() {
    use crate::clock::{Clock, ManualClock, from_epoch_secs};
    use crate::memory::MemoryStore;
    use crate::store::Store;
    use crate::tiered::{Loaded, Tier, Tiered};

    let clock = Arc::new(ManualClock::new(
        from_epoch_secs(1_800_000_010).expect("in range"),
    ));
    for (payload, tier) in [
        (V1_IMAGE, Tier::Store),
        (
            r#"{"v":2,"type":"image","summary":{"renamed":true}}"#,
            Tier::Origin,
        ),
    ] {
        let memory = Arc::new(MemoryStore::new(10));
        memory.put(&item(payload)).await.expect("put");
        let store = Some(Arc::clone(&memory) as Arc<dyn Store>);
        let cache = Tiered::<StoredAnswer>::new(1 << 20, store, clock.clone() as Arc<dyn Clock>);
        let hit = cache
            .get_or_load(&item(payload).key, |_| async {
                Ok::<_, String>(Loaded {
                    value: Arc::new(StoredAnswer::Image(Arc::new(image()))),
                    fetched_at: clock.now(),
                    fresh_for: std::time::Duration::from_secs(60),
                    keep_for: std::time::Duration::from_secs(600),
                    stale: false,
                })
            })
            .await
            .expect("an answer");
        assert_eq!(hit.tier, tier, "{payload}");
        assert_eq!(*hit.entry.value, StoredAnswer::Image(Arc::new(image())));
        let stored = memory.get(&item(payload).key).await.expect("get");
        let expected = match tier {
            Tier::Origin => format!(r#"{{"v":1,{}"#, &V1_IMAGE[1..]),
            _ => payload.to_owned(),
        };
        assert_eq!(stored.expect("an item").payload, expected, "{payload}");
    }
}
