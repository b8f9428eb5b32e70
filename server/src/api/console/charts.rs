//! Charts drawn by the server as SVG: grouped bars and lines over periods,
//! with their axis and a legend. Pure: series in, markup out; the numbers
//! are always in a table beside the chart too. Colours come from the
//! stylesheet (`series-0` ...), so the markup needs no inline style.

use maud::{Markup, html};

/// Drawing area, in the SVG's own units.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 12.0;

/// One named series: a value per period (none where there is no value).
pub(super) struct Series<'a> {
    /// Its name, in the legend.
    pub(super) name: &'a str,
    /// A value per period.
    pub(super) values: Vec<Option<f64>>,
}

/// A round top for the axis: 1, 2 or 5 times a power of ten, at least
/// `max` (1 for an empty chart).
pub(super) fn axis_top(max: f64) -> f64 {
    if !(max.is_finite() && max > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|t| *t >= max)
        .unwrap_or(10.0 * p)
}

fn top_of(series: &[Series<'_>], fixed_top: Option<f64>) -> f64 {
    fixed_top.unwrap_or_else(|| {
        axis_top(
            series
                .iter()
                .flat_map(|s| s.values.iter().flatten())
                .fold(0.0, |a, v| a.max(*v)),
        )
    })
}

fn y_of(v: f64, top: f64) -> f64 {
    TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - (v / top).clamp(0.0, 1.0))
}

fn frame(
    title: &str,
    labels: &[String],
    top: f64,
    unit: &str,
    body: Markup,
    series: &[Series<'_>],
) -> Markup {
    let n = labels.len().max(1) as f64;
    let step = (WIDTH - LEFT) / n;
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(title) {
                title { (title) }
                @for k in 0..=4 {
                    @let v = top * f64::from(k) / 4.0;
                    @let y = y_of(v, top);
                    line class="grid" x1=(LEFT) x2=(WIDTH) y1=(y) y2=(y) {}
                    text class="tick" x=(LEFT - 4.0) y=(y + 4.0) text-anchor="end" { (fmt(v)) (unit) }
                }
                @for (i, l) in labels.iter().enumerate() {
                    text class="tick" x=(LEFT + step * (i as f64 + 0.5)) y=(HEIGHT - 8.0) text-anchor="middle" { (l) }
                }
                (body)
            }
            figcaption {
                (title)
                @for (i, s) in series.iter().enumerate() {
                    " " span class=(format!("key series-{i}")) { "■" } " " (s.name)
                }
            }
        }
    }
}

/// A number as an axis or a tooltip shows it: at most two decimals,
/// without trailing zeros (0.25, 0.5, 3).
fn fmt(v: f64) -> String {
    let t = format!("{v:.2}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Grouped bars: one group per period, one bar per series. `fixed_top`
/// pins the axis (100 for a percentage).
pub(super) fn bars(
    title: &str,
    labels: &[String],
    series: &[Series<'_>],
    fixed_top: Option<f64>,
    unit: &str,
) -> Markup {
    let top = top_of(series, fixed_top);
    let n = labels.len().max(1) as f64;
    let step = (WIDTH - LEFT) / n;
    let width = (step * 0.8) / series.len().max(1) as f64;
    let body = html! {
        @for (si, s) in series.iter().enumerate() {
            @for (i, v) in s.values.iter().enumerate() {
                @if let Some(v) = v {
                    @let x = LEFT + step * i as f64 + step * 0.1 + width * si as f64;
                    @let y = y_of(*v, top);
                    rect class=(format!("series-{si}")) x=(x) y=(y) width=(width) height=(HEIGHT - BOTTOM - y) {
                        title { (s.name) ": " (fmt(*v)) (unit) }
                    }
                }
            }
        }
    };
    frame(title, labels, top, unit, body, series)
}

/// Lines: one per series, a point per period with a value (a gap where
/// there is none).
pub(super) fn lines(
    title: &str,
    labels: &[String],
    series: &[Series<'_>],
    fixed_top: Option<f64>,
    unit: &str,
) -> Markup {
    let top = top_of(series, fixed_top);
    let n = labels.len().max(1) as f64;
    let step = (WIDTH - LEFT) / n;
    let points = |s: &Series<'_>| -> Vec<(f64, f64, f64)> {
        s.values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (LEFT + step * (i as f64 + 0.5), y_of(v, top), v)))
            .collect()
    };
    let body = html! {
        @for (si, s) in series.iter().enumerate() {
            @let pts = points(s);
            polyline class=(format!("line series-{si}")) fill="none"
                points=(pts.iter().map(|(x, y, _)| format!("{x:.1},{y:.1}")).collect::<Vec<_>>().join(" ")) {}
            @for (x, y, v) in &pts {
                circle class=(format!("series-{si}")) cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="3" {
                    title { (s.name) ": " (fmt(*v)) (unit) }
                }
            }
        }
    };
    frame(title, labels, top, unit, body, series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round_and_not_below_the_maximum() {
        assert_eq!(axis_top(0.0), 1.0);
        assert_eq!(axis_top(f64::NAN), 1.0);
        assert_eq!(axis_top(7.0), 10.0);
        assert_eq!(axis_top(12.0), 20.0);
        assert_eq!(axis_top(45.0), 50.0);
        assert_eq!(axis_top(100.0), 100.0);
        assert_eq!(axis_top(0.3), 0.5);
    }

    #[test]
    fn bars_draw_a_rect_per_value_and_skip_gaps() {
        let labels = vec!["W1".to_string(), "W2".into()];
        let s = [
            Series {
                name: "opened",
                values: vec![Some(4.0), Some(2.0)],
            },
            Series {
                name: "resolved",
                values: vec![None, Some(3.0)],
            },
        ];
        let svg = bars("Tickets", &labels, &s, None, "").into_string();
        assert_eq!(svg.matches("<rect").count(), 3, "{svg}");
        assert!(svg.contains("opened: 4") && svg.contains("resolved: 3"));
        assert!(svg.contains("W1") && svg.contains("W2"));
        // A value at the top of the axis reaches the top of the area.
        let top = bars(
            "x",
            &labels,
            &[Series {
                name: "a",
                values: vec![Some(5.0), None],
            }],
            Some(5.0),
            "",
        );
        assert!(top.into_string().contains(&format!("y=\"{TOP}\"")));
    }

    #[test]
    fn numbers_keep_what_they_need() {
        assert_eq!(fmt(0.25), "0.25");
        assert_eq!(fmt(0.5), "0.5");
        assert_eq!(fmt(3.0), "3");
        assert_eq!(fmt(37.5), "37.5");
    }

    #[test]
    fn lines_leave_gaps_and_escape_names() {
        let labels = vec!["a".to_string(), "b".into(), "c".into()];
        let s = [Series {
            name: "<p90>",
            values: vec![Some(1.0), None, Some(2.0)],
        }];
        let svg = lines("t", &labels, &s, None, " h").into_string();
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("&lt;p90&gt;") && !svg.contains("<p90>"));
    }
}
