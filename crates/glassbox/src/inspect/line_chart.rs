//! A standalone SVG line chart: several named series of (x, y) points on shared axes, a
//! logarithmic x axis where asked, ticks and a legend — the charts of `glassbox compare`
//! (forward time against sequence length, validation loss against seconds, accuracy
//! against distance). Plain SVG 1.1; all text is escaped.

use super::svg::{group_colour, xml_escape};

/// One line: its name in the legend and its points in drawing order.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// How an axis maps values to the page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    Log,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

fn ticks(low: f64, high: f64, scale: Scale) -> Vec<f64> {
    match scale {
        Scale::Log => {
            let mut t = Vec::new();
            let mut v = 10f64.powf(low.log10().floor());
            while v <= high * 1.0001 {
                for m in [1.0, 2.0, 5.0] {
                    let tick = v * m;
                    if tick >= low * 0.9999 && tick <= high * 1.0001 {
                        t.push(tick);
                    }
                }
                v *= 10.0;
            }
            t
        }
        Scale::Linear => {
            let span = (high - low).max(1e-12);
            let raw = span / 5.0;
            let magnitude = 10f64.powf(raw.log10().floor());
            let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
            let mut t = Vec::new();
            let mut v = (low / step).ceil() * step;
            while v <= high + step * 1e-9 {
                t.push(v);
                v += step;
            }
            t
        }
    }
}

fn label(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 10_000.0 || v.abs() < 0.01) {
        format!("{v:.0e}")
    } else if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}").trim_end_matches('0').to_string()
    }
}

/// The chart as an SVG document. `y_range` fixes the y axis (e.g. 0–1 for accuracy);
/// otherwise it spans the data.
pub fn line_chart_svg(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    x_scale: Scale,
    y_range: Option<(f64, f64)>,
) -> String {
    let usable = |x: f64| x.is_finite() && (x_scale == Scale::Linear || x > 0.0);
    let xs: Vec<f64> = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).filter(|x| usable(*x)).collect();
    let ys: Vec<f64> = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).filter(|y| y.is_finite()).collect();
    let (mut x_low, mut x_high) = xs.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    if xs.is_empty() {
        (x_low, x_high) = (1.0, 10.0);
    }
    if x_high <= x_low {
        x_high = x_low + 1.0;
    }
    let (y_low, y_high) = y_range.unwrap_or_else(|| {
        let (a, b) = ys.iter().fold((f64::MAX, f64::MIN), |(a, b), &y| (a.min(y), b.max(y)));
        if ys.is_empty() {
            (0.0, 1.0)
        } else if b > a {
            (a - 0.05 * (b - a), b + 0.05 * (b - a))
        } else {
            (a - 1.0, a + 1.0)
        }
    });
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let to_x = |x: f64| match x_scale {
        Scale::Linear => LEFT + (x - x_low) / (x_high - x_low) * plot_w,
        Scale::Log => LEFT + (x.ln() - x_low.ln()) / (x_high.ln() - x_low.ln()) * plot_w,
    };
    let to_y = |y: f64| TOP + (1.0 - (y - y_low) / (y_high - y_low)) * plot_h;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{LEFT}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{}</text>\n",
        xml_escape(title)
    );
    for tick in ticks(x_low, x_high, x_scale) {
        let x = to_x(tick);
        svg += &format!(
            "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/><text x=\"{x:.1}\" y=\"{:.1}\" \
             text-anchor=\"middle\">{}</text>\n",
            TOP + plot_h,
            TOP + plot_h + 16.0,
            label(tick)
        );
    }
    for tick in ticks(y_low, y_high, Scale::Linear) {
        let y = to_y(tick);
        svg += &format!(
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{:.1}\" \
             text-anchor=\"end\">{}</text>\n",
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            label(tick)
        );
    }
    svg += &format!(
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"none\" stroke=\"#888\"/>\n\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n\
         <text transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
        LEFT + plot_w / 2.0,
        HEIGHT - 10.0,
        xml_escape(x_label),
        TOP + plot_h / 2.0,
        xml_escape(y_label)
    );
    for (i, s) in series.iter().enumerate() {
        let colour = group_colour(i);
        let points: Vec<String> = s
            .points
            .iter()
            .filter(|(x, y)| usable(*x) && y.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", to_x(x), to_y(y.clamp(y_low, y_high))))
            .collect();
        svg += &format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>\n",
            points.join(" ")
        );
        for p in &points {
            let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
            svg += &format!("<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{colour}\"/>\n");
        }
        let ly = TOP + 10.0 + 20.0 * i as f64;
        svg += &format!(
            "<line x1=\"{:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" stroke-width=\"3\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
            LEFT + plot_w + 12.0,
            LEFT + plot_w + 32.0,
            LEFT + plot_w + 38.0,
            ly + 4.0,
            xml_escape(&s.name)
        );
    }
    svg += "</svg>\n";
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_every_series_with_escaped_names() {
        let series = vec![
            Series { name: "GPT <attention>".into(), points: vec![(16.0, 1.0), (1024.0, 2.0)] },
            Series { name: "LSTM".into(), points: vec![(16.0, 1.0), (1024.0, 60.0)] },
        ];
        let svg = line_chart_svg("time & length", "T", "ms", &series, Scale::Log, None);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("GPT &lt;attention&gt;") && svg.contains("time &amp; length"));
        assert!(svg.contains(">1000<"), "log ticks at 1, 2, 5 × 10ⁿ");
    }
}
