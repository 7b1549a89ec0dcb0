//! Instants in answers and in query parameters. Stored values are UTC without an offset;
//! every answer writes them as RFC 3339 in UTC with `Z` (`2026-11-27T10:31:04.870740Z`),
//! and every parameter that takes an instant accepts any RFC 3339 offset (and, for
//! readability, a bare date or a time without one, read as UTC).

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Deserializer, Serializer};

use crate::error::{AppError, AppResult};

/// How an instant is written.
const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// An instant as answers write it.
pub fn format(at: &NaiveDateTime) -> String {
    at.format(FORMAT).to_string()
}

/// Reads an instant given as a parameter: RFC 3339 with any offset (converted to UTC),
/// `YYYY-MM-DDTHH:MM:SS[.ffffff]` (UTC), or `YYYY-MM-DD` (midnight UTC); a 422 naming
/// `field` otherwise.
pub fn parse(field: &str, text: &str) -> AppResult<NaiveDateTime> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.naive_utc())
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f"))
        .or_else(|_| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight"))
        })
        .map_err(|_| {
            AppError::invalid(
                field,
                "must be an RFC 3339 date-time (2026-11-27T08:00:00Z, or with an offset such as +08:00) or a date (YYYY-MM-DD, UTC)",
            )
        })
}

/// `#[serde(with = "crate::timestamp::utc")]` on a stored instant.
pub mod utc {
    use super::*;

    /// Writes RFC 3339 in UTC.
    pub fn serialize<S: Serializer>(at: &NaiveDateTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(at))
    }

    /// Reads RFC 3339 with any offset.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<NaiveDateTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse("timestamp", &text).map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with = "crate::timestamp::utc_option")]` on an instant that may be absent.
pub mod utc_option {
    use super::*;

    /// Writes RFC 3339 in UTC, or null.
    pub fn serialize<S: Serializer>(
        at: &Option<NaiveDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => serializer.serialize_str(&format(at)),
            None => serializer.serialize_none(),
        }
    }

    /// Reads RFC 3339 with any offset, or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<NaiveDateTime>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| parse("timestamp", &text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rfc_3339_form_reads_as_the_same_utc_instant() {
        let expected = NaiveDate::from_ymd_opt(2026, 11, 27)
            .unwrap()
            .and_hms_opt(2, 0, 0)
            .unwrap();
        for text in [
            "2026-11-27T02:00:00Z",
            "2026-11-27T02:00:00+00:00",
            "2026-11-27T10:00:00+08:00",
            "2026-11-27t02:00:00z",
            "2026-11-27T02:00:00",
        ] {
            assert_eq!(parse("since", text).unwrap(), expected, "{text}");
        }
        assert_eq!(
            parse("since", "2026-11-27").unwrap(),
            expected.date().and_hms_opt(0, 0, 0).unwrap()
        );
        assert!(parse("since", "27/11/2026").is_err());
    }

    #[test]
    fn answers_write_utc_with_z_and_read_back() {
        let at = NaiveDate::from_ymd_opt(2026, 11, 27)
            .unwrap()
            .and_hms_micro_opt(10, 31, 4, 870_740)
            .unwrap();
        assert_eq!(format(&at), "2026-11-27T10:31:04.870740Z");
        assert_eq!(parse("at", &format(&at)).unwrap(), at);
    }
}
