//! How numbers, sizes and times read on the pages: thousands separators, binary sizes, rates,
//! and times both relative ("3 min ago") and absolute (UTC ISO 8601, in a `title`).

/// 1234567 -> "1,234,567".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes as "0 B", "12.3 KiB", "4.0 GiB".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A per-second rate: "0/s", "12/s", "3,400/s".
pub fn rate(per_second: f64) -> String {
    if !per_second.is_finite() || per_second <= 0.0 {
        return "0/s".into();
    }
    if per_second < 10.0 {
        return format!("{per_second:.1}/s");
    }
    format!("{}/s", thousands(per_second.round() as i64))
}

/// Lag in seconds as a short duration, or "–" when unknown.
pub fn lag_seconds(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "–".to_string(), crate::time::duration)
}

/// A moment shown relative to now, with the absolute time for a tooltip.
#[derive(Debug, Clone)]
pub struct When {
    pub relative: String,
    pub absolute: String,
}

pub fn when(ms: i64, now_ms: i64) -> When {
    When { relative: crate::time::relative(ms, now_ms), absolute: crate::time::format_iso8601(ms) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        for (n, text) in [(0, "0"), (999, "999"), (1000, "1,000"), (1_234_567, "1,234,567"), (-45_000, "-45,000")] {
            assert_eq!(thousands(n), text);
        }
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
        assert_eq!(rate(0.0), "0/s");
        assert_eq!(rate(2.25), "2.2/s");
        assert_eq!(rate(3400.4), "3,400/s");
        assert_eq!(lag_seconds(None), "–");
        assert_eq!(lag_seconds(Some(65.0)), "1 min 5 s");
    }
}
