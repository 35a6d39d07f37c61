//! The whole way to a session, in real browsers: the executor's Start session asks for a
//! justification and makes a request; the approver, in a browser with a virtual passkey
//! authenticator, registers a passkey and approves with it; the executor's bell hears of it and
//! Start session opens xterm.js on a real sshd through the broker, where two planned commands
//! and one unplanned show two ticks, one flag and the score beside it.

use changeaudit_e2e::{Browser, PASSWORD_USER, Server, Sshd, WebDriver};
use serde_json::json;

use crate::lab::{PASSWORD, Plan, prepare, save_screenshot, type_line};
use crate::{
    click, fill_sign_in, menu, no_policy_violations, open_app, player_screen_until, see,
    signed_in_user,
};

/// The journey's change: three planned lines, a justification wanted, approvals signed.
const PLAN: Plan = Plan {
    change: "CHG-42",
    title: "Greet the lab",
    script: "echo planned-one\necho planned-two\necho planned-three\n",
    justification_required: true,
    passkey_required_to_approve: true,
};

async fn start_session_on_lab_1(driver: &WebDriver) {
    menu(driver, "Credentials", "All").await;
    click(
        driver,
        "//tr[td[text()='lab-1']]//button[text()='Start session']",
    )
    .await;
}

/// The approver, in a browser of their own with a virtual passkey authenticator: registers a
/// passkey in the profile, follows the bell to the request, reads the justification and
/// approves with the passkey; then signs out and back in with the passkey alone.
async fn approve_in_own_browser(server: &Server) -> Browser {
    let browser = Browser::start().await.unwrap();
    let driver = &browser.driver;
    driver.add_virtual_authenticator().await.unwrap();
    driver.goto(&server.url).await.unwrap();
    fill_sign_in(&browser, "approver", PASSWORD).await;

    click(driver, "//a[@data-testid='signed-in-user']").await;
    driver
        .find("input[aria-label='Passkey name']")
        .await
        .unwrap()
        .send_keys("virtual key")
        .await
        .unwrap();
    click(driver, "//button[@data-testid='add-passkey']").await;
    see(
        driver,
        "//table[@data-testid='passkeys']//td[text()='virtual key']",
    )
    .await;

    see(driver, "//span[@data-testid='bell-count'][text()='1']").await;
    click(driver, "//button[@data-testid='bell']").await;
    click(
        driver,
        "//ul[@data-testid='bell-list']//a[text()='executor asks to run CHG-42 on lab-1']",
    )
    .await;
    let justification = driver.find("[data-testid=justification]").await.unwrap();
    assert_eq!(
        justification.text().await.unwrap(),
        "Say hello, as planned."
    );
    let script = driver.find("[data-testid=request-script]").await.unwrap();
    assert!(script.text().await.unwrap().contains("echo planned-two"));
    click(driver, "//button[@data-testid='approve']").await;
    see(
        driver,
        "//span[@data-testid='request-status'][text()='Approved']",
    )
    .await;
    see(
        driver,
        "//ul[@class='decisions']/li[contains(., 'signed with a passkey')]",
    )
    .await;
    save_screenshot(driver, "request-approved.png").await;

    // The passkey is also a way in, instead of the password.
    click(driver, "//button[@data-testid='sign-out']").await;
    driver
        .find("#username")
        .await
        .unwrap()
        .send_keys("approver")
        .await
        .unwrap();
    click(driver, "//button[@data-testid='passkey-sign-in']").await;
    assert_eq!(signed_in_user(driver).await, "approver");
    browser
}

