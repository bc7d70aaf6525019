use serde::Serialize;

use crate::models::{
    imports::{Model as Import, OrderStatusCounts},
    statuses::ImportState,
};

/// `GET /api/imports/{id}`: the import as recorded, plus where its orders are now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportResponse {
    pub id: i64,
    pub file_name: String,
    pub format: Option<String>,
    #[schema(value_type = String)]
    pub state: ImportState,
    pub rows_read: i64,
    pub orders_read: i64,
    pub rows_rejected: i64,
    pub warnings: i64,
    pub chunks_total: i64,
    pub chunks_done: i64,
    pub orders_created: i64,
    pub duplicates_skipped: i64,
    pub rejects_path: Option<String>,
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
    /// The import's orders by current status.
    pub orders: OrderStatusCounts,
}

impl ImportResponse {
    #[must_use]
    pub fn new(import: Import, orders: OrderStatusCounts) -> Self {
        Self {
            id: import.id,
            file_name: import.file_name,
            format: import.format,
            state: import.state,
            rows_read: import.rows_read,
            orders_read: import.orders_read,
            rows_rejected: import.rows_rejected,
            warnings: import.total_warnings,
            chunks_total: import.chunks_total,
            chunks_done: import.chunks_done,
            orders_created: import.orders_created,
            duplicates_skipped: import.duplicates_skipped,
            rejects_path: import.rejects_path,
            error: import.error,
            // Stored without a zone, written in UTC: say so.
            created_at: format!("{}Z", import.created_at.format("%Y-%m-%dT%H:%M:%S")),
            updated_at: format!("{}Z", import.updated_at.format("%Y-%m-%dT%H:%M:%S")),
            finished_at: import
                .finished_at
                .map(|at| at.to_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            orders,
        }
    }
}
