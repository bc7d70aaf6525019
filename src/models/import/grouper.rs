//! Assembles items-format rows into orders with bounded memory.
//!
//! Rows of one order need not be adjacent, but the whole file cannot be held,
//! so at most `max_open_orders` orders (and `max_open_items` items) stay
//! open. Beyond that the oldest-opened order is considered complete and
//! flushed. A row arriving for an order flushed not long ago (one of the last
//! `recent_ids` flushed) is rejected as "order rows too far apart"; the order
//! itself is imported without it. A row for an order flushed even earlier
//! than that can no longer be told apart from a new order: it becomes an
//! order with an already-used id, which the database then skips as a
//! duplicate. Exporting files sorted by order id or by time avoids both.

use std::collections::{HashMap, VecDeque};

use super::{fields::Invalid, items_row::ItemRow, model::ParsedOrder, recent::RecentIds};

/// Memory bounds for grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupLimits {
    /// Orders kept open before the oldest is flushed.
    pub max_open_orders: usize,
    /// Items kept open before the oldest order is flushed.
    pub max_open_items: usize,
    /// Rows of one order beyond this are rejected.
    pub max_items_per_order: usize,
    /// Flushed ids remembered to recognise late rows.
    pub recent_ids: usize,
}

/// An open order and its running total (kept to check overflow in O(1)).
#[derive(Debug)]
struct Open {
    order: ParsedOrder,
    total_cents: i64,
}

/// Groups item rows into orders, flushing the oldest when limits are hit.
#[derive(Debug)]
pub struct Grouper {
    limits: GroupLimits,
    open: VecDeque<Open>,
    /// Order id → sequence number; `open[seq - front_seq]` is the order.
    index: HashMap<String, u64>,
    front_seq: u64,
    open_items: usize,
    flushed: RecentIds,
}

impl Grouper {
    /// An empty grouper; `max_open_items` is raised to at least
    /// `max_items_per_order` so one large order cannot flush itself.
    #[must_use]
    pub fn new(mut limits: GroupLimits) -> Self {
        limits.max_open_orders = limits.max_open_orders.max(1);
        limits.max_items_per_order = limits.max_items_per_order.max(1);
        limits.max_open_items = limits.max_open_items.max(limits.max_items_per_order);
        Self {
            limits,
            open: VecDeque::new(),
            index: HashMap::new(),
            front_seq: 0,
            open_items: 0,
            flushed: RecentIds::new(limits.recent_ids),
        }
    }

    /// Adds one row; orders that had to be flushed are appended to `done`.
    ///
    /// # Errors
    /// The row disagrees with its order, overflows it, or arrives too late.
    pub fn add(
        &mut self,
        row: &ItemRow<'_>,
        line: u64,
        done: &mut Vec<ParsedOrder>,
    ) -> Result<(), Invalid> {
        match self.index.get(row.order_id) {
            Some(&seq) => {
                let position = usize::try_from(seq - self.front_seq).unwrap_or(usize::MAX);
                let open = self
                    .open
                    .get_mut(position)
                    .ok_or_else(|| Invalid::new("row", "internal grouping error"))?;
                Self::extend(open, row, self.limits.max_items_per_order)?;
                self.open_items += 1;
            }
            None => {
                if let Some(first_line) = self.flushed.get(row.order_id) {
                    return Err(Invalid::new(
                        "external_order_id",
                        format!(
                            "order rows too far apart (order {} starting at line {first_line} was already flushed)",
                            row.order_id
                        ),
                    ));
                }
                let order = row.start_order(line);
                let total_cents = line_cents(row)
                    .ok_or_else(|| Invalid::new("qty", "qty * unit_price_cents is too large"))?;
                let seq = self.front_seq + self.open.len() as u64;
                self.index.insert(order.external_id.clone(), seq);
                self.open.push_back(Open { order, total_cents });
                self.open_items += 1;
            }
        }
        while self.open.len() > self.limits.max_open_orders
            || self.open_items > self.limits.max_open_items
        {
            self.flush_oldest(done);
        }
        Ok(())
    }

    /// Flushes every open order, oldest first (end of file).
    pub fn finish(&mut self, done: &mut Vec<ParsedOrder>) {
        while !self.open.is_empty() {
            self.flush_oldest(done);
        }
    }

    /// Number of orders currently open.
    #[must_use]
    pub fn open_orders(&self) -> usize {
        self.open.len()
    }

    fn extend(open: &mut Open, row: &ItemRow<'_>, max_items: usize) -> Result<(), Invalid> {
        let order = &mut open.order;
        if order.customer.external_id != row.customer_id {
            return Err(Invalid::new(
                "customer_id",
                format!(
                    "customer_id `{}` differs from `{}` given for order {} at line {}",
                    row.customer_id,
                    order.customer.external_id,
                    order.external_id,
                    order.first_line
                ),
            ));
        }
        if !order.currency.eq_ignore_ascii_case(row.currency) {
            return Err(Invalid::new(
                "currency",
                format!(
                    "currency `{}` differs from `{}` given for order {} at line {}",
                    row.currency, order.currency, order.external_id, order.first_line
                ),
            ));
        }
        if order.items.len() >= max_items {
            return Err(Invalid::new(
                "row",
                format!(
                    "order {} has more than {max_items} items",
                    order.external_id
                ),
            ));
        }
        open.total_cents = line_cents(row)
            .and_then(|line| open.total_cents.checked_add(line))
            .ok_or_else(|| {
                Invalid::new(
                    "row",
                    format!("total of order {} is too large", order.external_id),
                )
            })?;
        // Customer details: first non-blank value wins.
        if order.customer.email.is_none() {
            order.customer.email = row.email.map(str::to_owned);
        }
        if order.customer.name.is_none() {
            order.customer.name = row.customer_name.map(str::to_owned);
        }
        order.placed_at = Some(
            order
                .placed_at
                .map_or(row.placed_at, |at| at.min(row.placed_at)),
        );
        order.items.push(row.item());
        Ok(())
    }