#[tokio::test]
async fn an_approved_request_opens_a_session_that_ticks_the_script_flags_the_rest_and_scores() {
    let sshd = Sshd::start().await.unwrap();
    let (server, browser) = open_app().await;
    prepare(&server, &sshd, &PLAN).await;
    let driver = &browser.driver;
    fill_sign_in(&browser, "executor", PASSWORD).await;
    assert_eq!(signed_in_user(driver).await, "executor");

    menu(driver, "Credentials", "All").await;
    let row = driver
        .find_xpath("//table[@data-testid='granted-credentials']//tr[td[text()='lab-1']]")
        .await
        .unwrap();
    let text = row.text().await.unwrap();
    assert!(
        text.contains(PASSWORD_USER) && text.contains("lab operators"),
        "{text}"
    );

    // Without an approved request, Start session names the change and asks for the
    // justification the group wants.
    start_session_on_lab_1(driver).await;
    see(driver, "//div[@data-testid='start-session-dialog']//p[@data-testid='start-change'][contains(., 'CHG-42 — Greet the lab')]").await;
    see(
        driver,
        "//label[@for='justification'][contains(., 'requires')]",
    )
    .await;
    driver
        .find("#justification")
        .await
        .unwrap()
        .send_keys("Say hello, as planned.")
        .await
        .unwrap();
    click(driver, "//button[@data-testid='send-request']").await;
    see(
        driver,
        "//p[@data-testid='start-answer'][contains(., 'sent')]",
    )
    .await;
    click(
        driver,
        "//div[@data-testid='start-session-dialog']//button[text()='Close']",
    )
    .await;
    menu(driver, "Change Audit", "My requests").await;
    see(driver, "//table[@data-testid='my-requests']//tr[td[contains(., 'CHG-42')]]//span[text()='Pending']").await;

    let approver = approve_in_own_browser(&server).await;

    // The decision reaches the executor's bell over the event stream, without a reload, and
    // the list of requests follows it.
    see(driver, "//span[@data-testid='bell-count'][text()='1']").await;
    see(driver, "//table[@data-testid='my-requests']//tr[td[contains(., 'CHG-42')]]//span[text()='Approved']").await;
    click(driver, "//button[@data-testid='bell']").await;
    see(driver, "//ul[@data-testid='bell-list']//a[text()='Your request to run CHG-42 on lab-1 is approved']").await;
    see(driver, "//ul[@data-testid='bell-list']//li[a[text()='Your request to run CHG-42 on lab-1 is approved']]/a[@data-testid='bell-connect'][text()='Connect']").await;
    save_screenshot(driver, "approval-notified.png").await;
    // Opening the bell reads what it holds.
    see(driver, "//button[@data-testid='bell'][not(span)]").await;
    approver.driver.quit().await.unwrap();

    // Now Start session names the approved change and connects.
    start_session_on_lab_1(driver).await;
    see(driver, "//div[@data-testid='start-session-dialog']//p[@data-testid='start-change'][contains(., 'CHG-42 — Greet the lab')][contains(., 'approved')]").await;
    click(
        driver,
        "//button[@data-testid='send-request'][text()='Connect']",
    )
    .await;

    // The script's two lines wait to be done before anything is typed.
    see(driver, "//aside[@data-testid='checklist']//li[@data-status='missing'][code[text()='echo planned-two']]").await;
    driver
        .find_xpath(
            "//div[@data-testid='terminal']//div[contains(@class,'xterm-rows')][contains(., '$')]",
        )
        .await
        .unwrap();
    // Each line once the one before is on the checklist, as a person waits for the prompt:
    // typed ahead of a busy shell, lines are a matter for the recognizer's own corpus tests.
    let checklist = "//aside[@data-testid='checklist']";
    let typed = [
        ("echo planned-one", "matched"),
        ("uname -s", "unplanned"),
        ("echo planned-two", "matched"),
    ];
    for (line, status) in typed {
        type_line(driver, line).await;
        see(
            driver,
            &format!("{checklist}//li[@data-status='{status}'][code[text()='{line}']]"),
        )
        .await;
    }
    for (status, command) in [
        ("matched", "echo planned-one"),
        ("matched", "echo planned-two"),
        ("unplanned", "uname -s"),
    ] {
        driver
            .find_xpath(&format!(
                "{checklist}//li[@data-status='{status}'][code[text()='{command}']]"
            ))
            .await
            .unwrap_or_else(|error| panic!("{command} {status}: {error}"));
    }
    let ticks = driver
        .find_all_now("[data-testid=checklist] li[data-status=matched]")
        .await
        .unwrap();
    let flags = driver
        .find_all_now("[data-testid=checklist] li[data-status=unplanned]")
        .await
        .unwrap();
    assert_eq!((ticks.len(), flags.len()), (2, 1));
    let score = driver.find("[data-testid=score]").await.unwrap();
    // Two of three planned lines and one unplanned: 2 of 4 counted.
    assert_eq!(score.text().await.unwrap(), "50");
    let verdict = driver.find("[data-testid=verdict]").await.unwrap();
    assert_eq!(verdict.text().await.unwrap(), "Incomplete");
    let screen = driver
        .find("[data-testid=terminal] .xterm-rows")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(screen.contains("planned-two"), "{screen}");

    save_screenshot(driver, "terminal-session.png").await;

    // The session ends; an auditor reviews it.
    type_line(driver, "exit").await;
    see(driver, "//p[@data-testid='session-closed']").await;
    click(driver, "//button[@data-testid='sign-out']").await;
    fill_sign_in(&browser, "auditor", PASSWORD).await;
    review_the_session(driver).await;
}

