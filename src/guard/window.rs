//! Allowed hours and days, and blackout dates, in a time zone.

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;

use super::SkipReason;

/// The compiled time window of the guardrails.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    /// Minutes after local midnight: `[start, end)`, wrapping past midnight
    /// when `start > end`.
    hours: Option<(u16, u16)>,
    /// Bit `d` for `Weekday::to_monday_zero_offset() == d`; 0 means any day.
    days: u8,
    blackout: Box<[Date]>,
    pub(crate) tz: TimeZone,
}

impl TimeWindow {
    pub(crate) fn new(hours: Option<(u16, u16)>, days: u8, blackout: Box<[Date]>, tz: TimeZone) -> Self {
        Self { hours, days, blackout, tz }
    }

    /// `Ok` when chaos is allowed at `now`.
    ///
    /// The part after midnight of a span that crosses it belongs to the day
    /// the span started on: its weekday is the day before's. A blackout
    /// date is read per instant: it covers its own calendar day, the part
    /// after midnight of the previous day's span included.
    pub(crate) fn check(&self, now: Timestamp) -> Result<(), SkipReason> {
        if self.hours.is_none() && self.days == 0 && self.blackout.is_empty() {
            return Ok(());
        }
        let local = now.to_zoned(self.tz.clone());
        if self.blackout.contains(&local.date()) {
            return Err(SkipReason::Blackout);
        }
        let mut weekday = local.weekday();
        if let Some((start, end)) = self.hours {
            let minute = u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute())).unwrap_or(0);
            let inside = if start <= end { start <= minute && minute < end } else { minute >= start || minute < end };
            if !inside {
                return Err(SkipReason::OutsideWindow);
            }
            if start > end && minute < end {
                weekday = weekday.wrapping_sub(1);
            }
        }
        if self.days != 0 && self.days & (1 << weekday.to_monday_zero_offset()) == 0 {
            return Err(SkipReason::OutsideWindow);
        }
        Ok(())
    }
}

/// Parses `"HH:MM-HH:MM"` into minutes after midnight.
pub(crate) fn parse_hours(span: &str) -> Result<(u16, u16), String> {
    let (a, b) = span.split_once('-').ok_or("expected \"HH:MM-HH:MM\"")?;
    let minute = |s: &str| -> Result<u16, String> {
        let (h, m) = s.trim().split_once(':').ok_or("expected \"HH:MM-HH:MM\"")?;
        let (h, m): (u16, u16) = (h.parse().map_err(|_| "bad hour")?, m.parse().map_err(|_| "bad minute")?);
        // 24:00 is allowed as an end: the end of the day.
        if m > 59 || h > 24 || (h == 24 && m != 0) {
            return Err(format!("{s:?} is not a time of day"));
        }
        Ok(h * 60 + m)
    };
    let (start, end) = (minute(a)?, minute(b)?);
    if start == 24 * 60 {
        return Err("24:00 ends a span; one that starts at midnight starts at 00:00".into());
    }
    if start == end {
        return Err("the span is empty (start equals end)".into());
    }
    Ok((start, end))
}

/// Parses day names (`Mon`, `monday`, ...) into a bit set.
pub(crate) fn parse_day(day: &str) -> Result<u8, String> {
    let d = day.trim().to_ascii_lowercase();
    let all = [
        ("monday", Weekday::Monday),
        ("tuesday", Weekday::Tuesday),
        ("wednesday", Weekday::Wednesday),
        ("thursday", Weekday::Thursday),
        ("friday", Weekday::Friday),
        ("saturday", Weekday::Saturday),
        ("sunday", Weekday::Sunday),
    ];
    all.iter()
        .find(|(name, _)| d.len() >= 3 && name.starts_with(&d))
        .map(|(_, w)| 1u8 << w.to_monday_zero_offset())
        .ok_or_else(|| "expected a day name such as Mon or Monday".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_and_days_parse() {
        assert_eq!(parse_hours("09:00-16:00"), Ok((540, 960)));
        assert_eq!(parse_hours("22:00-06:30"), Ok((1320, 390)));
        assert_eq!(parse_hours("00:00-24:00"), Ok((0, 1440)));
        assert!(parse_hours("9-5").is_err());
        assert!(parse_hours("09:60-10:00").is_err());
        assert!(parse_hours("10:00-10:00").is_err());
        assert_eq!(parse_day("Mon"), Ok(1));
        assert_eq!(parse_day("thursday"), Ok(8));
        assert_eq!(parse_day("SUN"), Ok(64));
        assert!(parse_day("Mo").is_err());
        assert!(parse_day("Funday").is_err());
    }
}
