//! One error shape for every response, not only for the handlers' own errors.
//!
//! axum, tower-http and Loco answer some requests before or around a handler:
//! a path with no route (Loco's HTML page, or an empty 404), a method the path
//! does not take (an empty 405), a body over the limit (413 in text/plain), a
//! path or query value that cannot be decoded (400 in text/plain), a timeout,
//! a panic, Loco's own `{"error", "description"}`. This layer, the outermost
//! of the stack, rewrites every error response that is not already
//! `{"error": code, "message": …}` into that shape and keeps its status and
//! headers (`Retry-After`, the request id; axum adds a 405's `Allow` after it). Success responses pass
//! untouched: the cost on the hot routes is one status check.
use axum::{
    body::Body,
    extract::Request,
    http::{header, HeaderValue, Method, Response, StatusCode, Uri},
    middleware::Next,
    Router as AXRouter,
};
use loco_rs::{app::AppContext, controller::middleware::MiddlewareLayer};
use serde_json::{json, Map, Value};

/// An error body larger than this is not read for its message.
const READ_LIMIT: usize = 64 * 1024;
/// Longest text taken over from a rejection, or echoed from the path.
const ECHO_CHARS: usize = 200;

/// The layer, for [`crate::app::App::middlewares`].
pub struct JsonErrors;

impl MiddlewareLayer for JsonErrors {
    fn name(&self) -> &'static str {
        "json_errors"
    }

    fn config(&self) -> serde_json::Result<Value> {
        Ok(json!({}))
    }

    fn apply(&self, app: AXRouter<AppContext>) -> loco_rs::Result<AXRouter<AppContext>> {
        Ok(app.layer(axum::middleware::from_fn(reshape)))
    }
}

async fn reshape(request: Request, next: Next) -> Response<Body> {
    // Both are cheap to clone (shared bytes); needed only for the message.
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let response = next.run(request).await;
    // A page meant for a browser as it is (the dashboard's "Redis unreachable").
    if response.status().as_u16() < 400
        || response
            .extensions()
            .get::<super::outage::KeepBody>()
            .is_some()
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, READ_LIMIT)
        .await
        .unwrap_or_default();
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let original = if is_json {
        serde_json::from_slice::<Value>(&bytes).ok()
    } else {
        None
    };
    if original.as_ref().is_some_and(has_the_shape) {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let status = parts.status;
    let text = (!is_json)
        .then(|| std::str::from_utf8(&bytes).ok())
        .flatten()
        .filter(|_| is_plain_text(&parts.headers));
    let mut body = match original {
        Some(Value::Object(fields)) => fields,
        _ => Map::new(),
    };
    let described = body
        .remove("description")
        .and_then(|d| d.as_str().map(str::to_string));
    let message = message(status, &method, &uri, described.as_deref().or(text));
    body.insert("error".to_string(), Value::String(code(status)));
    body.insert("message".to_string(), Value::String(message));
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(Value::Object(body).to_string()))
}

/// `{"error": "…", "message": "…"}`, possibly with more fields.
fn has_the_shape(body: &Value) -> bool {
    body.get("error").is_some_and(Value::is_string)
        && body.get("message").is_some_and(Value::is_string)
}

fn is_plain_text(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"))
}

/// The code of a status: its reason phrase in snake case (`payload_too_large`);
/// 500 is `internal_error`, as the handlers say it.
fn code(status: StatusCode) -> String {
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        return "internal_error".to_string();
    }
    status.canonical_reason().map_or_else(
        || "error".to_string(),
        |reason| {
            reason
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect()
        },
    )
}

fn message(status: StatusCode, method: &Method, uri: &Uri, text: Option<&str>) -> String {
    let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
    match status {
        StatusCode::NOT_FOUND if text.is_none() => {
            format!("no route for {method} {}", clip(uri.path()))
        }
        // axum adds `Allow` outside this layer, after the body is written.
        StatusCode::METHOD_NOT_ALLOWED => format!(
            "{method} is not allowed on {} (the Allow header lists what is)",
            clip(uri.path())
        ),
        // What a server error says stays in the log.
        s if s.is_server_error() => reason,
        _ => text
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map_or(reason, clip),
    }
}

/// At most [`ECHO_CHARS`] characters, with `…` when cut.
fn clip(text: &str) -> String {
    match text.char_indices().nth(ECHO_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_reason_phrases_in_snake_case() {
        assert_eq!(code(StatusCode::PAYLOAD_TOO_LARGE), "payload_too_large");
        assert_eq!(code(StatusCode::METHOD_NOT_ALLOWED), "method_not_allowed");
        assert_eq!(code(StatusCode::URI_TOO_LONG), "uri_too_long");
        assert_eq!(code(StatusCode::INTERNAL_SERVER_ERROR), "internal_error");
        assert_eq!(code(StatusCode::from_u16(599).unwrap()), "error");
    }

    #[test]
    fn long_text_is_clipped() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(ECHO_CHARS + 5);
        assert_eq!(clip(&long).chars().count(), ECHO_CHARS + 1);
    }
}
