use serde_json::json;

use crate::helpers::{ADMIN_PASSWORD, TestApp, problem};

fn write_built_app(app: &TestApp) {
    let dist = app.dir().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>changeaudit</title>",
    )
    .unwrap();
    std::fs::write(dist.join("app-1234.js"), "console.log('hi')").unwrap();
}

#[tokio::test]
async fn serves_the_single_page_app_with_a_fallback_for_its_routes() {
    let app = TestApp::spawn().await;
    write_built_app(&app);

    let asset = app.get("/app-1234.js").await;
    assert_eq!(asset.status(), 200);
    assert_eq!(asset.text().await.unwrap(), "console.log('hi')");

    for path in ["/", "/changes/CHG-1042", "/admin/users"] {
        let page = app.get(path).await;
        assert_eq!(page.status(), 200, "{path}");
        assert_eq!(page.headers()["cache-control"], "no-cache", "{path}");
        assert!(
            page.text()
                .await
                .unwrap()
                .contains("<title>changeaudit</title>"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn unknown_api_paths_and_methods_answer_problem_details() {
    let app = TestApp::spawn().await;
    write_built_app(&app);
    let response = app.get("/api/no-such-thing").await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(problem(response).await["status"], 404);

    let response = app
        .client
        .put(app.url("/api/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(problem(response).await["status"], 405);
}

#[tokio::test]
async fn every_response_carries_protective_headers() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/health").await;
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "same-origin");
}

#[tokio::test]
async fn another_site_cannot_sign_in_or_out_through_a_visitors_browser() {
    let app = TestApp::spawn().await;
    app.sign_in_as_admin().await;
    let body = json!({"username": "admin", "password": ADMIN_PASSWORD});

    let forged = reqwest::Client::new()
        .post(app.url("/api/session"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(forged.headers().get("set-cookie").is_none());
    assert_eq!(problem(forged).await["type"], "/problems/cross-origin");

    // An older browser sends only Origin; it must match the Host it talks to.
    let forged = reqwest::Client::new()
        .delete(app.url("/api/session"))
        .header("origin", "http://evil.example")
        .header("cookie", app.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(
        app.get("/api/me").await.status(),
        200,
        "the session survived the forged sign-out"
    );

    let host = app.address.trim_start_matches("http://").to_owned();
    let own = reqwest::Client::new()
        .post(app.url("/api/session"))
        .header("origin", format!("http://{host}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
}

#[tokio::test]
async fn a_configured_origin_is_trusted() {
    let app =
        TestApp::spawn_with(&[("CHANGEAUDIT_TRUSTED_ORIGINS", "https://portal.example")]).await;
    let response = reqwest::Client::new()
        .post(app.url("/api/session"))
        .header("origin", "https://portal.example")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
