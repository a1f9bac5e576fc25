//! A standalone SVG scatter plot of labelled points (the semantic-space map): axes through
//! the origin, one colour per group (a k-means cluster, or a category named in a legend),
//! every point labelled, a title and the share of variance on each axis. Plain SVG 1.1
//! that any browser renders; all text is escaped.

use std::fmt::Write;

/// One labelled point.
#[derive(Clone, Debug)]
pub struct Point {
    pub x: f32,
    pub y: f32,
    pub label: String,
    /// The point's colour group: a k-means cluster, or an index into the legend's names.
    pub group: usize,
}

const PALETTE: [&str; 8] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

/// Escapes text for XML content and attribute values, and replaces characters XML 1.0
/// cannot hold at all (controls other than tab, newline, carriage return) by their escape.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// The colour of group `group`.
pub fn group_colour(group: usize) -> &'static str {
    PALETTE[group % PALETTE.len()]
}

/// The plot as an SVG document. With `legend` names, a column beside the plot names each
/// group (group `i` is `legend[i]`) by its colour; with none, the groups go unnamed.
pub fn scatter_svg(title: &str, x_label: &str, y_label: &str, points: &[Point], legend: &[String]) -> String {
    let legend_width = if legend.is_empty() { 0.0 } else { 190.0f32 };
    let (plot_width, height, margin) = (900.0f32, 680.0f32, 70.0f32);
    let width = plot_width + legend_width;
    let (mut min_x, mut max_x, mut min_y, mut max_y) = (0f32, 0f32, 0f32, 0f32);
    for p in points {
        min_x = min_x.min(p.x);
        max_x = max_x.max(p.x);
        min_y = min_y.min(p.y);
        max_y = max_y.max(p.y);
    }
    let span_x = (max_x - min_x).max(1e-6);
    let span_y = (max_y - min_y).max(1e-6);
    // room on the right for the labels of the rightmost points
    let right = 160.0f32;
    let sx = |x: f32| margin + (x - min_x) / span_x * (plot_width - margin - right);
    // SVG's y grows downwards
    let sy = |y: f32| height - margin - (y - min_y) / span_y * (height - 2.0 * margin);
    let mut svg = String::new();
    let _ = writeln!(svg, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, 'Noto Sans CJK SC', sans-serif">"#
    );
    let _ = writeln!(svg, "  <title>{}</title>", xml_escape(title));
    let _ = writeln!(svg, r##"  <rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>"##);
    let _ = writeln!(
        svg,
        r##"  <text x="{}" y="32" font-size="20" text-anchor="middle" fill="#222222">{}</text>"##,
        width / 2.0,
        xml_escape(title)
    );
    // axes through the origin (the mean of the points)
    let (ox, oy) = (sx(0.0), sy(0.0));
    let _ = writeln!(
        svg,
        r##"  <g stroke="#bbbbbb" stroke-width="1"><line x1="{margin}" y1="{oy:.1}" x2="{:.1}" y2="{oy:.1}"/><line x1="{ox:.1}" y1="{margin}" x2="{ox:.1}" y2="{:.1}"/></g>"##,
        plot_width - right,
        height - margin
    );
    let _ = writeln!(
        svg,
        r##"  <text x="{:.1}" y="{:.1}" font-size="13" text-anchor="end" fill="#555555">{}</text>"##,
        plot_width - right,
        height - margin + 40.0,
        xml_escape(x_label)
    );
    let _ = writeln!(
        svg,
        r##"  <text x="22" y="{:.1}" font-size="13" text-anchor="middle" fill="#555555" transform="rotate(-90 22 {:.1})">{}</text>"##,
        height / 2.0,
        height / 2.0,
        xml_escape(y_label)
    );
    let _ = writeln!(svg, r#"  <g font-size="13">"#);
    for p in points {
        let colour = group_colour(p.group);
        let (x, y) = (sx(p.x), sy(p.y));
        let label = xml_escape(&p.label);
        let _ = writeln!(
            svg,
            r##"    <g class="point"><title>{label} ({:.3}, {:.3})</title><circle cx="{x:.1}" cy="{y:.1}" r="5" fill="{colour}" fill-opacity="0.85"/><text x="{:.1}" y="{:.1}" fill="{colour}">{label}</text></g>"##,
            p.x,
            p.y,
            x + 7.0,
            y - 6.0
        );
    }
    let _ = writeln!(svg, "  </g>");
    if !legend.is_empty() {
        let _ = writeln!(svg, r#"  <g class="legend" font-size="13">"#);
        for (group, name) in legend.iter().enumerate() {
            let y = margin + 22.0 * group as f32;
            let _ = writeln!(
                svg,
                r##"    <g><circle cx="{:.1}" cy="{:.1}" r="6" fill="{colour}"/><text x="{:.1}" y="{:.1}" fill="#222222">{}</text></g>"##,
                plot_width + 10.0,
                y - 4.0,
                plot_width + 22.0,
                y,
                xml_escape(name),
                colour = group_colour(group)
            );
        }
        let _ = writeln!(svg, "  </g>");
    }
    let _ = writeln!(svg, "</svg>");
    svg
}
