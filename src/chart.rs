//! Hand-written SVG bar charts for `dsr bench … --chart`: grouped bars (one group per file
//! kind, one bar per series = backend) of a median with a min–max whisker, a value axis from 0
//! with labelled ticks, a legend, a title and subtitle lines (machine, device, command).
//!
//! Owns only the drawing; the caller decides what the groups, series and values are.
//! Invariants: the output is one self-contained `<svg>` element (no scripts, no external
//! fonts or styles); every piece of caller text is XML-escaped; a bar's height is exactly
//! proportional to its median (the axis starts at 0 and ends at a "nice" value ≥ every
//! whisker top); a missing value draws no bar; non-finite or negative figures are drawn as 0.

use std::fmt::Write as _;

/// One bar: the median and the spread (min–max whisker) of a series in a group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// The bar's height.
    pub median: f64,
    /// The whisker's bottom.
    pub min: f64,
    /// The whisker's top.
    pub max: f64,
}

/// A grouped bar chart.
#[derive(Debug, Clone, Default)]
pub struct BarChart {
    /// First line, bold.
    pub title: String,
    /// Lines under the title (machine, device, command).
    pub subtitle: Vec<String>,
    /// Label of the value (vertical) axis.
    pub value_label: String,
    /// Label under the groups.
    pub group_label: String,
    /// Group names, left to right.
    pub groups: Vec<String>,
    /// Series names (legend order; bar order within a group).
    pub series: Vec<String>,
    /// `values[group][series]`; `None` draws no bar.
    pub values: Vec<Vec<Option<Bar>>>,
}

/// Series colours (colour-blind-friendly, Okabe–Ito), cycled.
const COLOURS: [&str; 8] =
    ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 560.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 190.0;
const TOP_TITLE: f64 = 28.0;
const LINE: f64 = 18.0;
const BOTTOM: f64 = 70.0;

/// `s` with `&`, `<`, `>`, `"` and `'` escaped, and control characters (not allowed in XML
/// 1.0) replaced by U+FFFD, for text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// The smallest "nice" number (1, 2, 2.5 or 5 × 10^k, times a whole number of ticks ≤ 5)
/// that is ≥ `v`; 1 for `v` ≤ 0 or not finite. Returns `(top, tick step)`.
fn nice_axis(v: f64) -> (f64, f64) {
    if !(v.is_finite() && v > 0.0) {
        return (1.0, 0.2);
    }
    let exp = 10f64.powf(v.log10().floor());
    for m in [0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0] {
        let step = m * exp;
        let ticks = (v / step).ceil();
        if ticks <= 5.0 {
            return (step * ticks.max(1.0), step);
        }
    }
    (10.0 * exp, 2.0 * exp)
}

fn clean(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}

/// A tick label: `v` with as many decimals as the tick step needs.
fn tick_label(v: f64, step: f64) -> String {
    let decimals = (0..6).find(|&d| {
        let scaled = step * 10f64.powi(d);
        (scaled - scaled.round()).abs() < 1e-6
    });
    format!("{v:.*}", decimals.unwrap_or(6) as usize)
}

