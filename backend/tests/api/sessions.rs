use std::time::Duration;

use crate::helpers::{TestApp, problem};

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn signing_out_ends_the_session_for_good() {
    let app = TestApp::spawn().await;
    app.sign_in_as_admin().await;
    let cookie = app.cookie_header();
    assert!(
        cookie
            .split("; ")
            .any(|pair| pair.starts_with("changeaudit_session=")),
        "{cookie}"
    );

    let response = app.sign_out().await;
    assert_eq!(response.status(), 204);
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let response = app.get("/api/me").await;
    assert_eq!(response.status(), 401);
    assert_eq!(problem(response).await["type"], "/problems/unauthenticated");

    // A copy of the old cookie opens nothing either.
    let replay = reqwest::Client::new()
        .get(app.url("/api/me"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);
}

#[tokio::test]
async fn an_idle_session_expires() {
    let app = TestApp::spawn().await;
    app.sign_in_as_admin().await;
    app.advance(29 * MINUTE);
    assert_eq!(app.get("/api/me").await.status(), 200);
    // Activity moved the idle deadline on.
    app.advance(29 * MINUTE);
    assert_eq!(app.get("/api/me").await.status(), 200);
    app.advance(30 * MINUTE);
    assert_eq!(app.get("/api/me").await.status(), 401);
}

#[tokio::test]
async fn a_busy_session_still_ends_at_its_absolute_timeout() {
    let app = TestApp::spawn_with(&[("CHANGEAUDIT_SESSION_MAX_HOURS", "1")]).await;
    app.sign_in_as_admin().await;
    for _ in 0..5 {
        app.advance(11 * MINUTE);
        assert_eq!(app.get("/api/me").await.status(), 200);
    }
    app.advance(6 * MINUTE);
    assert_eq!(app.get("/api/me").await.status(), 401);
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions() {
    let app = TestApp::spawn().await;
    app.add_user("grace", "grace-password-1", &["auditor"])
        .await;
    assert_eq!(app.sign_in("grace", "grace-password-1").await.status(), 200);
    assert_eq!(app.get("/api/me").await.status(), 200);
    app.set_enabled("grace", false).await;
    assert_eq!(app.get("/api/me").await.status(), 401);
}

#[tokio::test]
async fn any_replica_serves_a_session_opened_on_another() {
    let first = TestApp::spawn().await;
    let second = first.replica().await;
    first.sign_in_as_admin().await;
    let cookie = first.cookie_header();

    let response = second
        .client
        .get(second.url("/api/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // Signing out on the second ends it on the first.
    let response = second
        .client
        .delete(second.url("/api/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(first.get("/api/me").await.status(), 401);
}
