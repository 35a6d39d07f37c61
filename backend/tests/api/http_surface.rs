use std::time::Duration;

use serde_json::json;

use crate::helpers::{ADMIN_PASSWORD, TestApp, problem};

fn write_built_app(app: &TestApp) {
    let dist = app.dir().join("dist");
    std::fs::create_dir_all(dist.join("sign-in")).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>changeaudit</title>",
    )
    .unwrap();
    std::fs::write(
        dist.join("sign-in/index.html"),
        "<!doctype html><title>Sign in</title>",
    )
    .unwrap();
    std::fs::write(dist.join("app-1234.js"), "console.log('hi')").unwrap();
    std::fs::write(dist.join("sign-in/in-1234.js"), "console.log('in')").unwrap();
}

/// The title of the page `path` answers with, checked to be a page that is always revalidated
/// and chosen by the session cookie.
async fn page_title(app: &TestApp, path: &str) -> String {
    let page = app.get(path).await;
    assert_eq!(page.status(), 200, "{path}");
    assert_eq!(page.headers()["cache-control"], "no-cache", "{path}");
    assert_eq!(page.headers()["vary"], "accept-encoding, cookie", "{path}");
    let html = page.text().await.unwrap();
    let title = html
        .split("<title>")
        .nth(1)
        .and_then(|rest| rest.split_once("</title>"));
    title.map(|(title, _)| title.to_owned()).unwrap_or(html)
}

#[tokio::test]
async fn serves_the_single_page_app_with_a_fallback_for_its_routes() {
    let app = TestApp::spawn().await;
    write_built_app(&app);

    let asset = app.get("/app-1234.js").await;
    assert_eq!(asset.status(), 200);
    assert_eq!(asset.text().await.unwrap(), "console.log('hi')");
    let asset = app.get("/sign-in/in-1234.js").await;
    assert_eq!(asset.text().await.unwrap(), "console.log('in')");
    assert_eq!(app.get("/sign-in/missing.js").await.status(), 404);

    // Without a session every page is the sign-in page, at the address asked for.
    let pages = [
        "/",
        "/changes/CHG-1042",
        "/admin/users",
        "/sign-in",
        "/sign-in/",
    ];
    for path in pages {
        assert_eq!(page_title(&app, path).await, "Sign in", "{path}");
    }
    // With one, the app; the sign-in page only when asked for by name.
    app.sign_in_as_admin().await;
    for path in pages {
        let expected = if path.starts_with("/sign-in") {
            "Sign in"
        } else {
            "changeaudit"
        };
        assert_eq!(page_title(&app, path).await, expected, "{path}");
    }
    // A session that ended is no session.
    assert_eq!(app.sign_out().await.status(), 204);
    assert_eq!(page_title(&app, "/changes/CHG-1042").await, "Sign in");
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

/// Every `$ref` of `value` that names a component.
fn references(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner.as_str()) {
                    ("$ref", Some(target)) => out.push(target.to_owned()),
                    _ => references(inner, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| references(item, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_api_document_holds_together_and_names_what_is_sent() {
    let app = TestApp::spawn().await;
    let document: serde_json::Value = app.get("/api/openapi.json").await.json().await.unwrap();
    // Every reference resolves: a client generator stops at the first that does not.
    let mut targets = Vec::new();
    references(&document, &mut targets);
    assert!(!targets.is_empty());
    for target in &targets {
        let name = target.strip_prefix("#/components/schemas/").unwrap();
        assert!(
            document["components"]["schemas"].get(name).is_some(),
            "{target} names no schema"
        );
    }
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            // Refusals are problem documents, sent as such.
            for (status, response) in responses {
                if let Some(content) = response["content"].as_object() {
                    let problem = content
                        .values()
                        .any(|media| media["schema"]["$ref"] == "#/components/schemas/Problem");
                    if problem {
                        assert!(
                            content.contains_key("application/problem+json"),
                            "{method} {path} {status}: {content:?}"
                        );
                    }
                }
            }
            // What takes a query or a body answers a malformed one with 400.
            let takes_input = operation["parameters"]
                .as_array()
                .is_some_and(|parameters| {
                    parameters
                        .iter()
                        .any(|parameter| parameter["in"] == "query")
                })
                || operation.get("requestBody").is_some();
            if takes_input {
                assert!(responses.contains_key("400"), "{method} {path}");
            }
            // A path parameter is one the path names, and what names something may find
            // nothing: 404.
            let in_path: Vec<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|parameter| parameter["in"] == "path")
                .filter_map(|parameter| parameter["name"].as_str())
                .collect();
            let named: Vec<&str> = path
                .split('/')
                .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            assert_eq!(in_path, named, "{method} {path}");
            if !named.is_empty() {
                assert!(responses.contains_key("404"), "{method} {path}");
            }
        }
    }
    // What creates a thing links to the operations on it, and every link names an operation.
    let operations: Vec<&str> = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|operation| operation["operationId"].as_str())
        .collect();
    let device_links = document["paths"]["/api/devices"]["post"]["responses"]["201"]["links"]
        .as_object()
        .expect("creating a device links to it");
    assert!(device_links.len() >= 3, "{device_links:?}");
    for link in device_links.values() {
        assert!(operations.contains(&link["operationId"].as_str().unwrap()));
        assert_eq!(link["parameters"]["id"], "$response.body#/id");
    }
    // And it does: a query that is not a number.
    let admin = app.person("admin", crate::helpers::ADMIN_PASSWORD).await;
    let malformed = admin.send("GET", "/api/users?limit=many", None).await;
    assert_eq!(malformed.status(), 400);
    assert_eq!(
        malformed.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn pages_carry_a_content_security_policy_that_names_their_inline_scripts() {
    let dist = tempfile::tempdir().unwrap();
    let importmap = r#"{ "imports": { "xterm": "/xterm.mjs" } }"#;
    let loader = "\nimport init from '/app.js';\nawait init();\n";
    std::fs::write(
        dist.path().join("index.html"),
        format!(
            "<!DOCTYPE html><html><head><title>changeaudit</title>\
             <script type=\"importmap\">{importmap}</script>\
             <script type=\"module\">{loader}</script>\
             <script src=\"/other.js\"></script></head><body></body></html>"
        ),
    )
    .unwrap();
    let sign_in_loader = "\nimport init from '/sign-in/in.js';\nawait init();\n";
    std::fs::create_dir_all(dist.path().join("sign-in")).unwrap();
    std::fs::write(
        dist.path().join("sign-in/index.html"),
        format!("<!DOCTYPE html><html><head><script type=\"module\">{sign_in_loader}</script></head></html>"),
    )
    .unwrap();
    let folder = dist.path().to_str().unwrap().to_owned();
    let app = TestApp::spawn_with(&[("CHANGEAUDIT_STATIC_DIR", &folder)]).await;
    let page = app.get("/changes").await;
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let hash = |text: &str| {
        use base64::Engine;
        use sha2::Digest;
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text.as_bytes()))
        )
    };
    let script_src = policy
        .split(';')
        .map(str::trim)
        .find(|directive| directive.starts_with("script-src"))
        .unwrap()
        .to_owned();
    assert!(script_src.contains(&hash(importmap)), "{policy}");
    assert!(script_src.contains(&hash(loader)), "{policy}");
    assert!(script_src.contains(&hash(sign_in_loader)), "{policy}");
    assert!(!script_src.contains("unsafe-inline"), "{policy}");
    assert!(policy.contains("object-src 'none'") && policy.contains("frame-ancestors 'none'"));
    // The API's answers are not pages: no policy there.
    assert!(
        app.get("/api/health")
            .await
            .headers()
            .get("content-security-policy")
            .is_none()
    );
}

