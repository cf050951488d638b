//! Server-side SVG charts: a sparkline for lists and a line chart with axes for lag trends. No
//! chart library and no JavaScript; the SVG is built from numbers only (labels are formatted
//! here and escaped by askama where they are interpolated), so nothing user-controlled reaches
//! it unescaped.

use std::fmt::Write;

/// A polyline sparkline of `values`, `width` x `height` pixels; empty when there is nothing to
/// draw.
pub fn sparkline(values: &[i64], width: u32, height: u32) -> String {
    if values.len() < 2 {
        return String::new();
    }
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = f64::from(width) / (values.len() - 1) as f64;
    let mut points = String::new();
    for (i, v) in values.iter().enumerate() {
        let y = f64::from(height) - 1.0 - (*v as f64 / max) * f64::from(height - 2);
        let _ = write!(points, "{:.1},{:.1} ", i as f64 * step, y);
    }
    format!(
        r#"<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="lag trend"><polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{}"/></svg>"#,
        points.trim_end()
    )
}

/// One series of a line chart: (Unix ms, value) points in ascending time.
pub struct Series<'a> {
    pub name: &'a str,
    pub class: &'a str,
    pub points: Vec<(i64, f64)>,
}

/// "Nice" axis ticks (1, 2, 5 x 10^n) covering 0..=max.
fn ticks(max: f64) -> Vec<f64> {
    if max <= 0.0 || !max.is_finite() {
        return vec![0.0, 1.0];
    }
    let raw = max / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(magnitude * 10.0);
    let mut out = vec![0.0];
    while *out.last().unwrap_or(&0.0) < max {
        let next = out.last().copied().unwrap_or(0.0) + step;
        out.push(next);
    }
    out
}

/// A compact number for axis labels: 950, 12k, 3.4M.
pub fn compact(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A line chart with a y axis from 0 and a time x axis spanning `from_ms..to_ms`.
pub fn line_chart(series: &[Series<'_>], from_ms: i64, to_ms: i64, unit: &str) -> String {
    const W: f64 = 720.0;
    const H: f64 = 180.0;
    const LEFT: f64 = 56.0;
    const BOTTOM: f64 = 22.0;
    let (plot_w, plot_h) = (W - LEFT - 8.0, H - BOTTOM - 8.0);
    let max = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0.0f64, f64::max);
    let ticks = ticks(max);
    let top = ticks.last().copied().unwrap_or(1.0).max(1.0);
    let span = (to_ms - from_ms).max(1) as f64;
    let x = |ts: i64| LEFT + ((ts - from_ms) as f64 / span).clamp(0.0, 1.0) * plot_w;
    let y = |v: f64| 8.0 + plot_h - (v / top).clamp(0.0, 1.0) * plot_h;
    let mut svg = format!(r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="trend in {unit}">"#);
    for t in &ticks {
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/><text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT + plot_w,
            y(*t),
            y(*t),
            LEFT - 6.0,
            y(*t) + 4.0,
            compact(*t)
        );
    }
    for i in 0..=4 {
        let ts = from_ms + (span as i64) * i / 4;
        let anchor = match i {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = write!(
            svg,
            r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
            x(ts),
            H - 6.0,
            time_label(ts, span)
        );
    }
    for s in series {
        if s.points.is_empty() {
            continue;
        }
        let mut d = String::new();
        for (i, (ts, v)) in s.points.iter().enumerate() {
            let _ = write!(d, "{}{:.1},{:.1}", if i == 0 { "M" } else { " L" }, x(*ts), y(*v));
        }
        let _ = write!(svg, r#"<path class="{}" d="{d}"><title>{}</title></path>"#, s.class, s.name);
    }
    if series.iter().all(|s| s.points.is_empty()) {
        let _ = write!(
            svg,
            r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="middle">no data yet</text>"#,
            LEFT + plot_w / 2.0,
            8.0 + plot_h / 2.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// An x-axis label: HH:MM for spans up to two days, else MM-DD (UTC).
fn time_label(ts: i64, span_ms: f64) -> String {
    let iso = crate::time::format_iso8601(ts);
    if span_ms <= 2.0 * 86_400_000.0 {
        iso[11..16].to_string()
    } else {
        iso[5..10].to_string()
    }
}

/// A strip of `width` x `height` pixels over `from_ms..to_ms` with one rectangle per span
/// `(start, end, class)`; `class` is one of the stylesheet's strip classes (`under`, `offline`,
/// `down`), never user input.
pub fn strip(spans: &[(i64, i64, &'static str)], from_ms: i64, to_ms: i64, width: u32, height: u32) -> String {
    let range = (to_ms - from_ms).max(1) as f64;
    let x = |ms: i64| ((ms.clamp(from_ms, to_ms) - from_ms) as f64 / range) * f64::from(width);
    let mut out = format!(
        r#"<svg class="strip" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="timeline"><rect class="track" x="0" y="0" width="{width}" height="{height}"/>"#
    );
    for (start, end, class) in spans {
        let (left, right) = (x(*start), x(*end));
        // At least a pixel, so a one-tick blip shows.
        let w = (right - left).max(1.0);
        let _ = write!(out, r#"<rect class="{class}" x="{left:.1}" y="0" width="{w:.1}" height="{height}"/>"#);
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice_and_cover_the_max() {
        assert_eq!(ticks(0.0), vec![0.0, 1.0]);
        assert_eq!(ticks(10.0), vec![0.0, 5.0, 10.0]);
        assert_eq!(ticks(1234.0), vec![0.0, 500.0, 1000.0, 1500.0]);
        assert_eq!(compact(12_345.0), "12k");
        assert_eq!(compact(3_400_000.0), "3.4M");
        assert_eq!(compact(2.5), "2.5");
    }

    #[test]
    fn charts_draw_their_points() {
        let s = sparkline(&[0, 5, 10], 60, 20);
        assert!(s.starts_with("<svg") && s.contains("points=\"0.0,19.0 30.0,10.0 60.0,1.0\""), "{s}");
        assert_eq!(sparkline(&[3], 60, 20), "");
        let chart = line_chart(
            &[Series { name: "lag", class: "s1", points: vec![(0, 0.0), (1000, 10.0)] }],
            0,
            1000,
            "records",
        );
        assert!(chart.contains("<path class=\"s1\" d=\"M56.0,158.0 L712.0,8.0\""), "{chart}");
        assert!(line_chart(&[], 0, 1000, "records").contains("no data yet"));
    }

    #[test]
    fn strips_place_spans_in_time_and_show_blips() {
        let svg = strip(&[(50, 75, "under"), (99, 99, "offline")], 0, 100, 200, 10);
        assert!(svg.contains(r#"<rect class="under" x="100.0" y="0" width="50.0" height="10"/>"#), "{svg}");
        assert!(svg.contains(r#"<rect class="offline" x="198.0" y="0" width="1.0" height="10"/>"#), "{svg}");
        assert!(strip(&[(-50, 10, "down")], 0, 100, 100, 10).contains(r#"x="0.0" y="0" width="10.0""#));
    }
}
