//! Prevention, in real browsers: in a script-only session the executor's unscripted line is
//! held at Enter and explained beside the terminal; cleared, the script's line runs; the
//! approver's bell hears of the attempt. And Admin → Command rules: a rule written in its form
//! is listed and met by the live tester.

use changeaudit_e2e::{Browser, Server, Sshd, WebDriver};
use serde_json::json;

use crate::lab::{Api, ENTER, PASSWORD, Plan, approved, prepare, save_screenshot, type_line};
use crate::{ADMIN_PASSWORD, click, fill_sign_in, menu, open_app, see};

const PLAN: Plan = Plan {
    change: "CHG-21",
    title: "Greet the lab, and nothing else",
    script: "echo planned-one\n",
    justification_required: false,
    passkey_required_to_approve: false,
};

/// WebDriver's Control key, and the key that lets go of it.
const CONTROL: &str = "\u{E009}";
const RELEASE: &str = "\u{E000}";

/// The lab's group made script-only, and the executor's request approved, through the API.
async fn script_only_and_approved(server: &Server) {
    let admin = Api::sign_in(server, "admin", ADMIN_PASSWORD).await;
    let groups = admin.call("GET", "/api/access-groups", json!(null)).await;
    let mut group = groups["items"][0].clone();
    let credential = group["credentials"][0]["id"].clone();
    group["enforcement"] = json!("script_only");
    group["credential_ids"] = json!([credential]);
    let path = format!("/api/access-groups/{}", group["id"]);
    admin.call("PUT", &path, group).await;
    approved(server).await;
}

async fn connect_to_lab_1(driver: &WebDriver) {
    menu(driver, "Credentials", "All").await;
    click(
        driver,
        "//tr[td[text()='lab-1']]//button[text()='Start session']",
    )
    .await;
    click(
        driver,
        "//button[@data-testid='send-request'][text()='Connect']",
    )
    .await;
    see(
        driver,
        "//div[@data-testid='terminal']//div[contains(@class,'xterm-rows')][contains(., '$')]",
    )
    .await;
}

#[tokio::test]
async fn a_script_only_session_holds_an_unscripted_line_says_why_and_the_approver_hears_of_it() {
    let sshd = Sshd::start().await.unwrap();
    let (server, browser) = open_app().await;
    prepare(&server, &sshd, &PLAN).await;
    script_only_and_approved(&server).await;
    let driver = &browser.driver;
    fill_sign_in(&browser, "executor", PASSWORD).await;
    connect_to_lab_1(driver).await;

    let evil = "touch /tmp/changeaudit-e2e-held";
    type_line(driver, evil).await;
    let held = "//aside[@data-testid='checklist']//div[@data-testid='held']";
    see(driver, &format!("{held}[.//code[text()='{evil}']]")).await;
    see(
        driver,
        &format!("{held}[contains(., 'not a line of the change')]"),
    )
    .await;
    see(
        driver,
        &format!("{held}//ul[@class='allowed-next']/li/code[text()='echo planned-one']"),
    )
    .await;
    see(
        driver,
        &format!(
            "//aside[@data-testid='checklist']//li[@data-status='held'][code[text()='{evil}']]"
        ),
    )
    .await;
    save_screenshot(driver, "line-held.png").await;

    // Cleared with Ctrl-U, as the panel says, the script's line runs.
    let input = driver.find(".xterm-helper-textarea").await.unwrap();
    input
        .send_keys(&format!("{CONTROL}u{RELEASE}echo planned-one{ENTER}"))
        .await
        .unwrap();
    see(driver, "//aside[@data-testid='checklist']//li[@data-status='matched'][code[text()='echo planned-one']]").await;
    see(
        driver,
        "//div[@data-testid='terminal']//div[contains(@class,'xterm-rows')][contains(., 'planned-one')]",
    )
    .await;
    assert!(
        !std::path::Path::new("/tmp/changeaudit-e2e-held").exists(),
        "the held line ran"
    );

    // The approver's bell tells of the attempt.
    let approver = Browser::start().await.unwrap();
    approver.driver.goto(&server.url).await.unwrap();
    fill_sign_in(&approver, "approver", PASSWORD).await;
    click(&approver.driver, "//button[@data-testid='bell']").await;
    let told = format!(
        "//ul[@data-testid='bell-list']//a[contains(., 'executor was stopped from running `{evil}` on lab-1 (CHG-21)')]"
    );
    see(&approver.driver, &told).await;
    save_screenshot(&approver.driver, "held-line-told.png").await;
    // It leads an approver to the request they approved; a session's pages are the auditors'.
    click(&approver.driver, &told).await;
    see(
        &approver.driver,
        "//span[@data-testid='request-status'][text()='Approved']",
    )
    .await;
    approver.driver.quit().await.unwrap();
}

#[tokio::test]
async fn an_admin_writes_a_command_rule_and_the_tester_says_which_rule_a_line_meets() {
    let (_server, browser) = open_app().await;
    let driver = &browser.driver;
    fill_sign_in(&browser, "admin", ADMIN_PASSWORD).await;
    menu(driver, "Admin", "Command rules").await;
    see(
        driver,
        "//p[@class='empty'][contains(., 'No command rule yet')]",
    )
    .await;

    click(driver, "//button[@data-testid='new-rule']").await;
    let form = "//section[@data-testid='rule-form']";
    let field = |id: &'static str| async move { driver.find(&format!("#{id}")).await.unwrap() };
    field("rule-name")
        .await
        .send_keys("No stopping nginx")
        .await
        .unwrap();
    // A pattern that is not shell words is named under its field, and nothing is lost.
    field("rule-pattern")
        .await
        .send_keys("systemctl stop 'nginx")
        .await
        .unwrap();
    click(driver, "//button[@data-testid='save-rule']").await;
    see(driver, &format!("{form}//span[@data-field='pattern']")).await;
    let pattern = field("rule-pattern").await;
    pattern.clear().await.unwrap();
    pattern.send_keys("systemctl stop nginx*").await.unwrap();
    click(
        driver,
        "//select[@id='rule-criticality']/option[@value='high']",
    )
    .await;
    click(driver, "//button[@data-testid='save-rule']").await;
    see(driver, "//table[@data-testid='command-rules']//tr[td[text()='No stopping nginx']][td[contains(., 'every session')]][td/span[text()='high']]").await;

    let tester = field("rule-tester-line").await;
    tester.send_keys("sudo systemctl stop nginx").await.unwrap();
    see(
        driver,
        "//p[@data-testid='tester-answer'][contains(., 'No stopping nginx')][contains(., 'block')]",
    )
    .await;
    tester.clear().await.unwrap();
    tester.send_keys("systemctl status nginx").await.unwrap();
    see(
        driver,
        "//p[@data-testid='tester-answer'][@data-matched='none']",
    )
    .await;
    save_screenshot(driver, "command-rules.png").await;
}
