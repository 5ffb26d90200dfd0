//! How the sync cuts a window of `searchOrders` into slices that each fit in one page.
//!
//! Amazon does not say whether a pagination token continues by keyset or by offset. By offset over a
//! result set that changes while it is read, an order leaving the window (because it changed) shifts
//! every later one forward, and the one landing on the page boundary is never served: a backfill
//! skips orders for good. A slice answered in one page is one snapshot and cannot skip, whichever way
//! Amazon pages. So the sync reads slices, halving one that overflows a page and sizing the next from
//! how full the last one was; only a slice too short to split follows tokens.
use chrono::{DateTime, Duration, DurationRound, Utc};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slicing {
    /// `maxResultsPerPage` the sync asks for.
    pub page_size: u32,
    /// Share of a page the next slice is sized to fill: room for the estimate to be wrong.
    pub fill_target: f64,
    /// Amazon's timestamps are whole seconds: a slice this short cannot be split.
    pub min_span: Duration,
}

impl Slicing {
    pub fn new(page_size: u8) -> Self {
        Self { page_size: u32::from(page_size.max(1)), fill_target: 0.8, min_span: Duration::seconds(1) }
    }

    /// Slices no shorter than `min_span` are split; shorter ones follow tokens.
    pub fn with_min_span(self, min_span: Duration) -> Self {
        Self { min_span: min_span.max(Duration::seconds(1)), ..self }
    }

    /// The end of the slice after `[start, end)`, which held `orders` in one page: sized so it should
    /// hold `fill_target` of a page at the density just seen (at most four times as long, at least
    /// half), never past `window_end`.
    pub fn next_after_fit(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        orders: usize,
        window_end: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let span = (end - start).max(self.min_span);
        let wanted = self.fill_target * f64::from(self.page_size);
        let factor = (wanted / orders.max(1) as f64).clamp(0.5, 4.0);
        let next = end + scaled(span, factor).max(self.min_span);
        whole_second(next).max(end + self.min_span).min(window_end)
    }

    /// The end of a shorter slice from `start`, after `[start, end)` held more than a page; `None` when
    /// the slice is too short to split. `latest_served` is the latest `lastUpdatedTime` on the page
    /// Amazon served: if Amazon sorts by it (as it seems to), the orders before it fit in one page;
    /// if not, the slice is halved.
    pub fn shorter_after_overflow(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        latest_served: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        if end - start <= self.min_span {
            return None;
        }
        let half = start + scaled(end - start, 0.5);
        let shorter = latest_served.filter(|latest| *latest > start).map_or(half, |latest| latest.min(half));
        Some(whole_second(shorter).max(start + self.min_span))
    }
}

fn scaled(span: Duration, factor: f64) -> Duration {
    Duration::milliseconds((span.num_milliseconds() as f64 * factor) as i64)
}

fn whole_second(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::seconds(1)).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn a_sparse_slice_grows_at_most_fourfold_and_stops_at_the_window_end() {
        let slicing = Slicing::new(100);
        assert_eq!(slicing.next_after_fit(at(0), at(100), 0, at(10_000)), at(500));
        assert_eq!(slicing.next_after_fit(at(0), at(100), 40, at(10_000)), at(300));
        assert_eq!(slicing.next_after_fit(at(0), at(100), 40, at(250)), at(250));
    }

    #[test]
    fn a_full_slice_is_followed_by_a_shorter_one() {
        let slicing = Slicing::new(100);
        assert_eq!(slicing.next_after_fit(at(0), at(100), 100, at(10_000)), at(180));
        assert_eq!(slicing.next_after_fit(at(0), at(100), 1000, at(10_000)), at(150), "at least half as long");
    }

    #[test]
    fn an_overflowing_slice_is_halved_or_cut_at_the_latest_order_served() {
        let slicing = Slicing::new(100);
        assert_eq!(slicing.shorter_after_overflow(at(0), at(100), None), Some(at(50)));
        assert_eq!(slicing.shorter_after_overflow(at(0), at(100), Some(at(90))), Some(at(50)), "unsorted: halved");
        assert_eq!(slicing.shorter_after_overflow(at(0), at(100), Some(at(20))), Some(at(20)), "sorted: cut");
        assert_eq!(slicing.shorter_after_overflow(at(0), at(100), Some(at(0))), Some(at(50)));
    }

    #[test]
    fn a_one_second_slice_cannot_be_split() {
        let slicing = Slicing::new(100);
        assert_eq!(slicing.shorter_after_overflow(at(0), at(1), Some(at(0))), None);
        assert_eq!(slicing.shorter_after_overflow(at(0), at(2), Some(at(0))), Some(at(1)));
    }

    #[test]
    fn slices_always_move_forward() {
        let slicing = Slicing::new(1);
        for orders in [0, 1, 5, 1000] {
            assert!(slicing.next_after_fit(at(0), at(0), orders, at(10)) > at(0));
        }
    }
}