#[tokio::test]
async fn an_answer_that_misses_the_deadline_is_503_and_its_work_still_ends_audited() {
    let app = TestApp::spawn_with(&[("CHANGEAUDIT_ANSWER_DEADLINE_SECONDS", "1")]).await;
    let admin = app.person("admin", crate::helpers::ADMIN_PASSWORD).await;
    // A "device" that accepts the connection and never says a word: the scan waits ten
    // seconds for its SSH banner.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let _held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let asked = std::time::Instant::now();
    let response = admin
        .post(
            "/api/devices/host-key-scan",
            &serde_json::json!({ "host": "127.0.0.1", "port": port }),
        )
        .await;
    let waited = asked.elapsed();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/overdue");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("may still be done"),
        "{problem}"
    );
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // The scan was not cut short: it ends at its own timeout, audited as every scan is.
    let mut every = tokio::time::interval(Duration::from_millis(200));
    let audited = loop {
        every.tick().await;
        let events = crate::helpers::events_of(&app, "device.host_key_scanned").await;
        if !events.is_empty() || asked.elapsed() > Duration::from_secs(20) {
            break events;
        }
    };
    assert_eq!(audited.len(), 1, "the scan's audit event");
}

#[tokio::test]
async fn a_client_that_never_finishes_its_request_head_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    // A slow client: the request line and one header, then silence.
    stream
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let asked = std::time::Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        changeaudit_backend::web::connections::HEADER_READ_LIMIT + Duration::from_secs(5),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(read.is_ok(), "still connected after {:?}", asked.elapsed());
    assert!(
        asked.elapsed()
            >= changeaudit_backend::web::connections::HEADER_READ_LIMIT - Duration::from_secs(1)
    );
}

#[tokio::test]
async fn built_files_are_kept_for_good_sent_compressed_and_a_missing_one_is_404() {
    let app = TestApp::spawn().await;
    write_built_app(&app);
    let dist = app.dir().join("dist");
    let wasm = b"\0asm fingerprinted build";
    std::fs::write(dist.join("app-0123456789abcdef_bg.wasm"), wasm).unwrap();
    // As the build does: `gzip -k` leaves the file and writes `.gz` beside it.
    let zipped = std::process::Command::new("gzip")
        .args(["-k", "-9"])
        .arg(dist.join("app-0123456789abcdef_bg.wasm"))
        .status()
        .unwrap();
    assert!(zipped.success());
    let client = reqwest::Client::new();
    let fetch = |path: &str, encoding: &'static str| {
        client
            .get(app.url(path))
            .header("accept-encoding", encoding)
            .send()
    };

    // A fingerprinted file: kept for good, and compressed for a browser that takes gzip.
    let compressed = fetch("/app-0123456789abcdef_bg.wasm", "gzip")
        .await
        .unwrap();
    assert_eq!(compressed.status(), 200);
    assert_eq!(compressed.headers()["content-encoding"], "gzip");
    assert_eq!(
        compressed.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(compressed.headers()["vary"], "accept-encoding");
    let plain = fetch("/app-0123456789abcdef_bg.wasm", "identity")
        .await
        .unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.bytes().await.unwrap().as_ref(), wasm);
    // A file without a hash in its name may change with the next build.
    let unhashed = fetch("/app-1234.js", "identity").await.unwrap();
    assert_eq!(unhashed.status(), 200);
    assert_ne!(
        unhashed
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("public, max-age=31536000, immutable")
    );
    // A file that is not there is not the app's page; the app's own routes are.
    let favicon = fetch("/favicon.ico", "identity").await.unwrap();
    assert_eq!(favicon.status(), 404);
    let route = fetch("/changes/CHG-1.2", "identity").await.unwrap();
    assert_eq!(route.status(), 200);
    assert_eq!(route.headers()["cache-control"], "no-cache");
}
