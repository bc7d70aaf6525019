//! `orders_import … rate=N`: a file's orders released at a steady rate, as a
//! shop's orders arrive through the day, instead of as fast as Redis takes
//! them. The steady-stream benchmark replays one file this way; an operator
//! uses it to import a large backlog beside live traffic.
use std::{num::NonZeroU32, time::Duration};

use tokio::time::Instant;

/// When each chunk of a paced import may be queued.
#[derive(Debug)]
pub(super) struct Pace {
    per_second: NonZeroU32,
    /// The clock starts with the first chunk (not with the file's first
    /// pass, which reads ahead before any chunk exists).
    started: Option<Instant>,
    /// Orders released so far.
    released: u64,
}

impl Pace {
    pub(super) fn new(per_second: NonZeroU32) -> Self {
        Self {
            per_second,
            started: None,
            released: 0,
        }
    }

    /// Waits until a chunk of `orders` more orders may go: when its last order
    /// is due. So at no moment have more than `per_second × elapsed` orders
    /// been released, and over the file the rate is exactly `per_second`.
    pub(super) async fn wait_for(&mut self, orders: usize) {
        let started = *self.started.get_or_insert_with(Instant::now);
        self.released += orders as u64;
        tokio::time::sleep_until(started + due_after(self.released, self.per_second)).await;
    }
}

/// How long after the start the `released`-th order is due.
fn due_after(released: u64, per_second: NonZeroU32) -> Duration {
    let per_second = u64::from(per_second.get());
    let micros = u128::from(released) * 1_000_000 / u128::from(per_second);
    Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn the_nth_order_is_due_n_over_the_rate_seconds_in() {
        assert_eq!(due_after(0, rate(1000)), Duration::ZERO);
        assert_eq!(due_after(1000, rate(1000)), Duration::from_secs(1));
        assert_eq!(due_after(1500, rate(3000)), Duration::from_millis(500));
        assert_eq!(due_after(1, rate(3)), Duration::from_micros(333_333));
        // Far past any file: no overflow.
        assert_eq!(
            due_after(u64::MAX, rate(1)),
            Duration::from_micros(u64::MAX)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn chunks_are_held_until_their_last_order_is_due() {
        let mut pace = Pace::new(rate(2000));
        let start = Instant::now();
        pace.wait_for(1000).await;
        assert_eq!(start.elapsed(), Duration::from_millis(500));
        pace.wait_for(500).await;
        assert_eq!(start.elapsed(), Duration::from_millis(750));
        pace.wait_for(2500).await;
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }
}
