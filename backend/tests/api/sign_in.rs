use std::time::Duration;

use serde_json::json;

use crate::helpers::{ADMIN_PASSWORD, TestApp, events_of, problem};

#[tokio::test]
async fn the_first_admin_signs_in_and_sees_who_they_are() {
    let app = TestApp::spawn().await;
    let response = app.sign_in("admin", ADMIN_PASSWORD).await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("changeaudit_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP must not mark the cookie Secure: {cookie}"
    );
    let me: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        me,
        json!({"username": "admin", "display_name": "Administrator", "roles": ["admin"]})
    );

    let response = app.get("/api/me").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<serde_json::Value>().await.unwrap(), me);
}

#[tokio::test]
async fn the_cookie_is_secure_when_people_come_over_tls() {
    let app =
        TestApp::spawn_with(&[("CHANGEAUDIT_PUBLIC_URL", "https://changeaudit.example")]).await;
    let response = app.sign_in("admin", ADMIN_PASSWORD).await;
    assert_eq!(response.status(), 200);
    // A `__Host-` cookie: Secure, the exact host (no Domain), path `/`.
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.starts_with("__Host-changeaudit_session="),
        "{cookie}"
    );
    assert!(
        cookie.ends_with("; Secure") && cookie.contains("; Path=/;"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "{cookie}");
    // Browsers are told to come back over https only.
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    // The plain cookie another site of the domain could set is not taken.
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("__Host-changeaudit_session=");
    let plain = reqwest::Client::new()
        .get(app.url("/api/me"))
        .header("Cookie", format!("changeaudit_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 401);
    let prefixed = reqwest::Client::new()
        .get(app.url("/api/me"))
        .header("Cookie", format!("__Host-changeaudit_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(prefixed.status(), 200);
}

#[tokio::test]
async fn over_plain_http_the_cookie_is_plain_and_no_hsts_is_sent() {
    let app = TestApp::spawn().await;
    let response = app.sign_in("admin", ADMIN_PASSWORD).await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("changeaudit_session="), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_answers_401_alike() {
    let app = TestApp::spawn().await;
    let wrong = app.sign_in("admin", "not-the-password").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    let wrong = problem(wrong).await;
    assert_eq!(wrong["type"], "/problems/invalid-credentials");

    let unknown = app.sign_in("nobody", "not-the-password").await;
    assert_eq!(unknown.status(), 401);
    assert_eq!(problem(unknown).await, wrong);

    assert_eq!(app.get("/api/me").await.status(), 401);
}

#[tokio::test]
async fn missing_fields_are_named_and_bad_json_is_refused() {
    let app = TestApp::spawn().await;
    let response = app.sign_in(" ", "").await;
    assert_eq!(response.status(), 422);
    let body = problem(response).await;
    assert_eq!(body["type"], "/problems/validation");
    assert_eq!(
        body["errors"],
        json!([
            {"field": "username", "detail": "is required"},
            {"field": "password", "detail": "is required"},
        ])
    );

    let response = app
        .client
        .post(app.url("/api/session"))
        .header("content-type", "application/json")
        .body("{\"username\": \"admin\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(problem(response).await["type"], "/problems/malformed-body");

    let response = app
        .client
        .post(app.url("/api/session"))
        .json(&json!({"username": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let detail = problem(response).await["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(detail.contains("missing field `password`"), "{detail}");
}

#[tokio::test]
async fn a_disabled_user_cannot_sign_in() {
    let app = TestApp::spawn().await;
    app.add_user("grace", "grace-password-1", &["planner"])
        .await;
    app.set_enabled("grace", false).await;
    assert_eq!(app.sign_in("grace", "grace-password-1").await.status(), 401);
    app.set_enabled("grace", true).await;
    assert_eq!(app.sign_in("grace", "grace-password-1").await.status(), 200);
}

#[tokio::test]
async fn repeated_failures_slow_down_further_attempts() {
    let app = TestApp::spawn().await;
    for attempt in 1..=6 {
        let response = app.sign_in("admin", "guess").await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    // The sixth failure blocked the account for a second: even the right password waits.
    let blocked = app.sign_in("admin", ADMIN_PASSWORD).await;
    assert_eq!(blocked.status(), 429);
    assert_eq!(blocked.headers()["retry-after"], "1");
    assert_eq!(
        problem(blocked).await["type"],
        "/problems/too-many-attempts"
    );

    app.advance(Duration::from_secs(1));
    assert_eq!(app.sign_in("admin", "guess").await.status(), 401);
    // The seventh failure doubles the block.
    let blocked = app.sign_in("admin", ADMIN_PASSWORD).await;
    assert_eq!(blocked.headers()["retry-after"], "2");

    app.advance(Duration::from_secs(2));
    assert_eq!(app.sign_in("admin", ADMIN_PASSWORD).await.status(), 200);
    // Success forgets the failures: five more mistakes are free again.
    for _ in 1..=5 {
        assert_eq!(app.sign_in("admin", "guess").await.status(), 401);
    }
    assert_eq!(app.sign_in("admin", ADMIN_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn failures_are_forgotten_after_a_quiet_quarter_hour() {
    let app = TestApp::spawn().await;
    for _ in 1..=5 {
        assert_eq!(app.sign_in("admin", "guess").await.status(), 401);
    }
    app.advance(Duration::from_secs(15 * 60 + 1));
    assert_eq!(app.sign_in("admin", "guess").await.status(), 401);
    assert_eq!(app.sign_in("admin", ADMIN_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn throttling_one_account_leaves_others_alone() {
    let app = TestApp::spawn().await;
    app.add_user("grace", "grace-password-1", &[]).await;
    for _ in 1..=6 {
        app.sign_in("admin", "guess").await;
    }
    assert_eq!(app.sign_in("admin", ADMIN_PASSWORD).await.status(), 429);
    assert_eq!(app.sign_in("grace", "grace-password-1").await.status(), 200);
}

#[tokio::test]
async fn failed_sign_ins_and_lockouts_are_in_the_trail() {
    let app = TestApp::spawn().await;
    assert_eq!(app.sign_in("nobody", "guess").await.status(), 401);
    for _ in 1..=6 {
        assert_eq!(app.sign_in("admin", "guess").await.status(), 401);
    }
    assert_eq!(app.sign_in("admin", ADMIN_PASSWORD).await.status(), 429);

    let failed = events_of(&app, "session.sign_in_failed").await;
    let reasons: Vec<(&str, &str)> = failed
        .iter()
        .map(|(_, details)| {
            (
                details["username"].as_str().unwrap(),
                details["reason"].as_str().unwrap(),
            )
        })
        .collect();
    // The attempt against the lockout is refused without a write: the lockout is the event.
    let mut expected = vec![("nobody", "no such enabled account")];
    expected.extend([("admin", "wrong password"); 6]);
    assert_eq!(reasons, expected);
    // Nobody signed in did it: the account tried is a detail, never the actor.
    assert!(failed.iter().all(|(actor, _)| actor == "anonymous"));
    assert!(
        failed
            .iter()
            .all(|(_, details)| details["method"] == "password"
                && details["client_ip"] == "127.0.0.1")
    );

    let locked = events_of(&app, "session.locked_out").await;
    assert_eq!(locked.len(), 1);
    assert_eq!(locked[0].1["username"], "admin");
    assert_eq!(locked[0].1["blocked_seconds"], 1);
    assert_eq!(locked[0].1["scope"], "pair");
    crate::trail::checkpoint(&app).await;
    let export = crate::trail::export_file(&app).await;
    crate::trail::verify(&app, &export).await.unwrap();
}

/// A wrong (or right) sign-in as `username` from `address`, through a trusted proxy.
async fn sign_in_from(app: &TestApp, address: &str, username: &str, password: &str) -> u16 {
    let client = reqwest::Client::new();
    client
        .post(app.url("/api/session"))
        .header("X-Forwarded-For", address)
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_parallel_burst_of_wrong_passwords_is_held_to_the_free_allowance() {
    let app = TestApp::spawn().await;
    let burst: Vec<_> = (0..50).map(|_| app.sign_in("admin", "guess")).collect();
    let statuses: Vec<u16> = futures_util::future::join_all(burst)
        .await
        .iter()
        .map(|response| response.status().as_u16())
        .collect();
    let checked = statuses.iter().filter(|status| **status == 401).count();
    let refused = statuses.iter().filter(|status| **status == 429).count();
    // Five free tries, and one more whenever none is in flight: the rest never reach a hash.
    assert!((5..=6).contains(&checked), "{statuses:?}");
    assert_eq!(checked + refused, 50, "{statuses:?}");
    assert_eq!(
        events_of(&app, "session.sign_in_failed").await.len(),
        checked
    );
}

#[tokio::test]
async fn a_person_signing_in_from_another_address_during_a_flood_on_their_name_gets_in() {
    let app = TestApp::spawn_with(&[("CHANGEAUDIT_TRUSTED_PROXIES", "127.0.0.1")]).await;
    for _ in 0..20 {
        sign_in_from(&app, "203.0.113.7", "admin", "guess").await;
    }
    // The flood's address is blocked for admin…
    assert_eq!(
        sign_in_from(&app, "203.0.113.7", "admin", ADMIN_PASSWORD).await,
        429
    );
    // …and the admin, from their own address, is not.
    let started = std::time::Instant::now();
    assert_eq!(
        sign_in_from(&app, "198.51.100.9", "admin", ADMIN_PASSWORD).await,
        200
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let locked = events_of(&app, "session.locked_out").await;
    assert!(
        locked
            .iter()
            .all(|(_, details)| details["client_ip"] == "203.0.113.7")
    );
    assert!(!locked.is_empty());
}

/// Signs in through a proxy at 127.0.0.1 that says (or not) the person came over https;
/// answers the cookie set and whether HSTS came.
async fn sign_in_through(app: &TestApp, proto: Option<&str>) -> (String, bool) {
    let mut request = reqwest::Client::new()
        .post(app.url("/api/session"))
        .header("X-Forwarded-For", "198.51.100.20")
        .json(&json!({ "username": "admin", "password": ADMIN_PASSWORD }));
    if let Some(proto) = proto {
        request = request.header("X-Forwarded-Proto", proto);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    (
        cookie,
        response.headers().contains_key("strict-transport-security"),
    )
}

#[tokio::test]
async fn tls_ended_at_a_trusted_proxy_gives_a_secure_cookie_when_believed() {
    let believed = TestApp::spawn_with(&[
        ("CHANGEAUDIT_TRUSTED_PROXIES", "127.0.0.1"),
        ("CHANGEAUDIT_TRUST_FORWARDED_PROTO", "true"),
    ])
    .await;
    let (cookie, hsts) = sign_in_through(&believed, Some("https")).await;
    assert!(
        cookie.starts_with("__Host-changeaudit_session="),
        "{cookie}"
    );
    assert!(cookie.ends_with("; Secure") && hsts, "{cookie}");
    // The cookie is read back under the same name through the proxy.
    let token = cookie.split(';').next().unwrap().to_owned();
    let me = reqwest::Client::new()
        .get(believed.url("/api/me"))
        .header("X-Forwarded-For", "198.51.100.20")
        .header("X-Forwarded-Proto", "https")
        .header("Cookie", token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // Plain http through the proxy stays plain.
    let (cookie, hsts) = sign_in_through(&believed, Some("http")).await;
    assert!(
        cookie.starts_with("changeaudit_session=") && !hsts,
        "{cookie}"
    );

    // Not believed unless configured, nor from a peer that is not a trusted proxy.
    let proxies_only = TestApp::spawn_with(&[("CHANGEAUDIT_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let (cookie, hsts) = sign_in_through(&proxies_only, Some("https")).await;
    assert!(
        cookie.starts_with("changeaudit_session=") && !hsts,
        "{cookie}"
    );
    let no_proxies = TestApp::spawn_with(&[("CHANGEAUDIT_TRUST_FORWARDED_PROTO", "true")]).await;
    let (cookie, hsts) = sign_in_through(&no_proxies, Some("https")).await;
    assert!(
        cookie.starts_with("changeaudit_session=") && !hsts,
        "{cookie}"
    );
}

#[tokio::test]
async fn a_flood_from_many_addresses_slows_strangers_on_that_account_but_not_a_browser_it_knows() {
    let app = TestApp::spawn_with(&[("CHANGEAUDIT_TRUSTED_PROXIES", "127.0.0.1")]).await;
    // The admin's own browser has signed in before, and was told it is known.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let sign_in = |address: &'static str| {
        browser
            .post(app.url("/api/session"))
            .header("X-Forwarded-For", address)
            .json(&json!({ "username": "admin", "password": ADMIN_PASSWORD }))
            .send()
    };
    let first = sign_in("198.51.100.9").await.unwrap();
    assert_eq!(first.status(), 200);
    let cookies: Vec<&str> = first
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|cookie| cookie.starts_with("changeaudit_known_") && cookie.contains("HttpOnly")),
        "{cookies:?}"
    );

    // Eight addresses guess five times each: within each pair's allowance, past the account's.
    for n in 1..=8 {
        let address = format!("203.0.113.{n}");
        for _ in 0..5 {
            sign_in_from(&app, &address, "admin", "guess").await;
        }
    }
    // A stranger's browser, even with the right password, now waits…
    assert_eq!(
        sign_in_from(&app, "192.0.2.50", "admin", ADMIN_PASSWORD).await,
        429
    );
    // …but the admin's own browser, from yet another address, gets in at once.
    assert_eq!(sign_in("192.0.2.77").await.unwrap().status(), 200);
    // Another account is not slowed by it.
    app.add_user("bob", "bob's long password", &[]).await;
    assert_eq!(
        sign_in_from(&app, "192.0.2.50", "bob", "bob's long password").await,
        200
    );
    let locked = events_of(&app, "session.locked_out").await;
    assert!(
        locked
            .iter()
            .any(|(_, details)| details["scope"] == "account" && details["username"] == "admin"),
        "{locked:?}"
    );

    // The known browser's cookie, in a guesser's hands, is worth ten guesses and no more.
    let guess = |address: String| {
        browser
            .post(app.url("/api/session"))
            .header("X-Forwarded-For", address)
            .json(&json!({ "username": "admin", "password": "guess" }))
            .send()
    };
    for n in 1..=11 {
        guess(format!("198.18.0.{n}")).await.unwrap();
    }
    assert_eq!(guess("198.18.1.1".to_owned()).await.unwrap().status(), 429);
    let locked = events_of(&app, "session.locked_out").await;
    assert!(
        locked
            .iter()
            .any(|(_, details)| details["scope"] == "browser"),
        "{locked:?}"
    );
}
