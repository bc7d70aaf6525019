//! A real browser on the real app: the app's router served on a free local
//! port, `chromedriver` on another, headless Chromium driven over WebDriver
//! (`fantoccini`). Chromium and chromedriver are Debian's `chromium` and
//! `chromium-driver` (`scripts/services.sh --browser` installs them).
//!
//! Screenshots go to the test's scratch folder; with `UPDATE_SCREENSHOTS=1` they
//! are also copied to `docs/`, where the README shows them.
use std::{
    net::TcpListener,
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

use super::TestApp;

/// How long a page may take to show what a test waits for.
pub const PAGE_DEADLINE: Duration = Duration::from_secs(30);

/// The app's router on a real socket, served until the test ends.
pub struct LiveApp {
    pub base: String,
    server: tokio::task::JoinHandle<()>,
}

impl LiveApp {
    pub async fn serve(app: &TestApp) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let router = app.boot.router.clone().expect("router");
        let server = tokio::spawn(async move {
            axum::serve(listener, router.into_make_service())
                .await
                .expect("serve");
        });
        Self { base, server }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for LiveApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// `chromedriver` on a free port with one headless Chromium session; both end
/// on drop (the session through chromedriver's exit).
pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("local addr")
        .port()
}

impl Browser {
    pub async fn start() -> Self {
        let port = free_port();
        // Its own process group, which Chromium's processes join: a test that
        // fails before closing the session still ends them all on drop.
        let driver = Command::new("chromedriver")
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver: scripts/services.sh --browser)");
        let profile = std::env::temp_dir().join(format!("browser-{}", uuid::Uuid::new_v4()));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_string(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new",
                    // The tests run as root, where Chromium's sandbox cannot start.
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let webdriver = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let attempt = ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&webdriver)
                .await;
            match attempt {
                Ok(client) => break client,
                Err(e) => {
                    assert!(
                        started.elapsed() < Duration::from_secs(30),
                        "no WebDriver session: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        Self {
            client,
            driver,
            profile,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("goto");
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PAGE_DEADLINE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    /// The text of the first element matching `css`, or `None` when none does.
    pub async fn text(&self, css: &str) -> Option<String> {
        let element = self.client.find(Locator::Css(css)).await.ok()?;
        element.text().await.ok()
    }

    /// Polls the page until the text of `css` satisfies `check`; returns it.
    pub async fn wait_for_text(
        &self,
        css: &str,
        what: &str,
        check: impl Fn(&str) -> bool,
    ) -> String {
        let started = Instant::now();
        loop {
            if let Some(text) = self.text(css).await {
                if check(&text) {
                    return text;
                }
            }
            assert!(
                started.elapsed() < PAGE_DEADLINE,
                "timed out waiting for {what} ({css} is {:?})",
                self.text(css).await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Logs in through the form with `token`.
    pub async fn log_in(&self, app: &LiveApp, token: &str) {
        self.goto(&app.url("/console/login")).await;
        self.find("#token")
            .await
            .send_keys(token)
            .await
            .expect("type the token");
        self.find("form[action='/console/login'] button[type=submit]")
            .await
            .click()
            .await
            .expect("submit");
    }

    /// A PNG of the window, named `name.png`; copied to `docs/` with
    /// `UPDATE_SCREENSHOTS=1`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::create_dir_all(&self.profile).expect("scratch");
        std::fs::write(self.profile.join(format!("{name}.png")), &png).expect("write png");
        if std::env::var("UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
            let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs");
            std::fs::create_dir_all(&docs).expect("docs/");
            std::fs::write(docs.join(format!("{name}.png")), &png).expect("write docs png");
        }
    }

    /// Accepts the `confirm()` the page opened (the discard button asks one).
    pub async fn accept_dialog(&self) {
        let started = Instant::now();
        while self.client.accept_alert().await.is_err() {
            assert!(started.elapsed() < PAGE_DEADLINE, "no dialog opened");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Marks the page in its JavaScript state: [`Self::same_page`] is true until
    /// the browser loads another page (a live refresh keeps it).
    pub async fn mark_page(&self) {
        self.client
            .execute("window.__sameDocument = true;", vec![])
            .await
            .expect("mark the page");
    }

    pub async fn same_page(&self) -> bool {
        self.client
            .execute("return window.__sameDocument === true;", vec![])
            .await
            .expect("read the mark")
            .as_bool()
            .unwrap_or(false)
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(group) = i32::try_from(self.driver.id()) {
            // SAFETY: kill(2) on the process group this struct started.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
        }
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
