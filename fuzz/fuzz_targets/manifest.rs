//! The manifest summarizer never panics on any body, under any Content-Type: parsing,
//! classifying entries, reading a config and rendering the text all survive hostile input.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use output::{CacheInfo, Report};
use oci::manifest::{Manifest, media_type, parse_manifest, platform_from_config};
use oci::{Digest, ImageContent, Summary};

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
    // the client's own summarizer, with the nested indexes left unresolved
    let digest = Digest::sha256(body);
    let summary = match manifest {
        Manifest::Index {
            media_type,
            entries,
        } => {
            assert!(entries.len() <= 1024);
            let _ = Summary::nested_indexes(&entries);
            match Summary::from_index(&digest, media_type.into(), &entries, &HashMap::new(), 1024) {
                Ok(summary) => summary,
                Err(_) => return,
            }
        }
        Manifest::Image {
            media_type, config, ..
        } => Summary::from_image(
            &digest,
            media_type.into(),
            body.len() as u64,
            ImageContent::Artifact(config.media_type),
        ),
    };
    let report = Report {
        image: "fuzz".into(),
        reference: "docker.io/library/fuzz:latest".into(),
        summary,
        cache: CacheInfo::fresh_from_registry(),
        platform_check: None,
        verification: None,
    };
    let _ = report.to_text(oci::Sense::Native);
});
