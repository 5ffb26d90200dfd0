//! Sandbox clock and ISO-8601 helpers.

use chrono::{DateTime, Duration, SecondsFormat, Timelike, Utc};

/// Wall clock with a settable offset, so tests can move "now" without waiting.
#[derive(Debug, Clone, Default)]
pub struct SandboxClock {
    offset: Duration,
}

impl SandboxClock {
    pub fn starting_at(start: Option<DateTime<Utc>>) -> Self {
        let mut clock = Self::default();
        if let Some(start) = start {
            clock.set_now(start);
        }
        clock
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }

    pub fn set_now(&mut self, now: DateTime<Utc>) {
        self.offset = now - Utc::now();
    }
}

/// Seeded and stored timestamps are whole seconds, so what clients see is exactly what filters use.
pub fn truncate_to_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(0).unwrap_or(t)
}

pub fn truncate_to_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    let t = truncate_to_second(t);
    t.with_minute(0).and_then(|t| t.with_second(0)).unwrap_or(t)
}

/// `2026-01-02T03:04:05Z`
pub fn format_iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `2026-01-02T03:04:05.678Z` (call log only).
pub fn format_iso_millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an ISO-8601 UTC timestamp. Like Amazon, only the `Z` designator is accepted:
/// explicit offsets such as `+09:00` are rejected.
pub fn parse_utc(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if !(s.ends_with('Z') || s.ends_with('z')) {
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// Serde adapter writing `DateTime<Utc>` as `…Z` with whole seconds.
pub mod iso {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_iso(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let raw = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&raw).map(|t| t.with_timezone(&Utc)).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_offsets() {
        assert!(parse_utc("2026-01-01T00:00:00Z").is_some());
        assert!(parse_utc("2026-01-01T00:00:00.123Z").is_some());
        assert!(parse_utc("2026-01-01T00:00:00+09:00").is_none());
        assert!(parse_utc("2026-01-01T00:00:00 09:00").is_none());
        assert!(parse_utc("2026-01-01").is_none());
    }

    #[test]
    fn clock_offset() {
        let target = parse_utc("2030-05-05T10:00:00Z").unwrap();
        let clock = SandboxClock::starting_at(Some(target));
        let delta = (clock.now() - target).num_seconds().abs();
        assert!(delta < 5);
        assert_eq!(format_iso(truncate_to_hour(clock.now() + Duration::minutes(1))), "2030-05-05T10:00:00Z");
    }
}
