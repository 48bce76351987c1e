//! Serde support for durations written as `"150ms"`, `"2s"`, `"1m 30s"` or an
//! integer number of milliseconds.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as \"150ms\" or \"2s\", or an integer number of milliseconds")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Ok(Duration::from_millis(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        u64::try_from(v).map(Duration::from_millis).map_err(|_| E::custom(format_args!("negative duration {v} ms")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        if !(v.is_finite() && v >= 0.0) {
            return Err(E::custom(format_args!("invalid duration {v} ms")));
        }
        Duration::try_from_secs_f64(v / 1000.0).map_err(|_| E::custom(format_args!("duration {v} ms is too long")))
    }
}

/// Parses `"150ms"`, `"2s"`, `"1m 30s"` (humantime syntax) or a bare integer
/// number of milliseconds.
pub(crate) fn parse(v: &str) -> Result<Duration, String> {
    let t = v.trim();
    if let Ok(ms) = t.parse::<u64>() {
        return Ok(Duration::from_millis(ms));
    }
    humantime::parse_duration(t).map_err(|e| format!("invalid duration {v:?}: {e}"))
}

/// Formats a duration the way it is parsed (`"150ms"`, `"2s"`).
pub(crate) fn format(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

pub(crate) mod required {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(DurationVisitor)
    }
}

pub(crate) mod option {
    use super::*;
    use serde::Deserialize;

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&format(*d)),
            None => s.serialize_none(),
        }
    }

    /// A duration; no value (`null`) is an error, as for every optional
    /// field (see [`present`](crate::config::present)).
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(deserialize_with = "required")] Duration);
        Ok(crate::config::present::<D, Wrap>(d)?.map(|w| w.0))
    }

    fn required<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(DurationVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_bare_millis() {
        assert_eq!(parse("150ms"), Ok(Duration::from_millis(150)));
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("250"), Ok(Duration::from_millis(250)));
        let err = parse("fast").unwrap_err();
        assert!(err.contains("\"fast\""), "{err}");
        assert_eq!(format(Duration::from_millis(150)), "150ms");
    }
}