/// Splits `line` at spaces into lines of at most `width` characters (a longer word stays
/// whole on a line of its own).
fn wrap(line: &str, width: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in line.split(' ') {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    out.push(cur);
    out
}

/// Characters of a subtitle line (12 px sans-serif: about 6.5 px each).
const SUBTITLE_WIDTH: usize = 140;
/// Most subtitle lines drawn; the last one ends in `…` when text was left out.
const SUBTITLE_LINES: usize = 6;

/// A figure with about three significant digits.
fn figure(v: f64) -> String {
    match v {
        0.0 => "0".to_owned(),
        v if v >= 100.0 => format!("{v:.0}"),
        v if v >= 10.0 => format!("{v:.1}"),
        v if v >= 1.0 => format!("{v:.2}"),
        v => format!("{v:.3}"),
    }
}

impl BarChart {
    /// The top of the value axis and its tick step.
    fn axis(&self) -> (f64, f64) {
        let top = self
            .values
            .iter()
            .flatten()
            .flatten()
            .map(|b| clean(b.max).max(clean(b.median)))
            .fold(0.0, f64::max);
        nice_axis(top)
    }

    /// The chart as an SVG document.
    pub fn to_svg(&self) -> String {
        let mut s = String::new();
        let mut subtitle: Vec<String> = self.subtitle.iter().flat_map(|l| wrap(l, SUBTITLE_WIDTH)).collect();
        if subtitle.len() > SUBTITLE_LINES {
            subtitle.truncate(SUBTITLE_LINES);
            subtitle[SUBTITLE_LINES - 1].push_str(" …");
        }
        let top = TOP_TITLE + LINE * (subtitle.len() as f64 + 1.0);
        let (plot_x, plot_y) = (LEFT, top);
        let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - top - BOTTOM);
        let (axis_top, step) = self.axis();
        let y_of = |v: f64| plot_y + plot_h - clean(v) / axis_top * plot_h;

        // `write!` into a `String` cannot fail.
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text class="title" x="{}" y="{TOP_TITLE}" text-anchor="middle" font-size="16" font-weight="bold">{}</text>"#,
            WIDTH / 2.0,
            escape(&self.title)
        );
        for (i, line) in subtitle.iter().enumerate() {
            let _ = writeln!(
                s,
                r##"<text class="subtitle" x="{}" y="{:.1}" text-anchor="middle" fill="#444">{}</text>"##,
                WIDTH / 2.0,
                TOP_TITLE + LINE * (i as f64 + 1.0),
                escape(line)
            );
        }

        // Value axis: grid lines and tick labels.
        let ticks = (axis_top / step).round() as usize;
        for t in 0..=ticks {
            let v = step * t as f64;
            let y = y_of(v);
            let _ = writeln!(
                s,
                r##"<line x1="{plot_x}" y1="{y:.2}" x2="{:.2}" y2="{y:.2}" stroke="#ddd"/>"##,
                plot_x + plot_w
            );
            let _ = writeln!(
                s,
                r#"<text class="tick" x="{:.2}" y="{:.2}" text-anchor="end">{}</text>"#,
                plot_x - 6.0,
                y + 4.0,
                tick_label(v, step)
            );
        }
        let _ = writeln!(
            s,
            r#"<line x1="{plot_x}" y1="{plot_y:.2}" x2="{plot_x}" y2="{:.2}" stroke="black"/>"#,
            plot_y + plot_h
        );
        let _ = writeln!(
            s,
            r#"<line x1="{plot_x}" y1="{0:.2}" x2="{1:.2}" y2="{0:.2}" stroke="black"/>"#,
            plot_y + plot_h,
            plot_x + plot_w
        );
        let _ = writeln!(
            s,
            r#"<text class="axis-label" transform="translate(20 {:.2}) rotate(-90)" text-anchor="middle">{}</text>"#,
            plot_y + plot_h / 2.0,
            escape(&self.value_label)
        );
        let _ = writeln!(
            s,
            r#"<text class="axis-label" x="{:.2}" y="{:.2}" text-anchor="middle">{}</text>"#,
            plot_x + plot_w / 2.0,
            HEIGHT - 18.0,
            escape(&self.group_label)
        );

        // Bars, whiskers and group labels.
        let groups = self.groups.len().max(1) as f64;
        let group_w = plot_w / groups;
        let bar_w = group_w * 0.8 / self.series.len().max(1) as f64;
        for (g, name) in self.groups.iter().enumerate() {
            let gx = plot_x + group_w * g as f64 + group_w * 0.1;
            let _ = writeln!(
                s,
                r#"<text class="group" x="{:.2}" y="{:.2}" text-anchor="middle">{}</text>"#,
                gx + group_w * 0.4,
                plot_y + plot_h + 18.0,
                escape(name)
            );
            for (i, series) in self.series.iter().enumerate() {
                let Some(bar) = self.values.get(g).and_then(|v| v.get(i)).copied().flatten() else {
                    continue;
                };
                let x = gx + bar_w * i as f64;
                let y = y_of(bar.median);
                let _ = writeln!(
                    s,
                    r#"<rect class="bar" data-group="{}" data-series="{}" data-value="{}" x="{x:.2}" y="{y:.2}" width="{:.2}" height="{:.2}" fill="{}"><title>{}, {}: {} [{}–{}]</title></rect>"#,
                    escape(name),
                    escape(series),
                    clean(bar.median),
                    bar_w * 0.9,
                    plot_y + plot_h - y,
                    COLOURS[i % COLOURS.len()],
                    escape(name),
                    escape(series),
                    figure(clean(bar.median)),
                    figure(clean(bar.min)),
                    figure(clean(bar.max)),
                );
                let cx = x + bar_w * 0.45;
                let (lo, hi) = (y_of(bar.min), y_of(bar.max));
                let _ = writeln!(
                    s,
                    r#"<path class="whisker" d="M{cx:.2} {lo:.2}V{hi:.2}M{:.2} {lo:.2}h{:.2}M{:.2} {hi:.2}h{:.2}" stroke="black" fill="none"/>"#,
                    cx - bar_w * 0.15,
                    bar_w * 0.3,
                    cx - bar_w * 0.15,
                    bar_w * 0.3
                );
                let _ = writeln!(
                    s,
                    r#"<text class="value" x="{cx:.2}" y="{:.2}" text-anchor="middle" font-size="10">{}</text>"#,
                    hi.min(y) - 4.0,
                    figure(clean(bar.median))
                );
            }
        }

        // Legend.
        let lx = WIDTH - RIGHT + 20.0;
        for (i, series) in self.series.iter().enumerate() {
            let ly = plot_y + 10.0 + 22.0 * i as f64;
            let _ = writeln!(
                s,
                r#"<rect class="legend" x="{lx}" y="{ly:.2}" width="14" height="14" fill="{}"/><text class="legend" x="{}" y="{:.2}">{}</text>"#,
                COLOURS[i % COLOURS.len()],
                lx + 20.0,
                ly + 11.0,
                escape(series)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(median: f64) -> Option<Bar> {
        Some(Bar { median, min: median * 0.9, max: median * 1.1 })
    }

    /// `(data-value, height)` of every bar, in document order.
    fn bars(svg: &str) -> Vec<(f64, f64)> {
        svg.lines()
            .filter(|l| l.starts_with("<rect class=\"bar\""))
            .map(|l| {
                let attr = |name: &str| -> f64 {
                    let key = format!(" {name}=\"");
                    let at = l.find(&key).unwrap_or_else(|| panic!("no {name} in {l}")) + key.len();
                    l[at..].split('"').next().and_then(|v| v.parse().ok()).expect("number")
                };
                (attr("data-value"), attr("height"))
            })
            .collect()
    }

    fn chart(values: Vec<Vec<Option<Bar>>>) -> BarChart {
        BarChart {
            title: "t".into(),
            subtitle: vec!["machine".into()],
            value_label: "GB/s".into(),
            group_label: "kind".into(),
            groups: (0..values.len()).map(|g| format!("g{g}")).collect(),
            series: vec!["cpu".into(), "vulkan".into()],
            values,
        }
    }

    #[test]
    fn bar_heights_are_proportional_to_the_medians() {
        let svg = chart(vec![vec![bar(1.0), bar(4.0)], vec![bar(2.5), bar(0.5)]]).to_svg();
        let b = bars(&svg);
        assert_eq!(b.len(), 4, "{svg}");
        let per_unit = b[0].1 / b[0].0;
        for (value, height) in &b {
            assert!((height - value * per_unit).abs() < 0.05, "{b:?}");
        }
        // The tallest whisker (4.4) fits under the axis top (5): the plot's full height.
        let plot_h = HEIGHT - (TOP_TITLE + LINE * 2.0) - BOTTOM;
        assert!((per_unit * 5.0 - plot_h).abs() < 0.05, "{per_unit} {plot_h}");
    }

    #[test]
    fn a_missing_value_draws_no_bar_and_zero_draws_a_flat_one() {
        let svg = chart(vec![vec![None, bar(0.0)], vec![bar(f64::NAN), bar(3.0)]]).to_svg();
        let b = bars(&svg);
        assert_eq!(b.len(), 3, "{svg}");
        assert_eq!(b[0], (0.0, 0.0));
        assert_eq!(b[1], (0.0, 0.0));
    }

    #[test]
    fn xml_special_characters_in_names_are_escaped() {
        let mut c = chart(vec![vec![bar(1.0), bar(2.0)]]);
        c.groups = vec!["a<b>&\"c'.bin".into()];
        c.series = vec!["x&y".into(), "<v>".into()];
        c.title = "dsr bench e2e 'q' <&>".into();
        let svg = c.to_svg();
        assert!(svg.contains("a&lt;b&gt;&amp;&quot;c&apos;.bin"), "{svg}");
        assert!(svg.contains("x&amp;y") && svg.contains("&lt;v&gt;"), "{svg}");
        assert!(svg.contains("dsr bench e2e &apos;q&apos; &lt;&amp;&gt;"), "{svg}");
        // No raw special character survives inside text: every `<` opens a known element.
        for piece in svg.split('<').skip(1) {
            let name: String = piece.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '/').collect();
            assert!(
                ["svg", "/svg", "rect", "/rect", "text", "/text", "line", "path", "title", "/title"]
                    .contains(&name.as_str()),
                "unexpected `<{name}` in {svg}"
            );
        }
        assert_eq!(escape("tab\there\u{1}"), "tab here\u{fffd}");
    }

    #[test]
    fn long_subtitles_wrap_at_spaces_and_are_capped() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("aaaaaaa b", 5), ["aaaaaaa", "b"]);
        let mut c = chart(vec![vec![bar(1.0), bar(2.0)]]);
        c.subtitle = vec!["word ".repeat(400)];
        let svg = c.to_svg();
        assert_eq!(svg.matches("class=\"subtitle\"").count(), SUBTITLE_LINES);
        assert!(svg.contains(" …</text>"));
        assert!(svg.lines().all(|l| !l.contains("subtitle") || l.len() < SUBTITLE_WIDTH + 120), "{svg}");
    }

    #[test]
    fn tick_labels_have_the_decimals_of_the_step() {
        assert_eq!(tick_label(0.0, 1.0), "0");
        assert_eq!(tick_label(2.0, 1.0), "2");
        assert_eq!(tick_label(0.5, 0.25), "0.50");
        assert_eq!(tick_label(0.3, 0.1), "0.3");
        assert_eq!(tick_label(40.0, 10.0), "40");
    }

    #[test]
    fn the_axis_ends_at_a_nice_value_at_or_above_the_largest_figure() {
        let near = |(a, b): (f64, f64), (c, d): (f64, f64)| (a - c).abs() < 1e-9 && (b - d).abs() < 1e-9;
        assert!(near(nice_axis(4.4), (5.0, 1.0)));
        assert!(near(nice_axis(0.37), (0.4, 0.1)));
        assert!(near(nice_axis(33.1), (40.0, 10.0)));
        assert!(near(nice_axis(1.0), (1.0, 0.2)));
        assert!(near(nice_axis(0.0), (1.0, 0.2)));
        assert!(near(nice_axis(f64::INFINITY), (1.0, 0.2)));
        for v in [0.013, 0.9, 7.7, 12.0, 99.0, 101.0, 5000.0] {
            let (top, step) = nice_axis(v);
            assert!(top >= v && top / step <= 5.0 + 1e-9 && top < v * 2.6, "{v}: {top} {step}");
        }
    }

    #[test]
    fn the_document_is_one_svg_element_with_title_legend_and_labels() {
        let svg = chart(vec![vec![bar(1.0), bar(2.0)]]).to_svg();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<svg").count(), 1);
        assert_eq!(svg.matches("class=\"legend\"").count(), 4); // swatch + name per series
        assert!(svg.contains(">GB/s</text>") && svg.contains(">kind</text>") && svg.contains(">g0</text>"));
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }
}
