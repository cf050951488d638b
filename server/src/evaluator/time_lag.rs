//! Lag in seconds estimated from a partition's high-watermark history: the fallback for when the
//! timestamp of the record at the committed offset cannot be read from the log.
//!
//! The estimate is the time since the high watermark was at the committed offset, interpolated
//! linearly between the two samples that bracket it. Every answer is finite and non-negative:
//! kafka-lag-exporter's infinities and absurd values come from extrapolating with a zero or tiny
//! rate, so extrapolation here is capped (see `lag_seconds`), and anything that cannot be
//! estimated is `None` rather than a guess.

/// Seconds since the high watermark was at `committed_offset`, from `history` points
/// `(sample_ts_ms, high_watermark)` in ascending time, as seen at `now_ms`.
///
/// - No history: `None`.
/// - `committed_offset` at or beyond the newest high watermark: 0.
/// - Otherwise the newest pair of samples with `hw[i] <= committed < hw[i + 1]` is interpolated,
///   so a flat stretch yields its last moment and a truncated (falling) watermark its latest
///   crossing.
/// - A committed offset below every sample predates the history. With one sample that is
///   `None`. With more, the rate of the oldest two samples is extrapolated backwards from the
///   oldest sample, but never further back than the history spans (newest minus oldest sample
///   time), and that full span is used when the rate is zero or negative. So the answer never
///   exceeds `now - oldest sample + history span`: a slowly fed partition cannot turn a large
///   offset gap into years, and the cap reads as "at least this old".
/// - A sample time after `now_ms` (clock skew) gives 0, never a negative lag.
pub fn lag_seconds(history: &[(i64, i64)], committed_offset: i64, now_ms: i64) -> Option<f64> {
    let &(_, newest_hw) = history.last()?;
    if committed_offset >= newest_hw {
        return Some(0.0);
    }
    let at_ms = match history.windows(2).rposition(|pair| pair[0].1 <= committed_offset) {
        Some(i) => interpolate(history[i], history[i + 1], committed_offset),
        None => extrapolate(history, committed_offset)?,
    };
    let lag = (now_ms as f64 - at_ms) / 1000.0;
    Some(if lag.is_finite() { lag.max(0.0) } else { 0.0 })
}

/// When the watermark was at `offset`, given `a.hw <= offset < b.hw`.
fn interpolate(a: (i64, i64), b: (i64, i64), offset: i64) -> f64 {
    let fraction = (offset as f64 - a.1 as f64) / (b.1 as f64 - a.1 as f64);
    a.0 as f64 + fraction * (b.0 as f64 - a.0 as f64)
}

/// When the watermark was at `offset`, below every sample; see `lag_seconds` for the cap.
fn extrapolate(history: &[(i64, i64)], offset: i64) -> Option<f64> {
    let [(t0, hw0), (t1, hw1), ..] = *history else { return None };
    let newest_ms = history.last().map_or(t1, |&(t, _)| t);
    let cap_ms = (newest_ms as f64 - t0 as f64).max(0.0);
    let (elapsed_ms, produced) = (t1 as f64 - t0 as f64, hw1 as f64 - hw0 as f64);
    let back_ms = if elapsed_ms > 0.0 && produced > 0.0 {
        ((hw0 as f64 - offset as f64) * elapsed_ms / produced).min(cap_ms)
    } else {
        cap_ms
    };
    Some(t0 as f64 - back_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(history: &[(i64, i64)], committed: i64, now_ms: i64, expect: Option<f64>) {
        assert_eq!(lag_seconds(history, committed, now_ms), expect, "{history:?} committed {committed} now {now_ms}");
    }

    #[test]
    fn estimates() {
        let rising = [(0, 0), (10_000, 100), (20_000, 200)];
        // Not enough data.
        check(&[], 5, 1000, None);
        check(&[(0, 100)], 50, 1000, None);
        // At or beyond the high watermark.
        check(&[(0, 100)], 100, 1000, Some(0.0));
        check(&rising, 250, 30_000, Some(0.0));
        // Interpolated between the bracketing samples, or exactly at one.
        check(&rising, 50, 30_000, Some(25.0));
        check(&rising, 100, 30_000, Some(20.0));
        check(&rising, 0, 30_000, Some(30.0));
        // Flat stretch: the last moment the watermark was there.
        check(&[(0, 100), (10_000, 100), (20_000, 200)], 100, 30_000, Some(20.0));
        // Truncated watermark: the newest crossing counts.
        check(&[(0, 500), (10_000, 100), (20_000, 300)], 200, 20_000, Some(5.0));
        // Before the history: extrapolated at the oldest two samples' rate (0.01 per ms) ...
        let history = [(100_000, 1000), (110_000, 1100), (120_000, 1500)];
        check(&history, 950, 130_000, Some(35.0));
        // ... capped at the history span (20 s) when the gap is too large ...
        check(&history, 0, 130_000, Some(50.0));
        check(&history, i64::MIN, 130_000, Some(50.0));
        // ... and saturated at the cap when the oldest pair is flat, falling or simultaneous.
        check(&[(0, 500), (10_000, 500)], 400, 30_000, Some(40.0));
        check(&[(0, 500), (10_000, 400), (20_000, 600)], 300, 20_000, Some(40.0));
        check(&[(5_000, 100), (5_000, 200)], 50, 6_000, Some(1.0));
        check(&[(5_000, 100), (5_000, 200)], 150, 6_000, Some(1.0));
        // Samples newer than now (clock skew) never give a negative lag.
        check(&rising, 50, 0, Some(0.0));
    }

    #[test]
    fn never_negative_infinite_or_absurd() {
        let extremes = [i64::MIN, -1, 0, 1, 1_000, i64::MAX];
        let histories: Vec<Vec<(i64, i64)>> = vec![
            vec![(i64::MIN, i64::MIN), (i64::MAX, i64::MAX)],
            vec![(0, i64::MAX), (1, i64::MAX)],
            vec![(0, 0), (0, 0), (0, 1)],
            vec![(0, 10), (1, 11), (i64::MAX, 12)],
            vec![(i64::MAX, 5), (0, 3), (i64::MIN, 9)],
        ];
        for history in &histories {
            let ascending = history.windows(2).all(|pair| pair[0].0 <= pair[1].0);
            let oldest = history[0].0 as f64;
            let span = (history[history.len() - 1].0 as f64 - oldest).max(0.0);
            for &committed in &extremes {
                for &now in &extremes {
                    let Some(lag) = lag_seconds(history, committed, now) else { continue };
                    assert!(lag.is_finite() && lag >= 0.0, "{history:?} {committed} {now}: {lag}");
                    let bound = ((now as f64 - oldest + span) / 1000.0).max(0.0);
                    assert!(
                        !ascending || lag <= bound * (1.0 + 1e-9),
                        "{history:?} {committed} {now}: {lag} > {bound}"
                    );
                }
            }
        }
    }
}
