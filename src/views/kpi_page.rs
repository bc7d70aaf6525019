//! `GET /dashboard/kpis`: daily revenue and orders as inline SVG bars, and the
//! top customers, as the context of `assets/views/console/kpis.html`. Every
//! figure is integer cents or a count; bar heights are integer arithmetic too.
use serde::Serialize;

use crate::models::{kpi::figures::DayFigures, money::format_cents};

/// The chart's drawing box (SVG units; the page scales it to the window).
const CHART_WIDTH: i64 = 960;
const PLOT_HEIGHT: i64 = 180;
/// Room for the value axis's labels on the left and the days under the plot.
const LEFT: i64 = 80;
const TOP: i64 = 12;
const BOTTOM: i64 = 28;
/// Widest a bar gets (a 1-day window), and the gap between two.
const MAX_BAR: i64 = 48;
/// A day label takes about this much room; fewer labels are drawn when days are narrower.
const LABEL_ROOM: i64 = 44;
/// Closest two value labels may be (SVG units).
const MIN_TICK_GAP: i64 = 12;
/// Values are printed over the bars up to this many days.
const MAX_VALUE_LABELS: usize = 16;

#[derive(Debug, Serialize)]
pub struct KpiPage {
    /// Redis lost the figures and they are being recomputed from the database:
    /// the page says so above them, so that nobody reads a zero as the truth.
    pub rebuilding: bool,
    pub from: String,
    pub to: String,
    /// Revenue, then paid orders.
    pub charts: Vec<Chart>,
    /// Newest day first.
    pub days: Vec<DayRow>,
    pub board: Vec<BoardRow>,
}

/// An SVG bar chart with its axes, laid out here so that the template only
/// draws it. Every coordinate is an integer.
#[derive(Debug, Serialize)]
pub struct Chart {
    pub title: String,
    pub width: i64,
    pub height: i64,
    /// The plot's left and right edges, and the zero line.
    pub left: i64,
    pub right: i64,
    pub top: i64,
    pub bottom: i64,
    pub zero_y: i64,
    /// Where the value axis's labels end, and the day labels' baseline.
    pub label_x: i64,
    pub day_label_y: i64,
    pub ticks: Vec<Tick>,
    pub bars: Vec<Bar>,
}

/// A labelled line across the plot at `y`.
#[derive(Debug, Serialize)]
pub struct Tick {
    pub y: i64,
    /// The label's baseline, centred on the line.
    pub text_y: i64,
    pub label: String,
}

#[derive(Debug, Serialize)]
pub struct Bar {
    pub day: String,
    /// `MM-DD` under the bar, only on every n-th day when days are narrow.
    pub short: Option<String>,
    pub label: String,
    /// Printed over the bar when the window is short enough.
    pub show_value: bool,
    pub negative: bool,
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    /// Centre of the bar's slot (labels).
    pub mid: i64,
    /// Where the value is printed (above a positive bar, below a negative one).
    pub value_y: i64,
}

#[derive(Debug, Serialize)]
pub struct DayRow {
    pub day: String,
    pub revenue: String,
    pub orders: i64,
    pub avg_order: String,
    pub failed: i64,
    pub refunds: i64,
    pub refunded: String,
}

#[derive(Debug, Serialize)]
pub struct BoardRow {
    pub rank: usize,
    pub customer: String,
    pub revenue: String,
}

/// The page for `days` (oldest first, as `/api/metrics/range` returns them) and
/// the all-time `board` (customer id, net revenue cents).
#[must_use]
pub fn build(days: &[(String, DayFigures)], board: &[(String, i64)], rebuilding: bool) -> KpiPage {
    let revenue: Vec<(&str, i64)> = days
        .iter()
        .map(|(d, f)| (d.as_str(), f.revenue_cents))
        .collect();
    let orders: Vec<(&str, i64)> = days
        .iter()
        .map(|(d, f)| (d.as_str(), f.order_count))
        .collect();
    KpiPage {
        rebuilding,
        from: days.first().map(|(d, _)| d.clone()).unwrap_or_default(),
        to: days.last().map(|(d, _)| d.clone()).unwrap_or_default(),
        charts: vec![
            bars("Revenue per day (net of refunds)", &revenue, &format_cents),
            bars("Paid orders per day", &orders, &|n: i64| n.to_string()),
        ],
        days: days
            .iter()
            .rev()
            .map(|(day, f)| DayRow {
                day: day.clone(),
                revenue: format_cents(f.revenue_cents),
                orders: f.order_count,
                avg_order: format_cents(f.avg_order_value_cents()),
                failed: f.failed_count,
                refunds: f.refund_count,
                refunded: format_cents(f.refunded_cents),
            })
            .collect(),
        board: board
            .iter()
            .enumerate()
            .map(|(rank, (customer, cents))| BoardRow {
                rank: rank + 1,
                customer: customer.clone(),
                revenue: format_cents(*cents),
            })
            .collect(),
    }
}

