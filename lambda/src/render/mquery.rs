//! mquery's own JSON shape (`GET /mquery?image=`), so existing mquery clients keep working:
//! `{cachets, islist, imagename, digest, mediatype, archlist}` with `archlist` a list of OCI
//! platform objects, and `{"error": "..."}` on failure.

use std::time::UNIX_EPOCH;

use registry::Platform;
use serde::Serialize;

use crate::inspect::Answer;

/// The mquery-compatible answer (docs/json.md, "The mquery-compatible shape").
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MqueryImage<'a> {
    /// When the registry was asked, in epoch seconds.
    cachets: u64,
    islist: bool,
    imagename: &'a str,
    digest: &'a str,
    mediatype: &'a str,
    archlist: Vec<&'a Platform>,
}

/// mquery's error answer: `{"error": "message"}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MqueryError<'a> {
    error: &'a str,
}

pub fn answer(answer: &Answer, image: &str) -> Vec<u8> {
    let s = &answer.summary;
    let doc = MqueryImage {
        cachets: answer
            .fetched_at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        islist: s.is_list,
        imagename: image,
        digest: s.digest.as_str(),
        mediatype: s.media_type.as_str(),
        archlist: s.platforms.iter().map(|p| &p.platform).collect(),
    };
    // serializing plain structs of strings cannot fail
    serde_json::to_vec(&doc).unwrap_or_default()
}

pub fn error(message: &str) -> Vec<u8> {
    serde_json::to_vec(&MqueryError { error: message }).unwrap_or_default()
}
