//! `audit stats --html`: one self-contained page (inline CSS and SVG, no script, nothing
//! fetched) with the summary table, and per group a latency histogram and a calls-over-time
//! chart with errors stacked in red. Hovering a bar shows its numbers (SVG `<title>`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::stats::{Group, Row};

const WIDTH: f64 = 460.0;
const HEIGHT: f64 = 160.0;
const MARGIN_LEFT: f64 = 44.0;
const MARGIN_BOTTOM: f64 = 30.0;

/// Latency bucket edges in milliseconds (1-2-5 steps); the last bucket is open-ended.
const EDGES_MS: [f64; 20] = [
    0.0, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0,
    5000.0, 10000.0, 20000.0, 50000.0, 100000.0,
];

/// Bin widths for the time axis, in seconds, with their labels: the first that gives at most
/// 60 bins is used.
const BINS: [(i64, &str); 9] = [
    (60, "minute"),
    (300, "5 minutes"),
    (900, "15 minutes"),
    (3600, "hour"),
    (6 * 3600, "6 hours"),
    (86400, "day"),
    (7 * 86400, "week"),
    (30 * 86400, "30 days"),
    (365 * 86400, "year"),
];

/// What the page says about how it was made.
pub struct Context<'a> {
    pub source: &'a str,
    pub by: &'a str,
    pub filters: &'a str,
}

