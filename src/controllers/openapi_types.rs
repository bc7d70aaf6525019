//! The types the OpenAPI document describes and handlers name in their
//! `#[utoipa::path]`: error bodies, response sets, parameters and request
//! bodies. Only descriptions, never built (except as schemas).
//!
//! Kept apart from `openapi.rs`, which lists the handlers' paths: the handlers
//! name these types, so with both in one file the document and its handlers
//! imported each other.
use serde::Serialize;
use utoipa::{IntoParams, IntoResponses, ToSchema};

/// Every error leaves in this shape (`json_errors.rs`); some add fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable code, e.g. `order_not_found`, `unauthorized`.
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
}

/// Declares the errors every operation of one scope can answer (401, 403 for the
/// missing scope, 500), so that each operation names them once.
macro_rules! scope_errors {
    ($name:ident, $scope:literal, $forbidden:literal) => {
        #[doc = concat!("The errors of an operation that needs the `", $scope, "` scope.")]
        #[derive(IntoResponses)]
        #[allow(dead_code)] // only describes responses; never built
        pub enum $name {
            #[response(status = 401, description = "No or a wrong credential")]
            Unauthorized(ErrorBody),
            #[response(status = 403, description = $forbidden)]
            Forbidden(ErrorBody),
            #[response(status = 500, description = "The database or Redis failed")]
            Failed(ErrorBody),
        }
    };
}
scope_errors!(ReadErrors, "read", "The token lacks the `read` scope");
scope_errors!(OpsErrors, "ops", "The token lacks the `ops` scope");
scope_errors!(
    RefundsErrors,
    "refunds",
    "The token lacks the `refunds` scope"
);

/// What a refund request on an order answers, both spellings of the path.
#[derive(IntoResponses)]
#[allow(dead_code)] // only describes responses; never built
pub enum RefundAnswers {
    #[response(
        status = 202,
        description = "The refund is queued (the first answer again, for a repeated key)",
        headers(("Idempotent-Replayed" = String, description = "`true` on a repeat"))
    )]
    Queued(RefundAccepted),
    #[response(
        status = 400,
        description = "No valid Idempotency-Key, or a query string"
    )]
    BadRequest(ErrorBody),
    #[response(status = 404, description = "Unknown order")]
    UnknownOrder(ErrorBody),
    #[response(
        status = 409,
        description = "The key is in use by a request still running"
    )]
    KeyInUse(ErrorBody),
    #[response(status = 415, description = "The body is not JSON")]
    NotJson(ErrorBody),
    #[response(
        status = 422,
        description = "A bad body, a key reused with another body, or more than is refundable"
    )]
    Unprocessable(ErrorBody),
}

/// The answer of an operation that needs Redis while Redis is down.
#[derive(IntoResponses)]
#[allow(dead_code)] // only describes a response; never built
#[response(status = 503, description = "Redis is down")]
pub struct RedisDown(ErrorBody);

/// The 400 of an operation whose only client mistakes are in the query
/// string (`params::query`): any parameter it does not take, or a bad value.
#[derive(IntoResponses)]
#[allow(dead_code)] // only describes a response; never built
#[response(status = 400, description = "A query string or a bad parameter")]
pub struct BadQuery(ErrorBody);

/// The 404 of an operation on a queue its path names.
#[derive(IntoResponses)]
#[allow(dead_code)] // only describes a response; never built
#[response(status = 404, description = "Unknown queue")]
pub struct UnknownQueue(ErrorBody);

/// What retrying or discarding dead jobs answers besides [`BadQuery`]: the
/// two take the same body and refuse the same things.
#[derive(IntoResponses)]
#[allow(dead_code)] // only describes responses; never built
pub enum DeadSelectionErrors {
    #[response(
        status = 404,
        description = "Unknown queue, or an id that is not dead (nothing moves)"
    )]
    NotFound(ErrorBody),
    #[response(status = 415, description = "The body is not JSON")]
    NotJson(ErrorBody),
    #[response(status = 422, description = "A bad body")]
    Unprocessable(ErrorBody),
}

/// The path parameter of every `/api/queues/{queue}/…` operation.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // only describes a parameter; axum reads it as a `String`
pub struct QueuePath {
    /// A queue's short name, e.g. `orders:workflow`
    pub queue: String,
}

/// The refund request body. Parsed by hand (`models/refunds/input.rs`) so that
/// no float sees an amount: this type only describes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundRequestBody {
    /// Positive integer cents; give this or `amount`, not both.
    pub amount_cents: Option<i64>,
    /// A decimal amount with at most two places (`12.34`); or `amount_cents`.
    #[schema(value_type = Option<crate::views::metrics::Money>)]
    pub amount: Option<String>,
    pub reason: Option<String>,
}

/// Which dead jobs to retry or discard: `{"ids": [...]}` or `{"all": true}`,
/// not both. Parsed by `workers/dead/retry.rs`; this type only describes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadJobsSelection {
    pub ids: Option<Vec<String>>,
    pub all: Option<bool>,
}

/// The 202 of a refund request, stored on its key and answered again for a
/// repeat (`models/refunds/request.rs`, `accepted_response`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundAccepted {
    pub refund_id: i64,
    /// The order's external id.
    pub order_id: String,
    pub amount_cents: i64,
    /// `pending`.
    pub status: String,
    pub idempotency_key: String,
    pub message: String,
}

/// `POST /api/ops/canary`: the canary job is queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct CanaryQueued {
    pub queued: bool,
    pub queue: String,
}