/// One bar per day on a value axis from the smallest value (or 0) to the
/// largest (or 0): negative days go down from the zero line. The days share
/// the plot's width, so 1 to 90 days fit the same box.
fn bars(title: &str, values: &[(&str, i64)], label: &dyn Fn(i64) -> String) -> Chart {
    let max = values.iter().map(|(_, v)| *v).max().unwrap_or(0).max(0);
    let min = values.iter().map(|(_, v)| *v).min().unwrap_or(0).min(0);
    // An all-zero window still gets an axis from 0 to 1.
    let max = if max == min { 1 } else { max };
    let count = i64::try_from(values.len()).unwrap_or(1).max(1);
    let plot_width = CHART_WIDTH - LEFT - 8;
    let slot = (plot_width / count).max(1);
    let gap = (slot / 5).clamp(1, 8);
    let bar_width = (slot - gap).clamp(1, MAX_BAR);
    let label_every = usize::try_from((LABEL_ROOM + slot - 1) / slot)
        .unwrap_or(1)
        .max(1);
    let y_of = |v: i64| TOP + scale(max - v, max - min, PLOT_HEIGHT);
    let zero_y = y_of(0);
    let tick = |v: i64| Tick {
        y: y_of(v),
        text_y: y_of(v) + 4,
        label: label(v),
    };
    let mut ticks = vec![tick(max)];
    if min < 0 {
        ticks.push(tick(min));
    }
    // The zero line is always drawn (the day axis); its label only where it
    // does not overlap another.
    if ticks.iter().all(|t| (t.y - zero_y).abs() >= MIN_TICK_GAP) {
        ticks.push(tick(0));
    }
    let bars = values
        .iter()
        .enumerate()
        .map(|(i, (day, value))| {
            let index = i64::try_from(i).unwrap_or(0);
            let mid = LEFT + slot * index + slot / 2;
            let top = y_of((*value).max(0));
            let bottom = y_of((*value).min(0));
            let negative = *value < 0;
            // Labels counted from the newest day, so today is always named.
            let from_end = values.len() - 1 - i;
            Bar {
                day: (*day).to_string(),
                short: from_end
                    .is_multiple_of(label_every)
                    .then(|| day.get(5..).unwrap_or(day).to_string()),
                label: label(*value),
                show_value: values.len() <= MAX_VALUE_LABELS,
                negative,
                x: mid - bar_width / 2,
                y: top,
                width: bar_width,
                height: bottom - top,
                mid,
                value_y: if negative { bottom + 11 } else { top - 3 },
            }
        })
        .collect();
    Chart {
        title: title.to_string(),
        label_x: LEFT - 6,
        day_label_y: TOP + PLOT_HEIGHT + 16,
        width: CHART_WIDTH,
        height: TOP + PLOT_HEIGHT + BOTTOM,
        left: LEFT,
        right: LEFT + slot * count,
        top: TOP,
        bottom: TOP + PLOT_HEIGHT,
        zero_y,
        ticks,
        bars,
    }
}

/// `part / whole` of `length`, rounded down, in integers (0 for an empty whole).
fn scale(part: i64, whole: i64, length: i64) -> i64 {
    if whole <= 0 {
        return 0;
    }
    let scaled = i128::from(part) * i128::from(length) / i128::from(whole);
    i64::try_from(scaled).unwrap_or(length)
}

#[cfg(test)]
mod tests {
    use super::{bars, scale, CHART_WIDTH, PLOT_HEIGHT, TOP};

    #[test]
    fn lengths_scale_in_integers() {
        assert_eq!(scale(50, 100, 140), 70);
        assert_eq!(scale(100, 100, 140), 140);
        assert_eq!(scale(i64::MAX, i64::MAX, 140), 140);
        assert_eq!(scale(5, 0, 140), 0);
    }

    #[test]
    fn negative_days_go_down_from_the_zero_line() {
        let chart = bars("t", &[("2026-01-01", 300), ("2026-01-02", -100)], &|v| {
            v.to_string()
        });
        let (up, down) = (&chart.bars[0], &chart.bars[1]);
        assert_eq!(up.y + up.height, chart.zero_y);
        assert_eq!(down.y, chart.zero_y);
        assert!(down.negative && down.height > 0);
        assert_eq!(up.height, 3 * down.height);
        assert_eq!((chart.top, chart.bottom), (TOP, TOP + PLOT_HEIGHT));
    }

    #[test]
    fn ninety_days_fit_the_box_with_labels_apart() {
        let days: Vec<String> = (0..90).map(|d| format!("2026-01-{d:02}")).collect();
        let values: Vec<(&str, i64)> = days.iter().map(|d| (d.as_str(), 10)).collect();
        let chart = bars("t", &values, &|v| v.to_string());
        let last = chart.bars.last().unwrap();
        assert!(last.x + last.width <= chart.width && chart.right <= CHART_WIDTH);
        assert!(last.short.is_some(), "the newest day is named");
        let labelled: Vec<i64> = chart
            .bars
            .iter()
            .filter(|b| b.short.is_some())
            .map(|b| b.mid)
            .collect();
        assert!(
            labelled.windows(2).all(|w| w[1] - w[0] >= 40),
            "{labelled:?}"
        );
        assert!(chart.bars.iter().all(|b| !b.show_value));
    }
}