pub fn render(context: &Context, rows: &[Row], groups: &[(&str, &Group)]) -> String {
    let mut page = String::with_capacity(64 * 1024);
    let total: u64 = rows.iter().map(|r| r.count).sum();
    let generated = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let _ = write!(
        page,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Audit report: {source}</title>
<style>
body{{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}}
table{{border-collapse:collapse;margin:12px 0}}th,td{{padding:3px 10px;text-align:right;border-bottom:1px solid #ddd}}
th:first-child,td:first-child{{text-align:left}}section{{margin:28px 0}}h2{{font-size:16px;margin:0 0 6px}}
.charts{{display:flex;flex-wrap:wrap;gap:24px}}.muted{{color:#777}}svg text{{font-size:10px;fill:#555}}
.ok{{fill:#4a7fb5}}.err{{fill:#d9534f}}.lat{{fill:#6a9f58}}
</style></head><body>
<h1>Audit report</h1>
<p class="muted">Source <code>{source}</code> · grouped by {by} · {filters} · {total} entries · generated {generated}</p>
<table><tr><th>{by}</th><th>count</th><th>error rate</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>bytes</th></tr>
"#,
        source = escape(context.source),
        by = escape(context.by),
        filters = escape(context.filters),
    );
    for row in rows {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{:.2}%</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td></tr>",
            escape(&row.name),
            row.count,
            row.error_rate * 100.0,
            row.p50_ms,
            row.p95_ms,
            row.p99_ms,
            row.max_ms,
            row.bytes
        );
    }
    page.push_str("</table>\n");
    let (start, end) = groups
        .iter()
        .flat_map(|(_, g)| g.times.keys().copied())
        .fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
    let bin = BINS
        .iter()
        .copied()
        .find(|(width, _)| (end.saturating_sub(start)) / width < 60)
        .unwrap_or(BINS[BINS.len() - 1]);
    for (name, group) in groups {
        let _ = writeln!(
            page,
            "<section><h2>{}</h2><div class=\"charts\">{}{}</div></section>",
            escape(name),
            histogram(&group.durations),
            over_time(&group.times, start, bin),
        );
    }
    page.push_str("</body></html>\n");
    page
}

/// Bars of calls per latency bucket.
fn histogram(durations: &Histogram<u64>) -> String {
    let mut counts = [0u64; EDGES_MS.len()];
    for value in durations.iter_recorded() {
        let ms = value.value_iterated_to() as f64 / 1000.0;
        let bucket = EDGES_MS.iter().rposition(|edge| ms >= *edge).unwrap_or(0);
        counts[bucket] += value.count_at_value();
    }
    let first = counts.iter().position(|c| *c > 0).unwrap_or(0);
    let last = counts.iter().rposition(|c| *c > 0).unwrap_or(0);
    let label = |i: usize| match EDGES_MS.get(i + 1) {
        Some(next) => format!("{}–{} ms", EDGES_MS[i], next),
        None => format!("≥ {} ms", EDGES_MS[i]),
    };
    let bars: Vec<(String, String, [u64; 2])> = (first..=last)
        .map(|i| (format!("{}", EDGES_MS[i]), label(i), [counts[i], 0]))
        .collect();
    chart("latency (ms, lower bound of each bucket)", &bars, "lat")
}

/// Calls per time bin, errors stacked on top in red.
fn over_time(times: &BTreeMap<i64, [u64; 2]>, start: i64, (width, unit): (i64, &str)) -> String {
    if times.is_empty() {
        return String::new();
    }
    let origin = start - start.rem_euclid(width);
    let last = times.keys().next_back().copied().unwrap_or(start);
    let bins = ((last - origin) / width + 1).clamp(1, 400) as usize;
    let mut counts = vec![[0u64; 2]; bins];
    for (t, [ok, errors]) in times {
        let i = (((t - origin) / width) as usize).min(bins - 1);
        counts[i][0] += ok;
        counts[i][1] += errors;
    }
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    let at = |i: usize| {
        time::OffsetDateTime::from_unix_timestamp(origin + i as i64 * width)
            .ok()
            .and_then(|t| t.format(format).ok())
            .unwrap_or_default()
    };
    let bars: Vec<(String, String, [u64; 2])> = counts
        .iter()
        .enumerate()
        .map(|(i, c)| (at(i), format!("{} UTC (per {unit})", at(i)), [c[0], c[1]]))
        .collect();
    chart(&format!("calls per {unit} (errors in red)"), &bars, "ok")
}

/// A bar chart: each bar is (axis label, tooltip, [value, stacked errors]).
fn chart(title: &str, bars: &[(String, String, [u64; 2])], class: &str) -> String {
    let max = bars
        .iter()
        .map(|(_, _, v)| v[0] + v[1])
        .max()
        .unwrap_or(0)
        .max(1);
    let plot_w = WIDTH - MARGIN_LEFT - 8.0;
    let plot_h = HEIGHT - MARGIN_BOTTOM - 18.0;
    let step = plot_w / bars.len().max(1) as f64;
    let mut svg = format!(
        r##"<svg width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{title}"><text x="{MARGIN_LEFT}" y="11">{title}</text><text x="{x}" y="{y_top}" text-anchor="end">{max}</text><text x="{x}" y="{y_zero}" text-anchor="end">0</text><line x1="{MARGIN_LEFT}" y1="{y_zero}" x2="{x_end}" y2="{y_zero}" stroke="#999"/>"##,
        title = escape(title),
        x = MARGIN_LEFT - 4.0,
        y_top = 18.0 + 8.0,
        y_zero = 18.0 + plot_h,
        x_end = WIDTH - 8.0,
    );
    let label_every = (bars.len() / 6).max(1);
    for (i, (label, tooltip, [value, errors])) in bars.iter().enumerate() {
        let x = MARGIN_LEFT + i as f64 * step;
        let h_value = plot_h * *value as f64 / max as f64;
        let h_errors = plot_h * *errors as f64 / max as f64;
        let base = 18.0 + plot_h;
        let bar_w = (step - 1.0).max(1.0);
        let tip = if *errors > 0 {
            format!("{tooltip}: {} calls, {errors} errors", value + errors)
        } else {
            format!("{tooltip}: {value} calls")
        };
        let _ = write!(
            svg,
            r#"<g><title>{tip}</title><rect class="{class}" x="{x:.1}" y="{:.1}" width="{bar_w:.1}" height="{h_value:.1}"/>"#,
            base - h_value,
            tip = escape(&tip),
        );
        if *errors > 0 {
            let _ = write!(
                svg,
                r#"<rect class="err" x="{x:.1}" y="{:.1}" width="{bar_w:.1}" height="{h_errors:.1}"/>"#,
                base - h_value - h_errors
            );
        }
        svg.push_str("</g>");
        if i % label_every == 0 {
            let _ = write!(
                svg,
                r#"<text x="{x:.1}" y="{:.1}">{}</text>"#,
                base + 12.0,
                escape(label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// HTML-escaped, after control and bidirectional characters were made visible (a reversed
/// user name must not reverse the report's text).
fn escape(text: &str) -> String {
    let text = audit_core::escape_for_display(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped() {
        assert_eq!(escape("<script>&\"'"), "&lt;script&gt;&amp;&quot;&#39;");
    }

    #[test]
    fn latencies_fall_into_their_buckets() {
        let mut durations = Group::default().durations;
        for micros in [400, 400, 3_000, 150_000_000] {
            durations.record(micros).unwrap();
        }
        let svg = histogram(&durations);
        assert!(svg.contains("0.2–0.5 ms: 2 calls"), "{svg}");
        assert!(svg.contains("2–5 ms: 1 calls"), "{svg}");
        assert!(svg.contains("≥ 100000 ms: 1 calls"), "{svg}");
    }

    #[test]
    fn calls_are_binned_over_time_with_errors_stacked() {
        let times = BTreeMap::from([(0, [1, 0]), (30, [0, 1]), (61, [1, 0]), (3000, [1, 0])]);
        let svg = over_time(&times, 0, (60, "minute"));
        assert!(
            svg.contains("1970-01-01 00:00 UTC (per minute): 2 calls, 1 errors"),
            "{svg}"
        );
        assert!(
            svg.contains("1970-01-01 00:01 UTC (per minute): 1 calls"),
            "{svg}"
        );
        assert!(svg.contains("class=\"err\""));
    }
}
