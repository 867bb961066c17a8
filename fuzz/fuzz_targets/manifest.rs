//! The manifest summarizer never panics on any body, under any Content-Type: parsing,
//! classifying entries, reading a config and rendering the text all survive hostile input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry::manifest::{
    Manifest, add_entry, classify_entry, media_type, parse_manifest, platform_from_config,
};
use registry::summary::{CacheInfo, Report, Summary};

const CONTENT_TYPES: [Option<&str>; 6] = [
    None,
    Some(media_type::OCI_INDEX),
    Some(media_type::DOCKER_LIST),
    Some(media_type::OCI_MANIFEST),
    Some(media_type::DOCKER_SCHEMA1_SIGNED),
    Some("application/json; charset=utf-8"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let _ = platform_from_config(body);
    let Ok(manifest) = parse_manifest(content_type, body, 1024) else {
        return;
    };
    let mut summary = Summary {
        digest: "sha256:0".into(),
        media_type: manifest.media_type().to_owned(),
        is_list: matches!(manifest, Manifest::Index { .. }),
        platforms: Vec::new(),
        attestations: 0,
        unlabeled: 0,
        artifact_type: None,
    };
    if let Manifest::Index { entries, .. } = &manifest {
        assert!(entries.len() <= 1024);
        for entry in entries {
            add_entry(&mut summary, entry, classify_entry(entry));
        }
    }
    let report = Report {
        image: "fuzz".into(),
        reference: "docker.io/library/fuzz:latest".into(),
        summary,
        cache: CacheInfo::fresh_from_registry(),
    };
    let _ = report.to_text();
});
