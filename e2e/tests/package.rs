//! The product as it is installed. The release binary, alone in an empty folder, serves its
//! own web app, compressed, and a browser signs in on it; the first load's bytes over the wire
//! are printed. The Debian package passes lintian, installs with `dpkg -i`, sets up its account,
//! data folder, configuration and systemd unit, and its binary serves the app.
//!
//! `scripts/dev test` builds what these run: `CHANGEAUDIT_RELEASE_BIN` (the release binary
//! with the web app in it) and `CHANGEAUDIT_DEB` (the package made from it).

// A panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::PathBuf;
use std::process::Stdio;

use changeaudit_e2e::{Browser, Server, command_env};
use tokio::process::Command;

const PASSWORD: &str = "package-admin-password";

fn built(variable: &str, what: &str) -> PathBuf {
    let path = std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!("{variable} names {what}: run the tests with `scripts/dev test`")
        });
    assert!(
        path.is_file(),
        "{variable}: {} is not there",
        path.display()
    );
    path
}

/// The page, and one of its compressed files asked for as a browser would.
async fn serves_the_app(url: &str) {
    let http = reqwest::Client::new();
    let page = http.get(format!("{url}/changes")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let wasm = wasm_named(&page.text().await.unwrap());
    let file = http
        .get(format!("{url}/{}", wasm.trim_start_matches('/')))
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200, "{wasm}");
    assert_eq!(file.headers()["content-encoding"], "br", "{wasm}");
    assert_eq!(file.headers()["content-type"], "application/wasm");
    assert!(
        file.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let missing = http.get(format!("{url}/favicon.ico")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn the_release_binary_alone_in_an_empty_folder_serves_the_sign_in_page() {
    let binary = built("CHANGEAUDIT_RELEASE_BIN", "the release binary");
    let server = Server::start_alone(&binary, PASSWORD).await.unwrap();
    serves_the_app(&server.url).await;

    let browser = Browser::start().await.unwrap();
    let driver = &browser.driver;
    driver.goto(&server.url).await.unwrap();
    driver.find("#username").await.unwrap();
    // What the sign-in page moved over the wire, compressed, on a first visit.
    let bytes = driver
        .execute(
            "const all = performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'));
             return all.map(entry => [entry.name, entry.transferSize]);",
            vec![],
        )
        .await
        .unwrap();
    let mut total = 0;
    for entry in bytes.as_array().unwrap() {
        let size = entry[1].as_u64().unwrap();
        let name = entry[0].as_str().unwrap();
        println!("first load: {size:>9} bytes  {name}");
        // Neither the app nor xterm.js: only the sign-in page's own folder (and the icon the
        // browser asks for by itself).
        assert!(
            name.trim_end_matches('/') == server.url
                || name.contains("/sign-in/")
                || name.ends_with("/favicon.ico"),
            "the sign-in page loads only its own files: {name}"
        );
        total += size;
    }
    println!(
        "first load of the sign-in page: {total} bytes over the wire (target: at most 250,000)"
    );
    assert!(total > 0);
    assert!(
        total <= 250_000,
        "the sign-in page's first visit moved {total} bytes"
    );
    let wasm = gzipped_wasm(&server.url).await;
    println!("the sign-in page's wasm: {wasm} bytes gzipped (target: at most 150,000)");
    assert!(
        wasm <= 150_000,
        "the sign-in page's wasm is {wasm} bytes gzipped"
    );
}

/// The wasm file a built page loads.
fn wasm_named(html: &str) -> String {
    html.split(['"', '\''])
        .find(|piece| piece.ends_with("_bg.wasm"))
        .unwrap_or_else(|| panic!("no wasm named in the page: {html}"))
        .to_owned()
}

/// The size, gzipped, of the wasm the sign-in page loads.
async fn gzipped_wasm(url: &str) -> usize {
    let http = reqwest::Client::new();
    let html = http
        .get(format!("{url}/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let wasm = wasm_named(&html);
    let file = http
        .get(format!("{url}/{}", wasm.trim_start_matches('/')))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(file.headers()["content-encoding"], "gzip", "{wasm}");
    file.bytes().await.unwrap().len()
}

/// Runs `program` with `args`, answering what it printed; fails the test unless it succeeds.
async fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|error| panic!("{program}: {error}"));
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{program} {args:?}: {printed}");
    printed
}

/// Removes the package and what its test left, however the test ends. Made only on a machine
/// where neither was there before, so it never touches a real installation.
struct Installed;

impl Installed {
    fn on_a_clean_machine() -> Installed {
        let known = std::process::Command::new("dpkg-query")
            .args(["-W", "changeaudit"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(
            !known.success() && !std::path::Path::new("/var/lib/changeaudit").exists(),
            "changeaudit is installed on this machine, or /var/lib/changeaudit exists: the \
             package test installs and purges its own and would lose what is there"
        );
        Installed
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        std::process::Command::new("dpkg")
            .args(["--purge", "changeaudit"])
            .stdout(Stdio::null())
            .status()
            .ok();
        std::fs::remove_dir_all("/var/lib/changeaudit").ok();
    }
}

#[tokio::test]
async fn the_debian_package_passes_lintian_installs_and_its_binary_serves_the_app() {
    let deb = built("CHANGEAUDIT_DEB", "the Debian package");
    let deb = deb.to_str().unwrap();
    let lintian = run(
        "lintian",
        &["--fail-on", "error", "--tag-display-limit", "0", deb],
    )
    .await;
    println!("lintian:\n{lintian}");

    let installed = Installed::on_a_clean_machine();
    run("dpkg", &["-i", deb]).await;
    let account = run("getent", &["passwd", "changeaudit"]).await;
    assert!(account.contains("/var/lib/changeaudit"), "{account}");
    let data = run("stat", &["-c", "%U %a", "/var/lib/changeaudit"]).await;
    assert_eq!(data.trim(), "changeaudit 700");
    let config = run(
        "stat",
        &["-c", "%U:%G %a", "/etc/changeaudit/changeaudit.toml"],
    )
    .await;
    assert_eq!(config.trim(), "root:changeaudit 640");
    let unit = run("dpkg", &["-L", "changeaudit"]).await;
    assert!(unit.contains("/changeaudit.service"), "{unit}");
    assert!(unit.contains("/usr/bin/changeaudit"), "{unit}");

    // The service's account, with the packaged configuration, serves the app from its data
    // folder (systemd itself is not running here; the unit's command line is what runs).
    let keep = tempfile::tempdir().unwrap();
    // The account's IDs, from `name:x:uid:gid:…`: the server itself runs as it (and so dies
    // with the test), as systemd's `User=` would run it.
    let fields: Vec<&str> = account.trim().split(':').collect();
    let mut command = Command::new("/usr/bin/changeaudit");
    command
        .arg("serve")
        .uid(fields[2].parse().unwrap())
        .gid(fields[3].parse().unwrap())
        .current_dir("/")
        .env_clear()
        .envs(command_env(keep.path(), PASSWORD))
        .env("CHANGEAUDIT_CONFIG", "/etc/changeaudit/changeaudit.toml")
        .env("CHANGEAUDIT_DATA_DIR", "/var/lib/changeaudit");
    let server = Server::spawned(command, keep).await.unwrap();
    serves_the_app(&server.url).await;
    // Its keys were made in the packaged data folder, readable by the service alone.
    let key = run("stat", &["-c", "%U %a", "/var/lib/changeaudit/master.key"]).await;
    assert_eq!(key.trim(), "changeaudit 600");

    // Purged, the package takes its account with it and leaves the data folder.
    server.stop().await;
    run("dpkg", &["--purge", "changeaudit"]).await;
    let gone = Command::new("getent")
        .args(["passwd", "changeaudit"])
        .status()
        .await
        .unwrap();
    assert!(
        !gone.success(),
        "the changeaudit account outlived the purge"
    );
    assert!(std::path::Path::new("/var/lib/changeaudit/master.key").exists());
    drop(installed);
}
