//! A per-minute series as an inline SVG polyline, drawn on the server: integer
//! coordinates, no script and no chart library.
use serde::Serialize;

/// Pixels per point across, and the drawing's height.
pub const STEP: u64 = 3;
pub const HEIGHT: u64 = 30;

/// Two series on one vertical scale, so a failed minute reads against a done one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sparkline {
    pub width: u64,
    pub height: u64,
    /// The value drawn at the top edge (at least 1).
    pub top: u64,
    /// `points` of the first series' polyline: `x,y x,y …`.
    pub done: String,
    pub failed: String,
}

/// Draws `done` and `failed` (same length, oldest first).
#[must_use]
pub fn draw(done: &[u64], failed: &[u64]) -> Sparkline {
    let top = done.iter().chain(failed).copied().max().unwrap_or(0).max(1);
    let count = u64::try_from(done.len().max(failed.len())).unwrap_or(u64::MAX);
    let width = STEP
        .saturating_mul(count.saturating_sub(1))
        .saturating_add(1);
    Sparkline {
        width,
        height: HEIGHT,
        top,
        done: points(done, top),
        failed: points(failed, top),
    }
}

/// Zero on the bottom row of pixels, `top` on the top row; integer division
/// rounds a small value down, never below zero's row.
fn points(values: &[u64], top: u64) -> String {
    let last_row = HEIGHT - 1;
    values
        .iter()
        .zip(0_u64..)
        .map(|(value, i)| {
            let y = last_row - value.min(&top) * last_row / top;
            format!("{},{y}", i * STEP)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_value_touches_the_top_and_zero_the_bottom() {
        let line = draw(&[0, 4, 2], &[1, 0, 0]);
        assert_eq!(line.top, 4);
        assert_eq!(line.width, 7);
        assert_eq!(line.done, "0,29 3,0 6,15");
        assert_eq!(line.failed, "0,22 3,29 6,29");
    }

    #[test]
    fn an_idle_hour_is_a_flat_line_on_the_bottom() {
        let line = draw(&[0; 60], &[0; 60]);
        assert_eq!(line.top, 1);
        assert_eq!(line.width, 178);
        assert!(line.done.split(' ').all(|p| p.ends_with(",29")));
        assert_eq!(line.done.split(' ').count(), 60);
    }
}
