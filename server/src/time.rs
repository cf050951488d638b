//! Wall-clock conversions between Unix milliseconds and ISO 8601 text, without a date library:
//! `YYYY-MM-DDTHH:MM[:SS[.fff]]` followed by `Z`, `+HH:MM`, `-HH:MM` or nothing (UTC), and the
//! dashboard's relative form ("3 min ago"). The civil-date arithmetic is Howard Hinnant's
//! days-from-civil algorithm, valid for the proleptic Gregorian calendar.

/// Parses an ISO 8601 date-time into Unix milliseconds. A missing zone means UTC.
pub fn parse_iso8601_ms(text: &str) -> Result<i64, String> {
    let bad = || format!("'{text}' is not an ISO 8601 date-time like 2026-11-26T17:00:00Z");
    let t = text.trim();
    let (date, rest) = t.split_once(['T', ' ']).ok_or_else(bad)?;
    let mut d = date.split('-');
    let (year, month, day): (i64, i64, i64) = (
        d.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?,
        d.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?,
        d.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?,
    );
    if d.next().is_some() || !(1..=12).contains(&month) || !(1..=days_in_month(year, month)).contains(&day) {
        return Err(bad());
    }
    let (clock, offset_minutes) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(i) = rest.rfind(['+', '-']).filter(|i| *i >= 5) {
        let (c, zone) = rest.split_at(i);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let zone = &zone[1..];
        let (h, m) = zone.split_once(':').unwrap_or((zone.get(..2).unwrap_or(""), zone.get(2..).unwrap_or("0")));
        let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 23 || m > 59 {
            return Err(bad());
        }
        (c, sign * (h * 60 + m))
    } else {
        (rest, 0)
    };
    let mut parts = clock.split(':');
    let hour: i64 = parts.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let minute: i64 = parts.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let (second, millis) = match parts.next() {
        None => (0, 0),
        Some(s) => {
            let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
            let whole: i64 = whole.parse().map_err(|_| bad())?;
            let digits: String = fraction.chars().take(3).collect();
            if !fraction.chars().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            let millis =
                if digits.is_empty() { 0 } else { format!("{digits:0<3}").parse::<i64>().map_err(|_| bad())? };
            (whole, millis)
        }
    };
    if parts.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return Err(bad());
    }
    let days = days_from_civil(year, month, day);
    Ok(((days * 86_400 + hour * 3600 + minute * 60 + second) - offset_minutes * 60) * 1000 + millis)
}

/// Formats Unix milliseconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn format_iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// "just now", "42 s ago", "3 min ago", "5 h ago", "2 d ago" (or "in ..." for the future).
pub fn relative(ms: i64, now_ms: i64) -> String {
    let delta = (now_ms - ms) / 1000;
    let (n, future) = (delta.abs(), delta < 0);
    let text = match n {
        0..=1 => return "just now".to_string(),
        2..=119 => format!("{n} s"),
        120..=7199 => format!("{} min", n / 60),
        7200..=172_799 => format!("{} h", n / 3600),
        _ => format!("{} d", n / 86_400),
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// A duration in seconds, short: "0 s", "42 s", "3 min 5 s", "2 h 10 min", "3 d 4 h".
pub fn duration(seconds: f64) -> String {
    let s = if seconds.is_finite() { seconds.max(0.0).round() as i64 } else { 0 };
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day counted from 1970-01-01 (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        let check = |text: &str, ms: i64| assert_eq!(parse_iso8601_ms(text), Ok(ms), "{text}");
        check("1970-01-01T00:00:00Z", 0);
        check("2026-11-26T17:00:00Z", 1_795_712_400_000);
        check("2026-11-26T17:00:00.250Z", 1_795_712_400_250);
        check("2026-11-26T17:00:00.5Z", 1_795_712_400_500);
        check("2026-11-26T19:00:00+02:00", 1_795_712_400_000);
        check("2026-11-26T12:30:00-0430", 1_795_712_400_000);
        check("2026-11-26T17:00", 1_795_712_400_000);
        check("2024-02-29T00:00:00Z", 1_709_164_800_000);
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2026-11-26T25:00:00Z",
            "2026-11-26",
            "2026-11-26T17:00:00.x1Z",
        ] {
            assert!(parse_iso8601_ms(bad).is_err(), "{bad}");
        }
        assert_eq!(format_iso8601(1_795_712_400_250), "2026-11-26T17:00:00Z");
        assert_eq!(format_iso8601(0), "1970-01-01T00:00:00Z");
        for ms in [0, 951_782_400_000, 1_709_164_800_000, 4_102_444_800_000] {
            assert_eq!(parse_iso8601_ms(&format_iso8601(ms)), Ok(ms));
        }
    }

    #[test]
    fn relative_and_durations() {
        assert_eq!(relative(1_000, 1_500), "just now");
        assert_eq!(relative(0, 42_000), "42 s ago");
        assert_eq!(relative(0, 300_000), "5 min ago");
        assert_eq!(relative(0, 3 * 86_400_000), "3 d ago");
        assert_eq!(relative(60_000, 0), "in 60 s");
        assert_eq!(duration(30.4), "30 s");
        assert_eq!(duration(185.0), "3 min 5 s");
        assert_eq!(duration(f64::NAN), "0 s");
        assert_eq!(duration(90_000.0), "1 d 1 h");
    }
}
