//! Every registered route needs a credential unless it is on the open list
//! below: a new route left open fails here, whoever adds it.
use axum::http::{Method, StatusCode};
use loco_rs::app::Hooks;
use orders_flow::app::App;

use crate::support::TestApp;

/// Routes anyone may call: Loco's health checks, the API's description (no
/// data in it) and the login form itself.
const OPEN: [(&str, &str); 6] = [
    ("GET", "/_ping"),
    ("GET", "/_health"),
    ("GET", "/_readiness"),
    ("GET", "/api/openapi.json"),
    ("GET", "/console/login"),
    ("POST", "/console/login"),
];
/// Needs no credential but refuses a request without the session's CSRF token.
const CSRF_ONLY: [(&str, &str); 1] = [("POST", "/console/logout")];

/// `/api/orders/{id}` → `/api/orders/x`.
fn concrete(uri: &str) -> String {
    uri.split('/')
        .map(|part| if part.starts_with('{') { "x" } else { part })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_route_off_the_open_list_refuses_a_request_without_a_credential() {
    let app = TestApp::boot().await;
    let server = app.server();
    let routes = App::routes(app.ctx()).collect();
    let mut checked = Vec::new();
    for route in &routes {
        for method in &route.actions {
            let key = (method.as_str(), route.uri.as_str());
            if OPEN.contains(&key) || CSRF_ONLY.contains(&key) {
                checked.push(format!("{method} {} (open)", route.uri));
                continue;
            }
            let path = concrete(&route.uri);
            let response = server.method(method.clone(), &path).await;
            let status = response.status_code();
            let to_login =
                status == StatusCode::SEE_OTHER && response.header("location") == "/console/login";
            let refused = status == StatusCode::UNAUTHORIZED
                && response.json::<serde_json::Value>()["error"] == "unauthorized";
            assert!(
                refused || (to_login && *method == Method::GET),
                "{method} {} answered {status} without a credential: add an \
                 `Authorized<…>` extractor, or put it on the open list with a reason",
                route.uri
            );
            checked.push(format!("{method} {}", route.uri));
        }
    }
    // The walk saw the routes (so it cannot pass by seeing none).
    for expected in [
        "GET /api/orders/{id}",
        "POST /api/queues/{queue}/dead/retry",
        "GET /metrics",
    ] {
        assert!(
            checked.iter().any(|c| c == expected),
            "{expected} not walked: {checked:?}"
        );
    }
    let csrf = server.post("/console/logout").form(&[("csrf", "x")]).await;
    assert_eq!(
        csrf.status_code(),
        StatusCode::SEE_OTHER,
        "logout without a session ends nothing"
    );
}
