//! Times are `SystemTime` until they are written: RFC 3339, UTC, whole seconds
//! (`2026-11-22T19:23:55Z`), the form every document uses.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `time` in RFC 3339 with second precision. Times before 1970 read as the epoch, and times
/// past year 9999 (which RFC 3339 cannot write; `OffsetDateTime::from` would panic) as the
/// last second of 9999.
pub fn rfc3339(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let whole = i64::try_from(secs)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .filter(|t| t.year() <= 9999)
        .unwrap_or(LAST);
    whole.format(&Rfc3339).unwrap_or_default()
}

/// 9999-12-31T23:59:59Z.
const LAST: OffsetDateTime = time::macros::datetime!(9999-12-31 23:59:59 UTC);

/// Parses an RFC 3339 time (any offset, any precision).
pub fn parse(text: &str) -> Result<SystemTime, time::error::Parse> {
    OffsetDateTime::parse(text, &Rfc3339).map(SystemTime::from)
}

/// serde for a `SystemTime` field.
pub fn serialize<S: Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339(*time))
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SystemTime, D::Error> {
    let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// serde for an `Option<SystemTime>` field (`null` when absent).
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(
        time: &Option<SystemTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => serializer.serialize_some(&rfc3339(*time)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        let text = Option::<std::borrow::Cow<str>>::deserialize(deserializer)?;
        text.map(|t| parse(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn known_values() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(1_795_375_435_999)),
            "2026-11-22T19:23:55Z"
        );
        assert_eq!(
            parse("2026-11-22T19:23:55Z").expect("parses"),
            UNIX_EPOCH + Duration::from_secs(1_795_375_435)
        );
        assert_eq!(
            parse("2026-11-22T20:23:55+01:00").expect("parses"),
            UNIX_EPOCH + Duration::from_secs(1_795_375_435)
        );
        assert!(parse("yesterday").is_err());
        // hostile stored times never panic
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(u64::MAX / 4)),
            "9999-12-31T23:59:59Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(86_400)),
            "1970-01-01T00:00:00Z"
        );
    }
}
