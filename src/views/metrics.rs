//! Response shapes of the metrics API. Money is an exact decimal JSON number
//! (`1548.48`) written from integer cents, never through floating point.
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use crate::models::{kpi::figures::DayFigures, money::format_cents};

/// Cents rendered as a decimal JSON number.
#[derive(Debug, Clone, Copy)]
pub struct Money(pub i64);

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(format_cents(self.0)).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// In the API description: a JSON number, exact to the cent. Described by
/// hand so that no float type appears even in the documentation's source.
impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Number)
            .description(Some(
                "An exact decimal amount with two places (12.34), written from integer \
                 cents; the `_cents` field beside it holds the same amount as an integer.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Money {}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Kpi {
    pub revenue: Money,
    pub order_count: i64,
    pub avg_order_value: Money,
    pub revenue_cents: i64,
    pub avg_order_value_cents: i64,
    pub failed_count: i64,
    pub refund_count: i64,
    pub refunded_cents: i64,
}

impl From<DayFigures> for Kpi {
    fn from(f: DayFigures) -> Self {
        Self {
            revenue: Money(f.revenue_cents),
            order_count: f.order_count,
            avg_order_value: Money(f.avg_order_value_cents()),
            revenue_cents: f.revenue_cents,
            avg_order_value_cents: f.avg_order_value_cents(),
            failed_count: f.failed_count,
            refund_count: f.refund_count,
            refunded_cents: f.refunded_cents,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LeaderboardEntry {
    pub rank: usize,
    /// The customer's external id, as in the imported file.
    pub customer_id: String,
    pub revenue: Money,
    pub revenue_cents: i64,
}

impl LeaderboardEntry {
    #[must_use]
    pub fn ranked(board: Vec<(String, i64)>) -> Vec<Self> {
        board
            .into_iter()
            .enumerate()
            .map(|(i, (customer_id, cents))| Self {
                rank: i + 1,
                customer_id,
                revenue: Money(cents),
                revenue_cents: cents,
            })
            .collect()
    }
}

/// `GET /api/metrics`: the seed shape plus exact cents.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MetricsResponse {
    /// True while the figures may be short of the truth (Redis lost its data
    /// and they are being rebuilt from the database): not zeros to believe.
    pub rebuilding: bool,
    pub date: String,
    pub kpi: Kpi,
    pub scope: &'static str,
    pub leaderboard: Vec<LeaderboardEntry>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DayKpi {
    pub date: String,
    #[serde(flatten)]
    pub kpi: Kpi,
}

/// `GET /api/metrics/range`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RangeResponse {
    /// As in [`MetricsResponse`].
    pub rebuilding: bool,
    pub from: String,
    pub to: String,
    pub days: Vec<DayKpi>,
}

/// `GET /api/leaderboard`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LeaderboardResponse {
    /// As in [`MetricsResponse`].
    pub rebuilding: bool,
    pub scope: &'static str,
    pub date: Option<String>,
    pub leaderboard: Vec<LeaderboardEntry>,
}
