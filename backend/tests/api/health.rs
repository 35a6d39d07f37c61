use crate::helpers::{TestApp, TestDatabase};

#[tokio::test]
async fn health_reports_ok_and_the_database_in_use() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/health").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], TestDatabase::chosen().name());
}

#[tokio::test]
async fn health_answers_503_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.db.close().await;
    let response = app.get("/api/health").await;
    assert_eq!(response.status(), 503);
    let problem = crate::helpers::problem(response).await;
    assert_eq!(problem["type"], "/problems/unavailable");
}
