//! Assembles items-format rows into whole orders (the second pass).
//!
//! The first pass left, per order, the line of its last row ([`Spans`]). Here
//! an order opens at its first row, collects its rows wherever they stand,
//! and is handed out right after its last row: never before, so an order is
//! imported whole or not at all, however far apart its rows are.
//!
//! Memory stays bounded by `max_open_orders` / `max_open_items`, not by how
//! the file interleaves its orders: when they are reached, an order whose
//! first row comes by is put off to another pass over the file (from the
//! first such row on), and this repeats until every order is done. Files
//! whose orders' rows are near each other take one pass.
//!
//! An order with a bad row (a bad cell, a customer or currency differing from
//! its first row, too many items, a line over the cap) is rejected whole:
//! each of its rows goes to the rejects file, the bad ones with their own
//! reason, the others naming the bad line. None of it is imported.

use std::collections::HashMap;

use super::{
    fields::Invalid,
    items_row::ItemRow,
    parsed::{ParsedOrder, Reject},
    spans::{key_of, GroupState, Spans},
};

/// Memory bounds for grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupLimits {
    /// Orders kept open at once before new ones are put off to another pass.
    pub max_open_orders: usize,
    /// Rows kept open at once, likewise.
    pub max_open_items: usize,
    /// An order with more rows than this is rejected.
    pub max_items_per_order: usize,
}

/// One row as the stream hands it over.
#[derive(Debug)]
pub struct RowIn<'a> {
    /// The order id (already checked: not empty, not too long).
    pub order_id: &'a str,
    /// The validated row, or why it is bad.
    pub row: Result<ItemRow<'a>, Invalid>,
    /// Physical line.
    pub line: u64,
    /// Byte offset of the row (where another pass would start).
    pub offset: u64,
    /// The row's text, for the rejects file.
    pub raw: &'a str,
}

/// What [`Grouper::add`] did with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// The row belongs to an order of this pass.
    Taken,
    /// Its order was done in an earlier pass or waits for a later one.
    Skipped,
    /// The first pass never saw this order: the file changed meanwhile.
    Unknown,
}

/// Where the orders and rejects go.
#[derive(Debug, Default)]
pub struct Output {
    /// Whole orders, in the order they were completed.
    pub orders: Vec<ParsedOrder>,
    /// Rejected rows.
    pub rejects: Vec<Reject>,
}

#[derive(Debug)]
enum OpenOrder {
    /// Every row so far is good.
    Good {
        order: ParsedOrder,
        /// Running total, to catch an overflow at the row that causes it.
        total_cents: i64,
        /// Line and text of each row, in case a later row is bad.
        rows: Vec<(u64, String)>,
    },
    /// A row was bad (the first bad line and its reason); rows still to
    /// come are rejected as they pass.
    Rejected { line: u64, reason: String },
}

#[derive(Debug)]
struct Group {
    /// Usually one order; more only when order ids share a hash.
    orders: Vec<(String, OpenOrder)>,
    last: u64,
    rows: usize,
}

/// Groups item rows into whole orders.
#[derive(Debug)]
pub struct Grouper {
    limits: GroupLimits,
    open: HashMap<u64, Group>,
    open_orders: usize,
    open_rows: usize,
    /// Offset and line of the first row put off in this pass.
    deferred: Option<(u64, u64)>,
}

impl Grouper {
    /// An empty grouper.
    #[must_use]
    pub fn new(mut limits: GroupLimits) -> Self {
        limits.max_open_orders = limits.max_open_orders.max(1);
        limits.max_items_per_order = limits.max_items_per_order.max(1);
        Self {
            limits,
            open: HashMap::new(),
            open_orders: 0,
            open_rows: 0,
            deferred: None,
        }
    }

    /// Takes one row; completed orders and rejects go to `out`.
    pub fn add(&mut self, spans: &mut Spans, input: RowIn<'_>, out: &mut Output) -> Added {
        let key = key_of(input.order_id);
        let last = match spans.state(key) {
            GroupState::Unknown => return Added::Unknown,
            GroupState::Done | GroupState::Deferred => return Added::Skipped,
            GroupState::Open(last) => last,
        };
        if !self.open.contains_key(&key) {
            // This is the group's first row in the file (earlier rows would
            // have opened it or put it off in this pass).
            let full = self.open_orders >= self.limits.max_open_orders
                || self.open_rows >= self.limits.max_open_items;
            if full && !self.open.is_empty() {
                spans.mark_deferred(key);
                self.deferred.get_or_insert((input.offset, input.line));
                return Added::Skipped;
            }
            self.open.insert(
                key,
                Group {
                    orders: Vec::new(),
                    last,
                    rows: 0,
                },
            );
        }
        let max_items = self.limits.max_items_per_order;
        let Some(group) = self.open.get_mut(&key) else {
            return Added::Unknown;
        };
        let line = input.line;
        let index = match group.orders.iter().position(|(id, _)| id == input.order_id) {
            Some(index) => index,
            None => {
                group
                    .orders
                    .push((input.order_id.to_owned(), OpenOrder::start()));
                self.open_orders += 1;
                group.orders.len() - 1
            }
        };
        let (id, order) = &mut group.orders[index];
        let before = order.rows();
        order.add(id, input, max_items, &mut out.rejects);
        let after = order.rows();
        group.rows = group.rows + after - before;
        self.open_rows = self.open_rows + after - before;
        if line >= group.last {
            if let Some(group) = self.open.remove(&key) {
                self.open_rows -= group.rows;
                self.open_orders -= group.orders.len();
                for (_, order) in group.orders {
                    if let OpenOrder::Good { order, .. } = order {
                        out.orders.push(order);
                    }
                }
            }
            spans.mark_done(key);
        }
        Added::Taken
    }

