//! `GET /api/openapi.json` describes every JSON route the app registers, with
//! the right methods, and nothing that is not a route: a new JSON route left
//! out of the document fails here, whoever adds it.
use axum::http::StatusCode;
use loco_rs::app::Hooks;
use orders_flow::app::App;
use serde_json::Value;

use crate::support::TestApp;

/// Routes that answer something other than JSON: HTML console pages, Loco's
/// health checks and the Prometheus text. Everything under `/api/` is JSON.
const NOT_JSON: [&str; 6] = [
    "/dashboard",
    "/console/",
    "/_ping",
    "/_health",
    "/_readiness",
    "/metrics",
];

fn is_json_route(uri: &str) -> bool {
    if uri.starts_with("/api/") {
        return true;
    }
    assert!(
        NOT_JSON
            .iter()
            .any(|prefix| uri == *prefix || uri.starts_with(prefix)),
        "{uri} is neither under /api/ nor on the NOT_JSON list: say which it is"
    );
    false
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[tokio::test]
async fn the_document_lists_every_json_route_with_its_methods() {
    let app = TestApp::boot().await;
    let server = app.server();

    // Open: no credential needed to read the description.
    let response = server.get("/api/openapi.json").await;
    assert_eq!(response.status_code(), StatusCode::OK);
    assert_eq!(response.header("content-type"), "application/json");
    let document: Value = serde_json::from_str(&response.text()).expect("valid JSON");
    let version = document["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3.1."), "openapi {version}");
    assert!(
        document["info"].get("license").is_none(),
        "no license is named"
    );

    let paths = document["paths"].as_object().expect("paths");
    let mut routed = Vec::new();
    for route in App::routes(app.ctx()).collect() {
        if !is_json_route(&route.uri) {
            continue;
        }
        for method in &route.actions {
            let method = method.as_str().to_ascii_lowercase();
            assert!(
                paths
                    .get(&route.uri)
                    .and_then(|item| item.get(&method))
                    .is_some(),
                "{method} {} is not in /api/openapi.json: add #[utoipa::path] \
                 beside its handler and list it in controllers/openapi.rs",
                route.uri
            );
            routed.push(format!("{} {}", method.to_ascii_uppercase(), route.uri));
        }
    }

    // And the other way: every documented operation is a real route.
    let mut documented = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            if item.get(method).is_some() {
                documented.push(format!("{} {path}", method.to_ascii_uppercase()));
            }
        }
    }
    routed.sort();
    documented.sort();
    assert_eq!(
        documented, routed,
        "documented operations that are not routes"
    );
    insta::assert_yaml_snapshot!("documented_operations", documented);

    // Every operation but the document itself names its bearer scope and
    // describes the 401 in the error shape.
    let error_ref = "#/components/schemas/ErrorBody";
    for (path, item) in paths {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            if path == "/api/openapi.json" {
                assert!(operation.get("security").is_none());
                continue;
            }
            let scopes = &operation["security"][0]["bearer"];
            assert!(
                scopes
                    .as_array()
                    .is_some_and(|s| s.len() == 1 && s[0].is_string()),
                "{method} {path}: security {scopes}"
            );
            let unauthorized = &operation["responses"]["401"]["content"]["application/json"];
            assert_eq!(
                unauthorized["schema"]["$ref"], error_ref,
                "{method} {path}: 401 without the error shape"
            );
        }
    }
    let error_shape = &document["components"]["schemas"]["ErrorBody"];
    assert_eq!(
        error_shape["required"],
        serde_json::json!(["error", "message"])
    );
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    // A query string gets the JSON error, as on every other route.
    let with_query = server.get("/api/openapi.json?x=1").await;
    assert_eq!(with_query.status_code(), StatusCode::BAD_REQUEST);
    assert!(with_query.json::<Value>()["error"].is_string());
}
