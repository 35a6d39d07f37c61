//! Hostile input at scale: schemathesis generates requests from the API's own document and
//! sends them to the real binary as someone who has not signed in, as an executor and as an
//! admin, checking that nothing answers 5xx, that every status and media type answered is
//! documented and every body matches its schema. Its stateful phase follows the document's
//! links from what creates a thing to what reads, changes and deletes it.

// A panic is how a test fails; schemathesis's summary is this test's report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use changeaudit_e2e::Server;
use serde_json::json;

const ADMIN_PASSWORD: &str = "hostile-input-admin-password";
const EXECUTOR_PASSWORD: &str = "hostile-input-executor-password";
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";

/// The Python tools `scripts/dev test` installs into `.tools/venv`.
fn tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("CHANGEAUDIT_TEST_VENV").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv"),
        PathBuf::from,
    );
    let path = venv.join("bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: `scripts/dev test` installs it",
        path.display()
    );
    path
}

/// Signs in as `username` and answers the session cookie, as `name=value`.
async fn session_cookie(server: &Server, username: &str, password: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("{}/api/session", server.url))
        .header("origin", &server.url)
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "signing in as {username}");
    let session = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|cookie| cookie.to_str().ok())
        .find(|cookie| cookie.starts_with("changeaudit_session="))
        .expect("a session cookie");
    session.split(';').next().unwrap().to_owned()
}

async fn add_executor(server: &Server, admin_cookie: &str) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/users", server.url))
        .header("origin", &server.url)
        .header("cookie", admin_cookie)
        .json(&json!({
            "username": "executor",
            "display_name": "Executor",
            "email": "executor@example.org",
            "roles": [],
            "enabled": true,
            "password": EXECUTOR_PASSWORD,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

/// The document, saved where the validator can read it.
async fn saved_document(server: &Server, folder: &Path) -> PathBuf {
    let document = reqwest::get(format!("{}/api/openapi.json", server.url))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let path = folder.join("openapi.json");
    std::fs::write(&path, document).unwrap();
    path
}

/// Runs schemathesis as `who` (with `cookie`, if any); panics with its report on a failure.
fn schemathesis(server: &Server, folder: &Path, who: &str, cookie: Option<&str>) {
    let mut command = std::process::Command::new(tool("schemathesis"));
    command
        .current_dir(folder)
        .arg("run")
        .arg(format!("{}/api/openapi.json", server.url))
        .args(["--checks", CHECKS, "--max-examples", "12", "--seed", "1029"])
        // One worker: CPython 3.11 parses source in threads unsafely (a `SystemError` from
        // `ast.parse` inside hypothesis when two workers describe their strategies at once).
        .args(["--no-color", "--workers", "1", "--request-timeout", "20"])
        .args(["--header", &format!("Origin: {}", server.url)])
        // An event stream answers forever: it is tested where it can end (the API tests).
        .args(["--exclude-path", "/api/me/notifications/stream"])
        .env("NO_COLOR", "1");
    if let Some(cookie) = cookie {
        // Signing out would leave the rest of the run anonymous, which the first run covers.
        command
            .args(["--header", &format!("Cookie: {cookie}")])
            .args(["--exclude-operation-id", "logout"]);
    }
    let started = Instant::now();
    let output = command.output().expect("running schemathesis");
    let printed = String::from_utf8_lossy(&output.stdout);
    // Its summary, and how far the stateful phase followed the links.
    let summary: Vec<&str> = printed
        .lines()
        .skip_while(|line| !line.contains("SUMMARY"))
        .chain(printed.lines().filter(|line| line.contains("API Links")))
        .filter(|line| !line.trim().is_empty())
        .collect();
    println!(
        "schemathesis as {who} ({:.0} s):\n{}",
        started.elapsed().as_secs_f64(),
        summary.join("\n")
    );
    assert!(
        output.status.success(),
        "schemathesis as {who} failed:\n{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn generated_requests_find_no_server_error_and_nothing_undocumented() {
    let server = Server::start(ADMIN_PASSWORD).await.unwrap();
    let folder = tempfile::tempdir().unwrap();

    let document = saved_document(&server, folder.path()).await;
    let validated = std::process::Command::new(tool("openapi-spec-validator"))
        .arg(&document)
        .output()
        .expect("running openapi-spec-validator");
    assert!(
        validated.status.success(),
        "the API document is not valid OpenAPI:\n{}",
        String::from_utf8_lossy(&validated.stdout)
    );

    let admin = session_cookie(&server, "admin", ADMIN_PASSWORD).await;
    add_executor(&server, &admin).await;
    let executor = session_cookie(&server, "executor", EXECUTOR_PASSWORD).await;

    schemathesis(&server, folder.path(), "anonymous", None);
    schemathesis(&server, folder.path(), "executor", Some(&executor));
    schemathesis(&server, folder.path(), "admin", Some(&admin));
}
