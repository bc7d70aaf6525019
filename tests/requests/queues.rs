use crate::support::TestApp;

#[tokio::test]
async fn lists_the_four_queues_under_the_prefix() {
    let app = TestApp::boot().await;
    let response = app.server().get("/api/queues").await;
    response.assert_status_ok();
    let body = response.text().replace(&app.prefix, "[prefix]");
    insta::assert_snapshot!(body);
}
