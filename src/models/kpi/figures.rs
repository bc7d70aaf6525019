//! Figures of one day and leaderboard rows, read from Redis or computed from the database.
use std::collections::{BTreeMap, HashMap};

use redis::aio::ConnectionManager;
use serde::Serialize;

use super::store;

/// One day's figures, all money in integer cents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DayFigures {
    pub revenue_cents: i64,
    pub order_count: i64,
    pub failed_count: i64,
    pub refund_count: i64,
    pub refunded_cents: i64,
}

impl DayFigures {
    /// Revenue per paid order, integer division; 0 without orders.
    #[must_use]
    pub const fn avg_order_value_cents(&self) -> i64 {
        if self.order_count == 0 {
            0
        } else {
            self.revenue_cents / self.order_count
        }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    pub(super) fn from_hash(fields: &HashMap<String, i64>) -> Self {
        let get = |k: &str| fields.get(k).copied().unwrap_or(0);
        Self {
            revenue_cents: get("revenue_cents"),
            order_count: get("order_count"),
            failed_count: get("failed_count"),
            refund_count: get("refund_count"),
            refunded_cents: get("refunded_cents"),
        }
    }

    pub(super) fn fields(&self) -> [(&'static str, i64); 5] {
        [
            ("revenue_cents", self.revenue_cents),
            ("order_count", self.order_count),
            ("failed_count", self.failed_count),
            ("refund_count", self.refund_count),
            ("refunded_cents", self.refunded_cents),
        ]
    }
}

/// Customers by net revenue, highest first.
pub type Board = Vec<(String, i64)>;

/// Everything the figures should be: per day, and the two kinds of board.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Expected {
    pub days: BTreeMap<String, DayFigures>,
    pub all_time: BTreeMap<String, i64>,
    pub day_boards: BTreeMap<String, BTreeMap<String, i64>>,
}

/// Reads one day's figures.
///
/// # Errors
/// Redis errors.
pub async fn read_day(
    redis: &ConnectionManager,
    prefix: &str,
    day: &str,
) -> redis::RedisResult<DayFigures> {
    let mut conn = redis.clone();
    let fields: HashMap<String, i64> = redis::cmd("HGETALL")
        .arg(store::day_key(prefix, day))
        .query_async(&mut conn)
        .await?;
    Ok(DayFigures::from_hash(&fields))
}

/// Reads consecutive days in one round trip.
///
/// # Errors
/// Redis errors.
pub async fn read_days(
    redis: &ConnectionManager,
    prefix: &str,
    days: &[String],
) -> redis::RedisResult<Vec<DayFigures>> {
    let mut conn = redis.clone();
    let mut pipe = redis::pipe();
    for day in days {
        pipe.cmd("HGETALL").arg(store::day_key(prefix, day));
    }
    let hashes: Vec<HashMap<String, i64>> = pipe.query_async(&mut conn).await?;
    Ok(hashes.iter().map(DayFigures::from_hash).collect())
}

/// Reads one day's figures and the top `limit` of a board in one round trip:
/// the metrics endpoint is the most-called one.
///
/// # Errors
/// Redis errors, or a score that is not whole cents.
pub async fn read_day_and_board(
    redis: &ConnectionManager,
    prefix: &str,
    day: &str,
    board_key: &str,
    limit: isize,
) -> redis::RedisResult<(DayFigures, Board)> {
    let mut conn = redis.clone();
    let mut pipe = redis::pipe();
    pipe.cmd("HGETALL").arg(store::day_key(prefix, day));
    board_range(&mut pipe, board_key, limit);
    let (fields, raw): (HashMap<String, i64>, Vec<(String, String)>) =
        pipe.query_async(&mut conn).await?;
    Ok((DayFigures::from_hash(&fields), parse_board(raw)?))
}

/// Reads the top `limit` of a board (`key` from [`store`]).
///
/// # Errors
/// Redis errors, or a score that is not whole cents.
pub async fn read_board(
    redis: &ConnectionManager,
    key: &str,
    limit: isize,
) -> redis::RedisResult<Board> {
    let mut conn = redis.clone();
    let mut pipe = redis::pipe();
    board_range(&mut pipe, key, limit);
    let (raw,): (Vec<(String, String)>,) = pipe.query_async(&mut conn).await?;
    parse_board(raw)
}

/// `ZRANGE key 0 limit-1 REV WITHSCORES`; `isize::MAX` is the whole board.
fn board_range(pipe: &mut redis::Pipeline, key: &str, limit: isize) {
    pipe.cmd("ZRANGE")
        .arg(key)
        .arg(0)
        .arg(if limit == isize::MAX { -1 } else { limit - 1 })
        .arg("REV")
        .arg("WITHSCORES");
}

fn parse_board(raw: Vec<(String, String)>) -> redis::RedisResult<Board> {
    raw.into_iter()
        .map(|(member, score)| Ok((member, parse_score(&score)?)))
        .collect()
}

/// Scores are whole cents; Redis prints integral doubles without a fraction.
fn parse_score(score: &str) -> redis::RedisResult<i64> {
    score.parse::<i64>().map_err(|_| {
        redis::RedisError::from((
            redis::ErrorKind::UnexpectedReturnType,
            "leaderboard score is not whole cents",
            score.to_string(),
        ))
    })
}