    /// Orders still open (at the end of a pass: none, unless the file changed).
    #[must_use]
    pub fn open_orders(&self) -> usize {
        self.open_orders
    }

    /// Ends a pass: where the next one starts (offset, line), if any order
    /// was put off.
    pub fn end_pass(&mut self) -> Option<(u64, u64)> {
        self.deferred.take()
    }
}

impl OpenOrder {
    /// Placeholder before the first row is looked at.
    fn start() -> Self {
        Self::Rejected {
            line: 0,
            reason: String::new(),
        }
    }

    fn rows(&self) -> usize {
        match self {
            Self::Good { rows, .. } => rows.len(),
            Self::Rejected { .. } => 0,
        }
    }

    fn add(&mut self, id: &str, input: RowIn<'_>, max_items: usize, rejects: &mut Vec<Reject>) {
        let RowIn { row, line, raw, .. } = input;
        let fresh = matches!(self, Self::Rejected { line: 0, .. });
        let checked = row.and_then(|row| {
            if fresh {
                let total = line_cents(&row)
                    .ok_or_else(|| Invalid::new("qty", "qty * unit_price_cents is too large"))?;
                *self = Self::Good {
                    order: row.start_order(line),
                    total_cents: total,
                    rows: vec![(line, raw.to_owned())],
                };
                return Ok(());
            }
            match self {
                Self::Good {
                    order,
                    total_cents,
                    rows,
                } => {
                    extend(order, total_cents, &row, max_items)?;
                    rows.push((line, raw.to_owned()));
                    Ok(())
                }
                Self::Rejected { .. } => Ok(()),
            }
        });
        match (checked, &mut *self) {
            (Ok(()), Self::Good { .. }) => {}
            (Ok(()), Self::Rejected { line: bad, reason }) => rejects.push(Reject {
                line,
                column: "row".into(),
                reason: whole(id, *bad, reason),
                raw: raw.to_owned(),
            }),
            (Err(invalid), state) => {
                let earlier = match std::mem::replace(
                    state,
                    Self::Rejected {
                        line,
                        reason: invalid.reason.clone(),
                    },
                ) {
                    Self::Good { rows, .. } => rows,
                    // Already rejected: keep naming the first bad line.
                    Self::Rejected { line: 0, .. } => Vec::new(),
                    first @ Self::Rejected { .. } => {
                        *state = first;
                        Vec::new()
                    }
                };
                let (bad, why) = match state {
                    Self::Rejected { line, reason } => (*line, reason.clone()),
                    Self::Good { .. } => (line, invalid.reason.clone()),
                };
                for (row_line, row_raw) in earlier {
                    rejects.push(Reject {
                        line: row_line,
                        column: "row".into(),
                        reason: whole(id, bad, &why),
                        raw: row_raw,
                    });
                }
                rejects.push(Reject {
                    line,
                    column: invalid.column,
                    reason: invalid.reason,
                    raw: raw.to_owned(),
                });
            }
        }
    }
}

/// The reason given to the other rows of a rejected order.
fn whole(id: &str, line: u64, reason: &str) -> String {
    format!("order {id} is rejected whole: its row at line {line} is bad ({reason})")
}

