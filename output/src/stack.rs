//! The check document of a stack (docs/json.md, "The check document"): what `mquery check
//! --json` prints and `POST /v1/check` answers, and the rows of the table the CLI prints and
//! the page shows (its text is [`crate::text::stack`]). The `stack` crate judges a stack into
//! it.

use serde::{Serialize, Serializer};

use crate::LookupResult;

/// A stack's answer: the JSON of `mquery check --json` and `POST /v1/check`, and the rows of
/// the table the CLI prints and the page shows.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StackReport {
    /// The platform every image was judged by (`--platform`, containerd-normalized), if one
    /// was given.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub platform: Option<String>,
    pub status: Status,
    pub counts: Counts,
    pub summary: String,
    /// One per distinct image, in the order first found.
    pub images: Vec<ImageEntry>,
    /// One per place that names no image to look up.
    pub problems: Vec<ProblemEntry>,
    #[serde(skip)]
    pub rows: Vec<Row>,
}

/// What a stack's check concluded, as the CLI's exit code says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every image was looked up and supports its platform (exit 0).
    Ok,
    /// Some image lacks its platform (exit 3).
    Unsupported,
    /// A lookup failed, a row could not be checked, or there was nothing to check (exit 1).
    Error,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Distinct images looked up.
    pub images: usize,
    pub supported: usize,
    pub unsupported: usize,
    pub failed: usize,
    /// Rows with a problem (an unresolved variable, a template, an invalid reference or
    /// platform, a file with no images).
    pub not_checked: usize,
    /// Rows listed without a lookup that are not problems: `build:`-only services, and images
    /// of Dockerfile stages the last stage does not use (BuildKit does not build those).
    pub built_locally: usize,
}

/// One distinct image: its v1 document (with `platformCheck` when it was judged) or its error
/// document, and every place naming it.
///
/// Its JSON is the document with `foundIn` added, every object's keys in alphabetical order
/// at every depth, as the check document has always written them: it goes through a
/// `serde_json::Value`, whose maps sort their keys. (The v1 document `/v1/inspect` answers
/// keeps the order docs/json.md lists its fields in.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEntry {
    pub answer: LookupResult,
    /// Every `file:line` naming it.
    pub found_in: Vec<String>,
}

impl Serialize for ImageEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let document = match &self.answer {
            Ok(report) => serde_json::to_value(report),
            Err(error) => serde_json::to_value(error),
        };
        let mut document = document.map_err(serde::ser::Error::custom)?;
        document["foundIn"] = serde_json::Value::from(self.found_in.clone());
        document.serialize(serializer)
    }
}

/// The schema of what [`ImageEntry`] serializes: its v1 document or its error document, each
/// with `foundIn` (every `file:line` naming the image).
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ImageEntry {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ArrayBuilder, ObjectBuilder};
        use utoipa::openapi::{Ref, Type};
        let with_found_in = |document: &str| {
            let found_in = ObjectBuilder::new()
                .property(
                    "foundIn",
                    ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)),
                )
                .required("foundIn");
            AllOfBuilder::new()
                .item(Ref::from_schema_name(document))
                .item(found_in)
        };
        AnyOfBuilder::new()
            .item(with_found_in("Report"))
            .item(with_found_in("ErrorReport"))
            .description(Some(
                "An image's v1 document or error document, with `foundIn`; keys in alphabetical order.",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for ImageEntry {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use crate::{ErrorReport, Report};
        use utoipa::PartialSchema as _;
        schemas.push((Report::name().into_owned(), Report::schema()));
        Report::schemas(schemas);
        schemas.push((ErrorReport::name().into_owned(), ErrorReport::schema()));
        ErrorReport::schemas(schemas);
    }
}

/// A place that names no image to look up: `{"foundIn": ["file:line"], "problem": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProblemEntry {
    /// One `file:line`, or the file's name when the file has none (`-` for the row counting
    /// the places past the cap).
    pub found_in: Vec<String>,
    /// The reason.
    pub problem: String,
}

/// One row of the table: an image, or a place where one was expected.
#[derive(Debug, Clone)]
pub struct Row {
    /// The reference as written; `None` for a problem row.
    pub image: Option<String>,
    pub found_in: Vec<String>,
    /// The platforms, compactly; `None` when there is no answer.
    pub platforms: Option<String>,
    pub verdict: Verdict,
}

/// The platform check column of a row (its text is [`Verdict::text`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `platform` (normalized) is supported, by the entry `entry`.
    Supported {
        platform: String,
        entry: String,
    },
    Unsupported {
        platform: String,
    },
    /// Looked up; no platform was asked for.
    LookedUp,
    /// The lookup failed: the error code and message.
    Failed(String),
    /// Not looked up or not judged, and why.
    NotChecked(String),
    /// Listed, not looked up, and not a problem: a `build:`-only service, or an image of a
    /// Dockerfile stage BuildKit does not build; the sentence says which.
    BuiltLocally(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorCode, ErrorReport};

    /// An entry is its document with `foundIn`, keys in alphabetical order at every depth.
    #[test]
    fn an_entry_is_its_document_with_found_in_keys_sorted() {
        let entry = ImageEntry {
            answer: Err(ErrorReport::of_image(
                "golang",
                ErrorCode::NotFound,
                "manifest unknown".to_owned(),
            )),
            found_in: vec!["compose.yaml:3".to_owned(), "Dockerfile:1".to_owned()],
        };
        assert_eq!(
            serde_json::to_string(&entry).expect("serializes"),
            r#"{"error":{"code":"NOT_FOUND","message":"manifest unknown"},"foundIn":["compose.yaml:3","Dockerfile:1"],"image":"golang"}"#
        );
        let problem = ProblemEntry {
            found_in: vec!["-".to_owned()],
            problem: "why".to_owned(),
        };
        assert_eq!(
            serde_json::to_string(&problem).expect("serializes"),
            r#"{"foundIn":["-"],"problem":"why"}"#
        );
    }
}
