//! The console's browser login over real HTTP: the login form and its CSRF
//! cookie, the session cookie's flags, logout, and what a stale, tampered,
//! copied or forged cookie gets.
use axum::http::StatusCode;
use axum_test::{TestResponse, TestServer};
use cookie::{Cookie, CookieJar, Key};
use orders_flow::controllers::auth::session::{Session, LOGIN_COOKIE, SESSION_COOKIE};
use serde_json::json;

use crate::support::TestApp;

const TOKENS: &str = "test-token,reader:read,refunder:refunds";

async fn app() -> TestApp {
    TestApp::boot_with(|s| s["api"]["tokens"] = json!(TOKENS)).await
}

/// The `name=value` of the `Set-Cookie` header for `name`, and the whole header.
pub(crate) fn set_cookie(response: &TestResponse, name: &str) -> Option<(String, String)> {
    response
        .iter_headers_by_name("set-cookie")
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|header| (header.split(';').next().unwrap().to_string(), header))
}

/// The hidden `csrf` field of a page.
pub(crate) fn csrf_field(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[start..start + 64].to_string()
}

/// Opens the login form and posts `token` with the form's CSRF token.
pub(crate) async fn log_in(server: &TestServer, token: &str) -> TestResponse {
    let form = server.get("/console/login").await;
    form.assert_status_ok();
    let (cookie, _) = set_cookie(&form, LOGIN_COOKIE).expect("a login cookie");
    let csrf = csrf_field(&form.text());
    server
        .post("/console/login")
        .add_header("Cookie", cookie)
        .form(&[("csrf", csrf.as_str()), ("token", token)])
        .await
}

/// The session cookie of a successful login.
pub(crate) async fn session(server: &TestServer, token: &str) -> String {
    let login = log_in(server, token).await;
    assert_eq!(login.status_code(), StatusCode::SEE_OTHER);
    assert_eq!(login.header("location"), "/dashboard");
    set_cookie(&login, SESSION_COOKIE)
        .expect("a session cookie")
        .0
}

#[tokio::test]
async fn log_in_see_the_pages_log_out() {
    let app = app().await;
    let server = app.http_server();
    let form = server.get("/console/login").await;
    let (_, login_cookie) = set_cookie(&form, LOGIN_COOKIE).unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(login_cookie.contains(flag), "{login_cookie}");
    }
    assert_eq!(form.header("cache-control"), "no-store");
    assert!(form
        .text()
        .contains("<form method=\"post\" action=\"/console/login\">"));

    let login = log_in(&server, "test-token").await;
    let (cookie, header) = set_cookie(&login, SESSION_COOKIE).unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(header.contains(flag), "{header}");
    }
    assert!(
        !header.contains("test-token"),
        "the cookie is encrypted: {header}"
    );

    let page = server
        .get("/dashboard")
        .add_header("Cookie", cookie.clone())
        .await;
    page.assert_status_ok();
    let html = page.text();
    assert!(
        html.contains("<button type=\"submit\">Log out</button>"),
        "{html}"
    );
    let csrf = csrf_field(&html);
    assert!(html.contains(&format!("<meta name=\"csrf-token\" content=\"{csrf}\">")));
    server
        .get("/dashboard/kpis")
        .add_header("Cookie", cookie.clone())
        .await
        .assert_status_ok();
    server
        .get("/api/queues")
        .add_header("Cookie", cookie.clone())
        .await
        .assert_status_ok();

    let logout = server
        .post("/console/logout")
        .add_header("Cookie", cookie.clone())
        .form(&[("csrf", csrf.as_str())])
        .await;
    assert_eq!(logout.status_code(), StatusCode::SEE_OTHER);
    assert_eq!(logout.header("location"), "/console/login");
    let (_, removal) = set_cookie(&logout, SESSION_COOKIE).unwrap();
    assert!(removal.contains("Max-Age=0"), "{removal}");
    // A copy of the cookie kept after logout opens nothing.
    let copied = server
        .get("/dashboard")
        .add_header("Cookie", cookie.clone())
        .await;
    assert_eq!(copied.status_code(), StatusCode::SEE_OTHER);
    assert_eq!(copied.header("location"), "/console/login?error=expired");
    let api = server.get("/api/queues").add_header("Cookie", cookie).await;
    api.assert_status_unauthorized();
    insta::assert_json_snapshot!("after_logout", api.json::<serde_json::Value>());
}

#[tokio::test]
async fn a_wrong_token_or_one_without_read_gets_no_session() {
    let app = app().await;
    let server = app.http_server();
    for token in ["wrong", "refunder", "test-token "] {
        let login = log_in(&server, token).await;
        assert_eq!(login.status_code(), StatusCode::SEE_OTHER, "{token:?}");
        assert_eq!(login.header("location"), "/console/login?error=invalid");
        assert!(set_cookie(&login, SESSION_COOKIE).is_none(), "{token:?}");
    }
    let page = server.get("/console/login?error=invalid").await.text();
    assert!(
        page.contains("That token is unknown or lacks the read scope."),
        "{page}"
    );
}