    fn flush_oldest(&mut self, done: &mut Vec<ParsedOrder>) {
        if let Some(Open { order, .. }) = self.open.pop_front() {
            self.front_seq += 1;
            self.open_items = self.open_items.saturating_sub(order.items.len());
            self.index.remove(&order.external_id);
            self.flushed.insert(&order.external_id, order.first_line);
            done.push(order);
        }
    }
}

fn line_cents(row: &ItemRow<'_>) -> Option<i64> {
    row.unit_price_cents.checked_mul(row.qty)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    const LIMITS: GroupLimits = GroupLimits {
        max_open_orders: 2,
        max_open_items: 100,
        max_items_per_order: 3,
        recent_ids: 10,
    };

    fn row<'a>(
        order_id: &'a str,
        customer_id: &'a str,
        currency: &'a str,
        minute: u32,
    ) -> ItemRow<'a> {
        ItemRow {
            order_id,
            placed_at: Utc.with_ymd_and_hms(2025, 10, 27, 16, minute, 0).unwrap(),
            currency,
            customer_id,
            email: None,
            customer_name: Some("Jane"),
            sku: "SKU",
            product_name: "Thing",
            unit_price_cents: 100,
            qty: 2,
        }
    }

    #[test]
    fn non_adjacent_rows_are_grouped_and_flushed_oldest_first() {
        let mut grouper = Grouper::new(LIMITS);
        let mut done = Vec::new();
        grouper
            .add(&row("A", "c1", "EUR", 5), 2, &mut done)
            .unwrap();
        grouper
            .add(&row("B", "c2", "EUR", 5), 3, &mut done)
            .unwrap();
        grouper
            .add(&row("A", "c1", "eur", 1), 4, &mut done)
            .unwrap();
        assert!(done.is_empty());
        grouper
            .add(&row("C", "c3", "EUR", 5), 5, &mut done)
            .unwrap();
        assert_eq!(
            done.len(),
            1,
            "the oldest order is flushed when a third opens"
        );
        assert_eq!(
            (done[0].external_id.as_str(), done[0].items.len()),
            ("A", 2)
        );
        assert_eq!(
            done[0].placed_at,
            Some(Utc.with_ymd_and_hms(2025, 10, 27, 16, 1, 0).unwrap())
        );
        assert_eq!(done[0].total_cents(), 400);
        grouper.finish(&mut done);
        let ids: Vec<&str> = done.iter().map(|o| o.external_id.as_str()).collect();
        assert_eq!(ids, ["A", "B", "C"]);
        assert_eq!(grouper.open_orders(), 0);
    }

    #[test]
    fn late_rows_of_a_flushed_order_are_rejected() {
        let mut grouper = Grouper::new(LIMITS);
        let mut done = Vec::new();
        for (line, id) in [(2, "A"), (3, "B"), (4, "C")] {
            grouper
                .add(&row(id, "c", "EUR", 0), line, &mut done)
                .unwrap();
        }
        let err = grouper
            .add(&row("A", "c", "EUR", 0), 5, &mut done)
            .unwrap_err();
        assert_eq!(err.column, "external_order_id");
        assert_eq!(
            err.reason,
            "order rows too far apart (order A starting at line 2 was already flushed)"
        );
    }

    #[test]
    fn disagreeing_rows_are_rejected_and_the_order_keeps_the_rest() {
        let mut grouper = Grouper::new(LIMITS);
        let mut done = Vec::new();
        grouper
            .add(&row("A", "c1", "EUR", 0), 2, &mut done)
            .unwrap();
        let err = grouper
            .add(&row("A", "c2", "EUR", 0), 3, &mut done)
            .unwrap_err();
        assert_eq!(err.column, "customer_id");
        assert_eq!(
            err.reason,
            "customer_id `c2` differs from `c1` given for order A at line 2"
        );
        let err = grouper
            .add(&row("A", "c1", "USD", 0), 4, &mut done)
            .unwrap_err();
        assert_eq!(
            err.reason,
            "currency `USD` differs from `EUR` given for order A at line 2"
        );
        grouper
            .add(&row("A", "c1", "EUR", 0), 5, &mut done)
            .unwrap();
        grouper
            .add(&row("A", "c1", "EUR", 0), 6, &mut done)
            .unwrap();
        let err = grouper
            .add(&row("A", "c1", "EUR", 0), 7, &mut done)
            .unwrap_err();
        assert_eq!(err.reason, "order A has more than 3 items");
        grouper.finish(&mut done);
        assert_eq!(done[0].items.len(), 3);
    }

    #[test]
    fn item_limit_flushes_but_never_the_only_order() {
        let limits = GroupLimits {
            max_open_orders: 10,
            max_open_items: 1,
            ..LIMITS
        };
        let mut grouper = Grouper::new(limits);
        let mut done = Vec::new();
        for line in 2..5 {
            grouper
                .add(&row("A", "c", "EUR", 0), line, &mut done)
                .unwrap();
        }
        assert!(
            done.is_empty(),
            "max_open_items is raised to max_items_per_order"
        );
        grouper.add(&row("B", "c", "EUR", 0), 5, &mut done).unwrap();
        assert_eq!(done.len(), 1);
    }
}
