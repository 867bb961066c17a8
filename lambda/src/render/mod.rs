//! Renderers for the formats the service speaks. JSON and text come from
//! `output::Report` itself, so the CLI and the service print the same bytes.

pub mod badge;
pub mod html;
pub mod mquery;

pub use output::clip;