#[tokio::test]
async fn a_login_post_without_its_forms_csrf_token_is_refused() {
    let app = app().await;
    let server = app.http_server();
    let form = server.get("/console/login").await;
    let (cookie, _) = set_cookie(&form, LOGIN_COOKIE).unwrap();
    let csrf = csrf_field(&form.text());
    let attempts = [
        ("no cookie", None, csrf.clone()),
        ("another token", Some(cookie.clone()), "0".repeat(64)),
        ("empty", Some(cookie.clone()), String::new()),
        (
            "forged cookie",
            Some(format!("{LOGIN_COOKIE}={csrf}")),
            csrf.clone(),
        ),
    ];
    for (what, cookie, csrf) in attempts {
        let mut request = server.post("/console/login");
        if let Some(cookie) = cookie {
            request = request.add_header("Cookie", cookie);
        }
        let response = request
            .form(&[("csrf", csrf.as_str()), ("token", "test-token")])
            .await;
        assert_eq!(response.status_code(), StatusCode::FORBIDDEN, "{what}");
        assert!(set_cookie(&response, SESSION_COOKIE).is_none(), "{what}");
        assert_eq!(
            response.json::<serde_json::Value>()["error"],
            "csrf_failed",
            "{what}"
        );
    }
}

#[tokio::test]
async fn console_posts_need_the_sessions_csrf_token() {
    let app = app().await;
    let server = app.http_server();
    let cookie = session(&server, "test-token").await;
    let csrf = csrf_field(
        &server
            .get("/dashboard")
            .add_header("Cookie", cookie.clone())
            .await
            .text(),
    );

    let forged_logout = server
        .post("/console/logout")
        .add_header("Cookie", cookie.clone())
        .form(&[("csrf", "0".repeat(64).as_str())])
        .await;
    assert_eq!(forged_logout.status_code(), StatusCode::FORBIDDEN);
    server
        .get("/dashboard")
        .add_header("Cookie", cookie.clone())
        .await
        .assert_status_ok();

    let retry = |csrf: Option<&str>| {
        let mut request = server
            .post("/api/queues/notifications/dead/retry")
            .add_header("Cookie", cookie.clone())
            .json(&json!({ "ids": ["1-2"] }));
        if let Some(csrf) = csrf {
            request = request.add_header("X-CSRF-Token", csrf.to_string());
        }
        request
    };
    let without = retry(None).await;
    assert_eq!(without.status_code(), StatusCode::FORBIDDEN);
    insta::assert_json_snapshot!("retry_without_csrf", without.json::<serde_json::Value>());
    assert_eq!(retry(Some("0")).await.status_code(), StatusCode::FORBIDDEN);
    // With it, the request reaches the handler: that id is not dead.
    assert_eq!(
        retry(Some(&csrf)).await.status_code(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_read_session_sees_pages_but_may_not_operate() {
    let app = app().await;
    let server = app.http_server();
    let cookie = session(&server, "reader").await;
    let csrf = csrf_field(
        &server
            .get("/dashboard")
            .add_header("Cookie", cookie.clone())
            .await
            .text(),
    );
    let retry = server
        .post("/api/queues/notifications/dead/retry")
        .add_header("Cookie", cookie)
        .add_header("X-CSRF-Token", csrf)
        .json(&json!({ "all": true }))
        .await;
    assert_eq!(retry.status_code(), StatusCode::FORBIDDEN);
    assert_eq!(retry.json::<serde_json::Value>()["error"], "forbidden");
}

/// A session cookie made with the app's own key, as the server would make it.
fn sealed(key: &Key, session: &Session) -> String {
    let mut jar = CookieJar::new();
    let value = serde_json::to_string(session).unwrap();
    jar.private_mut(key).add(Cookie::new(SESSION_COOKIE, value));
    format!(
        "{SESSION_COOKIE}={}",
        jar.get(SESSION_COOKIE).unwrap().value()
    )
}

#[tokio::test]
async fn expired_tampered_and_foreign_cookies_open_nothing() {
    let app = app().await;
    let server = app.http_server();
    let secret = "test-only-secret-do-not-use-in-production";
    let key = Key::derive_from(secret.as_bytes());
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"test-token"));
    let now = chrono::Utc::now().timestamp();
    let expired = sealed(
        &key,
        &Session {
            id: "x".repeat(64),
            token: digest.clone(),
            expires: now - 1,
            csrf: "c".into(),
        },
    );
    // Well sealed and unexpired, but never opened by a login: no Redis key.
    let never_opened = sealed(
        &key,
        &Session {
            id: "y".repeat(64),
            token: digest.clone(),
            expires: now + 600,
            csrf: "c".into(),
        },
    );
    let foreign = sealed(
        &Key::derive_from(b"another-secret-of-at-least-32-characters"),
        &Session {
            id: "z".repeat(64),
            token: digest,
            expires: now + 600,
            csrf: "c".into(),
        },
    );
    let good = session(&server, "test-token").await;
    let tampered = {
        let mut bytes = good.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    };
    let mut answers = Vec::new();
    for (what, cookie) in [
        ("expired", expired),
        ("never opened", never_opened),
        ("foreign key", foreign),
        ("tampered", tampered),
    ] {
        let page = server
            .get("/dashboard")
            .add_header("Cookie", cookie.clone())
            .await;
        assert_eq!(page.status_code(), StatusCode::SEE_OTHER, "{what}");
        assert_eq!(
            page.header("location"),
            "/console/login?error=expired",
            "{what}"
        );
        let api = server.get("/api/queues").add_header("Cookie", cookie).await;
        answers.push(json!({ "cookie": what, "status": api.status_code().as_u16(), "body": api.json::<serde_json::Value>() }));
    }
    insta::assert_json_snapshot!("bad_cookies", answers);
    server
        .get("/dashboard")
        .add_header("Cookie", good)
        .await
        .assert_status_ok();
}