/// The time the player shows, in seconds.
async fn player_time(driver: &WebDriver) -> f64 {
    player_data(driver, "time").await.parse().unwrap()
}

/// One of the player's `data-*` values.
pub async fn player_data(driver: &WebDriver, key: &str) -> String {
    driver
        .execute(
            "return document.querySelector('[data-testid=player]').dataset[arguments[0]] || ''",
            vec![json!(key)],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// Waits until the player stands at `moment`, or just after it, where the command it ran is
/// echoed whole (a seek is drawn at once).
async fn player_at(driver: &WebDriver, moment: f64) {
    for _ in 0..50 {
        let at = player_time(driver).await;
        if at >= moment - 0.06 && at <= moment + 2.0 {
            return;
        }
        #[expect(
            clippy::disallowed_methods,
            reason = "WebDriver cannot tell when the player moves: the page is read again"
        )]
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "the player is at {}, not at {moment}",
        player_time(driver).await
    );
}

#[allow(clippy::print_stdout)] // the seek's figure goes to the test's output
/// Change Audit → Audited sessions: the board's red line and green line each open the video
/// at their moment, and the details show the approval's passkey signature verified now.
async fn review_the_session(driver: &WebDriver) {
    menu(driver, "Change Audit", "Audited sessions").await;
    click(
        driver,
        "//table[@data-testid='audited-sessions']//tr[td[text()='CHG-42']]//a[text()='Change Audit']",
    )
    .await;
    see(
        driver,
        "//table[@data-testid='board']//tr[@data-status='missing']",
    )
    .await;
    save_screenshot(driver, "audit-board.png").await;
    let board = "//table[@data-testid='board']";
    let unplanned_at = driver
        .find_xpath(&format!("{board}//tr[@data-status='unplanned']/td[1]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let planned_two_at = driver
        .find_xpath(&format!(
            "{board}//tr[@data-status='matched'][.//code[text()='echo planned-two']]/td[1]"
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let seconds = |clock: &str| -> f64 {
        let (minutes, seconds) = clock.split_once(':').unwrap();
        minutes.parse::<f64>().unwrap() * 60.0 + seconds.parse::<f64>().unwrap()
    };

    // Green: run but not planned; the video opens where it ran.
    click(driver, &format!("{board}//tr[@data-status='unplanned']//a")).await;
    see(driver, "//div[@data-testid='player']").await;
    player_at(driver, seconds(&unplanned_at)).await;
    // The moment it was run: the command is on the screen, and nothing typed after it.
    let at_that_moment =
        |screen: &str| screen.contains("$ uname -s") && !screen.contains("planned-two");
    let screen = player_screen_until(driver, at_that_moment).await;
    assert!(at_that_moment(&screen), "{screen}");
    save_screenshot(driver, "video-at-green-line.png").await;

    // Red: planned but never run; the video opens at the last line run before it.
    click(driver, "//a[@data-testid='view-board']").await;
    click(driver, &format!("{board}//tr[@data-status='missing']//a")).await;
    see(driver, "//div[@data-testid='player']").await;
    player_at(driver, seconds(&planned_two_at).max(seconds(&unplanned_at))).await;
    let screen = player_screen_until(driver, |screen| screen.contains("$ echo planned-two")).await;
    assert!(screen.contains("$ echo planned-two"), "{screen}");
    save_screenshot(driver, "video-at-red-line.png").await;
    // The terminal, the board and the player ran under the Content-Security-Policy, refused nothing.
    no_policy_violations(driver).await;
    let seek_ms: f64 = player_data(driver, "seekMs").await.parse().unwrap();
    println!("seek in the session's recording: {seek_ms:.1} ms");

    click(driver, "//a[@data-testid='view-details']").await;
    see(driver, "//ul[@data-testid='approvals']/li[@data-verified='true'][contains(., 'approver approved')]").await;
    let verification = driver
        .find_xpath("//ul[@data-testid='approvals']/li")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        verification.contains("signature verified"),
        "{verification}"
    );
    save_screenshot(driver, "session-details.png").await;

    // The change's evidence bundle, as the page links it, verifies alone with the binary.
    let link = driver
        .find("[data-testid=evidence-bundle]")
        .await
        .unwrap()
        .property("href")
        .await
        .unwrap();
    let fetch = |url: &str| {
        format!(
            "const request = new XMLHttpRequest(); request.open('GET', '{url}', false); request.send(); return request.responseText;"
        )
    };
    let bundle = driver
        .execute(&fetch(link.as_str().unwrap()), vec![])
        .await
        .unwrap();
    let public_key = driver
        .execute(&fetch("/api/trail/public-key"), vec![])
        .await
        .unwrap();
    let folder = tempfile::tempdir().unwrap();
    let (bundle_file, key_file) = (
        folder.path().join("evidence.jsonl"),
        folder.path().join("trail.key.pub"),
    );
    std::fs::write(&bundle_file, bundle.as_str().unwrap()).unwrap();
    std::fs::write(&key_file, public_key.as_str().unwrap()).unwrap();
    let binary = std::env::var_os("CHANGEAUDIT_BIN").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/changeaudit"),
        std::path::PathBuf::from,
    );
    let verified = std::process::Command::new(binary)
        .args(["verify", "--bundle"])
        .arg(&bundle_file)
        .arg("--public-key")
        .arg(&key_file)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verified.stdout);
    assert!(
        verified.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(
        said.contains("evidence of CHG-42")
            && said.contains("1 recordings, 1 approval signatures, 1 boards"),
        "{said}"
    );
    verify_in_the_browser(driver, &bundle_file, &key_file).await;
}

/// The same bundle checked by the Verify a bundle page, in the browser; then a copy whose
/// recording was altered, which the page refuses naming that line.
async fn verify_in_the_browser(
    driver: &WebDriver,
    bundle_file: &std::path::Path,
    key_file: &std::path::Path,
) {
    click(driver, "//a[text()='Verify a bundle']").await;
    // Before anything, the verifier checks itself, in this browser, against RFC 6962's vectors.
    see(
        driver,
        "//p[@data-testid='self-check'][@data-passed='true']",
    )
    .await;
    choose_file(driver, "public-key-file", key_file).await;
    see(driver, "//p[@data-testid='key-id'][starts-with(., 'Key ')]").await;
    choose_file(driver, "bundle-file", bundle_file).await;
    see(
        driver,
        "//p[@data-testid='bundle-loaded'][starts-with(., 'evidence.jsonl:')]",
    )
    .await;
    click(driver, "//button[@data-testid='verify-bundle']").await;
    see(
        driver,
        "//p[@data-testid='bundle-result'][@data-verified='true'][contains(., 'evidence of CHG-42')]\
         [contains(., '1 recordings, 1 approval signatures, 1 boards')]",
    )
    .await;
    save_screenshot(driver, "verify-bundle.png").await;

    let text = std::fs::read_to_string(bundle_file).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let recording = lines
        .iter()
        .position(|line| line.starts_with("{\"recording\":"))
        .unwrap();
    lines[recording] = lines[recording].replacen("planned-one", "planned-0ne", 1);
    assert_ne!(lines[recording], text.lines().nth(recording).unwrap());
    let tampered = bundle_file.with_file_name("tampered.jsonl");
    std::fs::write(&tampered, lines.join("\n")).unwrap();
    choose_file(driver, "bundle-file", &tampered).await;
    see(
        driver,
        "//p[@data-testid='bundle-loaded'][starts-with(., 'tampered.jsonl:')]",
    )
    .await;
    click(driver, "//button[@data-testid='verify-bundle']").await;
    let line = recording + 1;
    see(
        driver,
        &format!(
            "//p[@data-testid='bundle-result'][@data-verified='false'][@data-line='{line}']\
             [contains(., '(line {line})')][contains(., 'has SHA-256')]"
        ),
    )
    .await;
}

async fn choose_file(driver: &WebDriver, testid: &str, path: &std::path::Path) {
    driver
        .find(&format!("[data-testid={testid}]"))
        .await
        .unwrap()
        .send_keys(&path.display().to_string())
        .await
        .unwrap();
}
