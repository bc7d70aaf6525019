//! Orders: their details, and refunds against them. `{id}` is the order's
//! external id and nothing else ([`orders::Entity::find_by_external_id`]).
use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    routing::{get, post},
    Json,
};
use loco_rs::prelude::*;

use super::{
    auth::{Authorized, Caller, Read, Refunds},
    body,
    error::ApiError,
    params::{self, NoQuery},
    services::AppServices,
};
use crate::{
    models::{
        orders,
        refunds::{self, IdempotencyKey, RefundCall, RefundError, RefundInput},
    },
    views::{self, orders::OrderResponse},
    workers::Services,
};

/// The request header carrying the client's idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Declares the handler of one spelling of the refund route: the seed's
/// `POST /api/orders/{id}` and `POST /api/orders/{id}/refunds` take and answer
/// the same, and utoipa describes one path per handler.
macro_rules! refund_route {
    ($(#[$doc:meta])* $name:ident, $path:literal) => {
        $(#[$doc])*
        #[utoipa::path(
            post,
            path = $path,
            tag = "orders",
            params(
                ("id" = String, Path, description = "The order's external id"),
                ("Idempotency-Key" = String, Header, description = "One per refund; a repeat answers the first response again"),
            ),
            request_body(content = crate::controllers::openapi_types::RefundRequestBody, content_type = "application/json"),
            responses(
                crate::controllers::openapi_types::RefundAnswers,
                crate::controllers::openapi_types::RefundsErrors,
            ),
            security(("bearer" = ["refunds"]))
        )]
        pub async fn $name(
            caller: Authorized<Refunds>,
            State(ctx): State<AppContext>,
            // What a refund request needs besides the database (see [`refunds::RefundDesk`]).
            AppServices(desk): AppServices,
            Path(order_ref): Path<String>,
            RawQuery(query): RawQuery,
            headers: HeaderMap,
            body: Bytes,
        ) -> Result<Response, ApiError> {
            refund(&caller, &ctx, &desk, &order_ref, query.as_deref(), &headers, &body).await
        }
    };
}

refund_route!(
    /// `POST /api/orders/{id}/refunds` (and the seed's `POST /api/orders/{id}`):
    /// 202 with the pending refund, or the first answer again for a repeated key.
    ///
    /// # Errors
    /// 401 without a credential, 403 without the `refunds` scope, 415 for a body that is not JSON, 400 without a
    /// valid key or with a query string, 422 for a bad body, 409/422 for key
    /// misuse, 500 on database trouble.
    create_refund,
    "/api/orders/{id}/refunds"
);

refund_route!(
    /// `POST /api/orders/{id}`: the seed's spelling of [`create_refund`], its own
    /// handler so that the OpenAPI document describes both paths.
    ///
    /// # Errors
    /// As [`create_refund`].
    create_refund_on_order,
    "/api/orders/{id}"
);

/// What both refund routes do.
async fn refund(
    caller: &Caller,
    ctx: &AppContext,
    desk: &Services,
    order_ref: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    params::query(query, &[])?;
    body::require_json(headers)?;
    let key = idempotency_key(headers)?;
    let input = RefundInput::from_json(body)?;
    let call = RefundCall {
        scope: &caller.name,
        key: &key,
        order_ref,
        input: &input,
    };
    Ok(views::refunds::recorded(
        refunds::request(&ctx.db, desk, call).await?,
    ))
}

/// `GET /api/orders/{id}`: the order with items, payments, refunds, notifications.
///
/// # Errors
/// 400 with a query string, 404 for an unknown order, 500 on database trouble.
#[utoipa::path(
    get,
    path = "/api/orders/{id}",
    tag = "orders",
    params(
        ("id" = String, Path, description = "The order's external id"),
    ),
    responses(
        (status = 200, description = "The order with items, payments, refunds, notifications; customer data masked without `ops`", body = crate::views::orders::OrderResponse),
        crate::controllers::openapi_types::BadQuery,
        (status = 404, description = "Unknown order", body = crate::controllers::openapi_types::ErrorBody),
        crate::controllers::openapi_types::ReadErrors,
    ),
    security(("bearer" = ["read"]))
)]
pub async fn show(
    caller: Authorized<Read>,
    State(ctx): State<AppContext>,
    Path(order_ref): Path<String>,
    _: NoQuery,
) -> Result<Json<OrderResponse>, ApiError> {
    let order = orders::Entity::find_by_external_id(&ctx.db, &order_ref)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "order_not_found",
                format!("order {} not found", params::clip(&order_ref)),
            )
        })?;
    let record = order
        .record(&ctx.db)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let mut response = OrderResponse::from(record);
    if !caller.sees_customer_data() {
        response.mask_customer_data();
    }
    Ok(Json(response))
}

/// Exactly one `Idempotency-Key` header, as visible ASCII.
fn idempotency_key(headers: &HeaderMap) -> Result<IdempotencyKey, RefundError> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(RefundError::InvalidKey);
    }
    match first {
        None => IdempotencyKey::parse(None),
        Some(value) => {
            IdempotencyKey::parse(Some(value.to_str().map_err(|_| RefundError::InvalidKey)?))
        }
    }
}

pub fn routes() -> Routes {
    Routes::new()
        .prefix("api/orders")
        .add("/{id}", get(show).post(create_refund_on_order))
        .add("/{id}/refunds", post(create_refund))
}
