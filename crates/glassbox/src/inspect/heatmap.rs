//! Token × layer heatmaps as standalone SVG: one panel per grid, rows labelled by token,
//! columns by layer, each cell shaded from white (the panel's low end) to its colour (the
//! high end), with the scale's ends written under it. Causal tracing draws its three
//! kinds side by side with this; plain SVG 1.1, all text escaped.

use super::svg::xml_escape;
use std::fmt::Write;

/// One panel: `values[row][column]`, shaded between `low` and `high`.
pub struct Panel<'a> {
    pub title: String,
    pub values: &'a [Vec<f32>],
    pub low: f32,
    pub high: f32,
    /// The shade at `high`, as `#rrggbb`.
    pub colour: &'static str,
}

const CELL: f32 = 22.0;
const GAP: f32 = 36.0;
/// Roughly the width of one character at the labels' size (11 px sans-serif).
const CHAR_WIDTH: f32 = 6.6;
/// A panel is at least this wide, so that its title and scale fit.
const MIN_PANEL: f32 = 170.0;

fn mix(colour: &str, amount: f32) -> String {
    let channel = |i: usize| u8::from_str_radix(&colour[1 + 2 * i..3 + 2 * i], 16).unwrap_or(0) as f32;
    let a = amount.clamp(0.0, 1.0);
    let shade = |i: usize| (255.0 + (channel(i) - 255.0) * a).round() as u8;
    format!("#{:02x}{:02x}{:02x}", shade(0), shade(1), shade(2))
}

/// Panels side by side sharing the row labels; rows whose `marked` flag is set get a `*`
/// and bold labels (the subject's tokens, in causal tracing).
pub fn heatmaps_svg(
    title: &str,
    row_labels: &[String],
    marked: &[bool],
    column_name: &str,
    panels: &[Panel],
) -> String {
    let rows = row_labels.len();
    let columns = panels.first().map_or(0, |p| p.values.first().map_or(0, Vec::len));
    let row_label = 16.0 + row_labels.iter().map(|l| l.chars().count() + 1).max().unwrap_or(0) as f32 * CHAR_WIDTH;
    let panel_width = (columns as f32 * CELL).max(MIN_PANEL);
    let width =
        (row_label + panels.len() as f32 * (panel_width + GAP) + 10.0).max(20.0 + title.chars().count() as f32 * 8.0);
    let height = 70.0 + rows as f32 * CELL + 60.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(svg, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = write!(svg, r#"<text x="10" y="20" font-size="14" font-weight="bold">{}</text>"#, xml_escape(title));
    for (p, panel) in panels.iter().enumerate() {
        let x0 = row_label + p as f32 * (panel_width + GAP);
        let y0 = 60.0;
        let _ = write!(
            svg,
            r#"<text x="{x0:.1}" y="45" font-size="12" font-weight="bold">{}</text>"#,
            xml_escape(&panel.title)
        );
        let span = (panel.high - panel.low).max(1e-12);
        for (r, row) in panel.values.iter().enumerate() {
            for (col, &value) in row.iter().enumerate() {
                let fill = mix(panel.colour, (value - panel.low) / span);
                let _ = write!(
                    svg,
                    r##"<rect x="{:.1}" y="{:.1}" width="{CELL}" height="{CELL}" fill="{fill}" stroke="#eeeeee"><title>{} · {column_name} {col}: {value:.4}</title></rect>"##,
                    x0 + col as f32 * CELL,
                    y0 + r as f32 * CELL,
                    xml_escape(row_labels.get(r).map_or("", String::as_str))
                );
            }
        }
        for col in (0..columns).step_by(columns.div_ceil(12).max(1)) {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">{col}</text>"##,
                x0 + (col as f32 + 0.5) * CELL,
                y0 + rows as f32 * CELL + 14.0
            );
        }
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" fill="#555">{column_name} →</text><text x="{:.1}" y="{:.1}" fill="#555">white {:.3} … full {:.3}</text>"##,
            x0,
            y0 + rows as f32 * CELL + 30.0,
            x0,
            y0 + rows as f32 * CELL + 46.0,
            panel.low,
            panel.high
        );
    }
    for (r, label) in row_labels.iter().enumerate() {
        let bold = marked.get(r).copied().unwrap_or(false);
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end"{}>{}{}</text>"#,
            row_label - 6.0,
            60.0 + (r as f32 + 0.7) * CELL,
            if bold { r#" font-weight="bold""# } else { "" },
            xml_escape(label),
            if bold { "*" } else { "" }
        );
    }
    svg.push_str("</svg>\n");
    svg
}
