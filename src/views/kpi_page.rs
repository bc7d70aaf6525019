//! `GET /dashboard/kpis`: daily revenue and orders as inline SVG bars, and the
//! top customers. Every figure is integer cents or a count; bar heights are
//! integer arithmetic too.
use std::fmt::Write;

use super::html::{escape, page};
use crate::models::{import::money::format_cents, kpi::figures::DayFigures};

const BAR_WIDTH: i64 = 26;
const CHART_HEIGHT: i64 = 140;
/// Shown above the figures while they are being rebuilt.
pub const REBUILDING_BANNER: &str = "<p class=\"banner\" role=\"alert\" \
     style=\"background:#fff3cd;border:2px solid #b58100;padding:0.8em;font-weight:bold\">\
     Figures are being rebuilt: Redis lost its data and the KPIs and leaderboard are being \
     recomputed from the database. The numbers below are incomplete until this banner goes \
     away (the page refreshes by itself).</p>";

/// The page for `days` (oldest first, as `/api/metrics/range` returns them) and
/// the all-time `board` (customer id, net revenue cents). While `rebuilding`,
/// a banner says the figures are incomplete (Redis lost them and they are
/// being recomputed), so that nobody reads a zero as the truth.
#[must_use]
pub fn render(days: &[(String, DayFigures)], board: &[(String, i64)], rebuilding: bool) -> String {
    let mut body = String::new();
    if rebuilding {
        body.push_str(REBUILDING_BANNER);
    }
    let (from, to) = match (days.first(), days.last()) {
        (Some((from, _)), Some((to, _))) => (from.as_str(), to.as_str()),
        _ => ("", ""),
    };
    let _ = write!(
        body,
        "<p>{} to {} (UTC days; JSON: <a href=\"/api/metrics/range?from={from}&amp;to={to}\">\
         /api/metrics/range</a>). Change the window with <code>?days=N</code> (1–90).</p>",
        escape(from),
        escape(to),
        from = escape(from),
        to = escape(to),
    );
    let revenue: Vec<(&str, i64)> = days
        .iter()
        .map(|(d, f)| (d.as_str(), f.revenue_cents))
        .collect();
    let orders: Vec<(&str, i64)> = days
        .iter()
        .map(|(d, f)| (d.as_str(), f.order_count))
        .collect();
    let money = |cents: i64| format_cents(cents);
    body.push_str("<h2>Revenue per day (net of refunds)</h2>");
    body.push_str(&bars(&revenue, &money));
    body.push_str("<h2>Paid orders per day</h2>");
    body.push_str(&bars(&orders, &|n: i64| n.to_string()));
    day_table(&mut body, days, &money);
    body.push_str("<h2>Top customers (all time, net revenue)</h2><table><tr><th>rank</th><th>customer</th><th>revenue</th></tr>");
    for (rank, (customer, cents)) in board.iter().enumerate() {
        let _ = write!(
            body,
            "<tr><td>{}</td><td class=\"text\">{}</td><td>{}</td></tr>",
            rank + 1,
            escape(customer),
            money(*cents)
        );
    }
    if board.is_empty() {
        body.push_str("<tr><td colspan=\"3\">No customer has paid yet.</td></tr>");
    }
    body.push_str("</table>");
    page("orders-flow KPIs", 10, &body)
}

fn day_table(body: &mut String, days: &[(String, DayFigures)], money: &dyn Fn(i64) -> String) {
    body.push_str(
        "<table><tr><th>day</th><th>revenue</th><th>orders</th><th>avg order</th>\
         <th>failed</th><th>refunds</th><th>refunded</th></tr>",
    );
    for (day, f) in days.iter().rev() {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(day),
            money(f.revenue_cents),
            f.order_count,
            money(f.avg_order_value_cents()),
            f.failed_count,
            f.refund_count,
            money(f.refunded_cents)
        );
    }
    body.push_str("</table>");
}

/// One bar per day, scaled to the largest value; negative days draw no bar.
fn bars(values: &[(&str, i64)], label: &dyn Fn(i64) -> String) -> String {
    let max = values.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let width = BAR_WIDTH * i64::try_from(values.len()).unwrap_or(0) + 10;
    let mut svg = format!(
        "<svg role=\"img\" width=\"{width}\" height=\"{h}\" viewBox=\"0 0 {width} {h}\">",
        h = CHART_HEIGHT + 30
    );
    for (i, (day, value)) in values.iter().enumerate() {
        let x = 5 + BAR_WIDTH * i64::try_from(i).unwrap_or(0);
        let height = bar_height(*value, max);
        let y = CHART_HEIGHT - height;
        let day = escape(day);
        let _ = write!(
            svg,
            "<g><title>{day}: {value}</title>\
             <rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{height}\" fill=\"#4a7bb7\"></rect>\
             <text x=\"{x}\" y=\"{ty}\">{short}</text></g>",
            value = label(*value),
            w = BAR_WIDTH - 4,
            ty = CHART_HEIGHT + 14,
            short = day.get(5..).unwrap_or(&day),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// `value / max` of the chart's height, rounded down, in integers.
fn bar_height(value: i64, max: i64) -> i64 {
    if value <= 0 || max <= 0 {
        return 0;
    }
    let scaled = i128::from(value) * i128::from(CHART_HEIGHT) / i128::from(max);
    i64::try_from(scaled).unwrap_or(CHART_HEIGHT)
}

#[cfg(test)]
mod tests {
    use super::bar_height;

    #[test]
    fn bars_scale_in_integers_and_never_go_negative() {
        assert_eq!(bar_height(50, 100), 70);
        assert_eq!(bar_height(100, 100), 140);
        assert_eq!(bar_height(-5, 100), 0);
        assert_eq!(bar_height(i64::MAX, i64::MAX), 140);
    }
}