fn extend(
    order: &mut ParsedOrder,
    total_cents: &mut i64,
    row: &ItemRow<'_>,
    max_items: usize,
) -> Result<(), Invalid> {
    if order.customer.external_id != row.customer_id {
        return Err(Invalid::new(
            "customer_id",
            format!(
                "customer_id `{}` differs from `{}` given for order {} at line {}",
                row.customer_id, order.customer.external_id, order.external_id, order.first_line
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
    *total_cents = line_cents(row)
        .and_then(|line| total_cents.checked_add(line))
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
    };

    fn row<'a>(order_id: &'a str, customer_id: &'a str, currency: &'a str) -> ItemRow<'a> {
        ItemRow {
            order_id,
            placed_at: Utc.with_ymd_and_hms(2025, 10, 27, 16, 0, 0).unwrap(),
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

    /// (order id, line, Ok((customer, currency)) or Err(reason)).
    type TestRow<'a> = (&'a str, u64, Result<(&'a str, &'a str), &'a str>);

    /// Runs rows (id, line, Ok(customer, currency) or Err(reason)) through
    /// both passes, as many second passes as it takes.
    fn group(limits: GroupLimits, rows: &[TestRow<'_>]) -> (Output, usize) {
        let mut spans = Spans::default();
        for (id, line, _) in rows {
            spans.record(key_of(id), *line).unwrap();
        }
        spans.seal();
        let mut grouper = Grouper::new(limits);
        let mut out = Output::default();
        let mut from = 0;
        let mut passes = 0;
        loop {
            passes += 1;
            for (id, line, cells) in rows.iter().filter(|r| r.1 >= from) {
                let input = RowIn {
                    order_id: id,
                    row: cells
                        .map(|(customer, currency)| row(id, customer, currency))
                        .map_err(|reason| Invalid::new("qty", reason)),
                    line: *line,
                    offset: *line,
                    raw: "raw",
                };
                assert_ne!(grouper.add(&mut spans, input, &mut out), Added::Unknown);
            }
            assert_eq!(grouper.open_orders(), 0);
            match grouper.end_pass() {
                Some((offset, _)) => {
                    spans.clear_deferred();
                    from = offset;
                }
                None => return (out, passes),
            }
        }
    }

    fn sizes(out: &Output) -> Vec<(&str, usize)> {
        out.orders
            .iter()
            .map(|o| (o.external_id.as_str(), o.items.len()))
            .collect()
    }

    #[test]
    fn an_order_is_handed_out_after_its_last_row_only() {
        let ok = Ok(("c", "EUR"));
        let rows = [
            ("A", 2, ok),
            ("B", 3, ok),
            ("A", 4, ok),
            ("B", 900, ok),
            ("A", 1000, ok),
        ];
        let (out, passes) = group(LIMITS, &rows);
        assert_eq!(sizes(&out), [("B", 2), ("A", 3)]);
        assert_eq!(out.orders[1].total_cents(), 600);
        assert_eq!(passes, 1);
    }

    #[test]
    fn too_many_open_orders_take_more_passes_never_a_split() {
        let ok = Ok(("c", "EUR"));
        let rows = [
            ("A", 2, ok),
            ("B", 3, ok),
            ("C", 4, ok),
            ("D", 5, ok),
            ("C", 6, ok),
            ("A", 7, ok),
            ("B", 8, ok),
            ("D", 9, ok),
        ];
        let (out, passes) = group(LIMITS, &rows);
        assert_eq!(sizes(&out), [("A", 2), ("B", 2), ("C", 2), ("D", 2)]);
        assert_eq!(passes, 2);
    }

    #[test]
    fn an_order_with_a_bad_row_is_rejected_whole() {
        let ok = Ok(("c", "EUR"));
        let rows = [
            ("A", 2, ok),
            ("B", 3, ok),
            ("A", 4, Err("qty must be at least 1")),
            ("A", 5, ok),
            ("A", 6, Ok(("other", "EUR"))),
        ];
        let (out, _) = group(LIMITS, &rows);
        assert_eq!(sizes(&out), [("B", 1)]);
        let got: Vec<(u64, &str, &str)> = out
            .rejects
            .iter()
            .map(|r| (r.line, r.column.as_str(), r.reason.as_str()))
            .collect();
        let whole = "order A is rejected whole: its row at line 4 is bad (qty must be at least 1)";
        assert_eq!(
            got,
            [
                (2, "row", whole),
                (4, "qty", "qty must be at least 1"),
                (5, "row", whole),
                (6, "row", whole),
            ]
        );
    }

    #[test]
    fn a_first_bad_row_rejects_the_rest_and_too_many_items_too() {
        let rows = [
            ("A", 2, Err("bad")),
            ("A", 3, Ok(("c", "EUR"))),
            ("B", 4, Ok(("c", "EUR"))),
            ("B", 5, Ok(("c", "EUR"))),
            ("B", 6, Ok(("c", "EUR"))),
            ("B", 7, Ok(("c", "EUR"))),
        ];
        let (out, _) = group(LIMITS, &rows);
        assert!(out.orders.is_empty());
        let lines: Vec<u64> = out.rejects.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 7]);
        assert_eq!(
            out.rejects[1].reason,
            "order A is rejected whole: its row at line 2 is bad (bad)"
        );
        assert_eq!(out.rejects[5].reason, "order B has more than 3 items");
    }
}
