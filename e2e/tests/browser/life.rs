//! The product as its users meet it, at 1366×768 and on a 390×844 phone: a change run through
//! its session reads Executed with its session linked and nothing left to save; Start session
//! names the change; the terminal says it records and counts down, and sums up at the end; a
//! destructive action asks first; and no page is wider than the phone.

use changeaudit_e2e::{Browser, Server, Sshd, WebDriver};
use serde_json::{Value, json};

use crate::lab::{Api, PASSWORD, Plan, approved, prepare, save_screenshot, type_line};
use crate::{ADMIN_PASSWORD, absent, click, fill_sign_in, menu, open_app, see, signed_in_user};

const DESKTOP: (u32, u32) = (1366, 768);
const PHONE: (u32, u32) = (390, 844);

const PLAN: Plan = Plan {
    change: "CHG-50",
    title: "Say two things",
    script: "echo planned-one\necho planned-two\n",
    justification_required: false,
    passkey_required_to_approve: false,
};

/// Sizes the window and checks the page got that viewport.
async fn viewport(driver: &WebDriver, (width, height): (u32, u32)) {
    driver.set_window_size(width, height).await.unwrap();
    let inner = driver
        .execute("return window.innerWidth;", vec![])
        .await
        .unwrap();
    assert_eq!(inner, json!(width), "the viewport follows the window");
}

/// `(scrollWidth, innerWidth)` of the page: wider content would scroll sideways.
async fn widths(driver: &WebDriver) -> (i64, i64) {
    let both = driver
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    (both[0].as_i64().unwrap(), both[1].as_i64().unwrap())
}

/// The lab at 1366×768, `username` signed in; the sshd is kept for as long as the test runs.
async fn lab_at_desktop(username: &str, password: &str) -> (Sshd, Server, Browser) {
    let sshd = Sshd::start().await.unwrap();
    let (server, browser) = open_app().await;
    prepare(&server, &sshd, &PLAN).await;
    viewport(&browser.driver, DESKTOP).await;
    fill_sign_in(&browser, username, password).await;
    (sshd, server, browser)
}

#[tokio::test]
async fn a_change_run_through_its_session_reads_executed_with_its_session_and_no_save() {
    let sshd = Sshd::start().await.unwrap();
    let (server, browser) = open_app().await;
    prepare(&server, &sshd, &PLAN).await;
    approved(&server).await;
    let driver = &browser.driver;
    viewport(driver, DESKTOP).await;
    fill_sign_in(&browser, "executor", PASSWORD).await;
    assert_eq!(signed_in_user(driver).await, "executor");

    // Start session names the change before anything is sent.
    menu(driver, "Credentials", "All").await;
    click(
        driver,
        "//tr[td[text()='lab-1']]//button[text()='Start session']",
    )
    .await;
    see(driver, "//div[@data-testid='start-session-dialog']//p[@data-testid='start-change'][contains(., 'CHG-50 — Say two things')][contains(., 'approved')]").await;
    save_screenshot(driver, "start-session-dialog.png").await;
    click(
        driver,
        "//button[@data-testid='send-request'][text()='Connect']",
    )
    .await;

    // The terminal says it records, and counts down to its closing.
    see(driver, "//span[@data-testid='recording-notice']").await;
    see(
        driver,
        "//span[@data-testid='countdown'][starts-with(., 'Closes in 1:5')]",
    )
    .await;
    driver
        .find_xpath(
            "//div[@data-testid='terminal']//div[contains(@class,'xterm-rows')][contains(., '$')]",
        )
        .await
        .unwrap();
    for line in ["echo planned-one", "echo planned-two"] {
        type_line(driver, line).await;
        see(driver, &format!("//aside[@data-testid='checklist']//li[@data-status='matched'][code[text()='{line}']]")).await;
    }
    type_line(driver, "exit").await;
    see(
        driver,
        "//section[@data-testid='end-summary']//span[@data-testid='end-verdict'][text()='Correct']",
    )
    .await;
    see(
        driver,
        "//section[@data-testid='end-summary'][contains(., 'Every line of the script ran.')]",
    )
    .await;
    absent(driver, "[data-testid=countdown]").await;
    save_screenshot(driver, "terminal-end-summary.png").await;

    // The auditor finds the change executed, its session linked, and nothing to save.
    click(driver, "//button[@data-testid='sign-out']").await;
    fill_sign_in(&browser, "auditor", PASSWORD).await;
    menu(driver, "Change Audit", "Changes").await;
    click(driver, "//a[text()='CHG-50']").await;
    see(
        driver,
        "//div[@class='page-head']//span[contains(@class,'status-executed')][text()='Executed']",
    )
    .await;
    see(driver, "//table[@data-testid='change-sessions']//tr[td[text()='executor']][td[text()='Correct']]//a[text()='Open session']").await;
    see(driver, "//table[@data-testid='change-requests']//tr[td[text()='executor']]//li[contains(., 'approver approved')]").await;
    absent(driver, "[data-testid=save-change]").await;
    // Read-only, its window is written as every list writes times: with the zone.
    let start = driver.find("#change-start").await.unwrap();
    let shown = start.property("value").await.unwrap();
    assert!(shown.as_str().unwrap().contains(" UTC"), "{shown}");
    absent(driver, "[data-testid=cancel-change]").await;
    save_screenshot(driver, "change-executed-1366.png").await;

    viewport(driver, PHONE).await;
    let (scroll, inner) = widths(driver).await;
    assert!(
        scroll <= inner,
        "the executed change is {scroll} px wide on a {inner} px phone"
    );
    save_screenshot(driver, "change-executed-390.png").await;

    click(
        driver,
        "//table[@data-testid='change-sessions']//a[text()='Open session']",
    )
    .await;
    see(driver, "//main//h1[text()='CHG-50 · executor on lab-1']").await;
}

#[tokio::test]
async fn cancelling_a_change_asks_first_and_keep_it_loses_nothing() {
    let (_sshd, server, browser) = lab_at_desktop("planner", PASSWORD).await;
    let driver = &browser.driver;
    menu(driver, "Change Audit", "Changes").await;
    click(driver, "//a[text()='CHG-50']").await;

    click(driver, "//button[@data-testid='cancel-change']").await;
    see(
        driver,
        "//div[@data-testid='confirm-dialog']//h2[text()='Cancel CHG-50?']",
    )
    .await;
    see(
        driver,
        "//div[@data-testid='confirm-dialog']//p[contains(., 'its requests are voided')]",
    )
    .await;
    save_screenshot(driver, "confirm-cancel-change.png").await;
    click(driver, "//button[@data-testid='confirm-keep']").await;
    absent(driver, "[data-testid=confirm-dialog]").await;
    let planner = Api::sign_in(&server, "planner", PASSWORD).await;
    let change = planner
        .call("GET", "/api/changes/CHG-50", Value::Null)
        .await;
    assert_eq!(change["status"], "waiting_approval", "Keep it kept it");

    click(driver, "//button[@data-testid='cancel-change']").await;
    click(
        driver,
        "//button[@data-testid='confirm-go'][text()='Cancel change']",
    )
    .await;
    see(
        driver,
        "//tr[td/a[text()='CHG-50']]//span[text()='Cancelled']",
    )
    .await;
    let change = planner
        .call("GET", "/api/changes/CHG-50", Value::Null)
        .await;
    assert_eq!(change["status"], "cancelled");
}

/// Every page the admin can open, by its address.
const PAGES: [&str; 18] = [
    "/",
    "/changes",
    "/changes/new",
    "/changes/CHG-50",
    "/requests/mine",
    "/requests/approvals",
    "/sessions",
    "/sessions/replay",
    "/credentials",
    "/admin/users",
    "/admin/access-groups",
    "/admin/devices",
    "/admin/credentials",
    "/admin/command-rules",
    "/admin/audit-trail",
    "/admin/activity",
    "/profile",
    "/verify",
];

#[tokio::test]
async fn every_page_fits_a_phone_and_the_menu_folds_and_marks_the_page() {
    let sshd = Sshd::start().await.unwrap();
    let (server, browser) = open_app().await;
    prepare(&server, &sshd, &PLAN).await;
    let driver = &browser.driver;

    // At 1366 px the admin's menu is one line, and marks where they are.
    viewport(driver, DESKTOP).await;
    fill_sign_in(&browser, "admin", ADMIN_PASSWORD).await;
    menu(driver, "Admin", "Devices").await;
    see(driver, "//nav//div[contains(@class,'menu-section')][contains(@class,'current')]/button[text()='Admin']").await;
    see(driver, "//nav//a[@aria-current='page'][text()='Devices']").await;
    let tops = driver
        .execute(
            "return [...document.querySelectorAll('.menu-title')].map(b => b.getBoundingClientRect().top);",
            vec![],
        )
        .await
        .unwrap();
    let tops: Vec<f64> = tops
        .as_array()
        .unwrap()
        .iter()
        .map(|top| top.as_f64().unwrap())
        .collect();
    assert!(
        tops.windows(2).all(|pair| pair[0] == pair[1]),
        "the menu wraps: {tops:?}"
    );
    save_screenshot(driver, "menu-1366.png").await;

    // On a phone the menu folds behind one button, and Sign out stays on the screen.
    viewport(driver, PHONE).await;
    let toggle = driver.find("[data-testid=menu-toggle]").await.unwrap();
    assert!(toggle.displayed().await.unwrap());
    assert!(
        !driver
            .find("#main-menu")
            .await
            .unwrap()
            .displayed()
            .await
            .unwrap()
    );
    let sign_out_right = driver
        .execute(
            "return document.querySelector('[data-testid=sign-out]').getBoundingClientRect().right;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        sign_out_right.as_f64().unwrap() <= f64::from(PHONE.0),
        "Sign out is off the screen"
    );
    menu(driver, "Admin", "Users").await;
    see(driver, "//main//h1[text()='Users']").await;
    assert!(
        !driver
            .find("#main-menu")
            .await
            .unwrap()
            .displayed()
            .await
            .unwrap(),
        "the menu folds again"
    );

    for page in PAGES {
        driver.goto(&format!("{}{page}", server.url)).await.unwrap();
        driver.find("main h1").await.unwrap();
        let (scroll, inner) = widths(driver).await;
        assert!(
            scroll <= inner,
            "{page} is {scroll} px wide on a {inner} px phone"
        );
    }
    driver
        .goto(&format!("{}/changes", server.url))
        .await
        .unwrap();
    see(driver, "//a[text()='CHG-50']").await;
    save_screenshot(driver, "changes-390.png").await;
}

#[tokio::test]
async fn the_activity_log_filters_to_one_persons_events_each_with_its_proof() {
    let (_sshd, _server, browser) = lab_at_desktop("auditor", PASSWORD).await;
    let driver = &browser.driver;
    menu(driver, "Admin", "Activity").await;
    see(
        driver,
        "//table[@data-testid='activity']//td[text()='admin']",
    )
    .await;

    driver
        .find("[data-testid=activity-actor]")
        .await
        .unwrap()
        .send_keys("planner")
        .await
        .unwrap();
    // The list follows the filter once the server answers: only the planner's rows remain.
    see(
        driver,
        "//table[@data-testid='activity'][not(.//tbody/tr[td[3][text()!='planner']])]",
    )
    .await;
    see(driver, "//table[@data-testid='activity']//tr[td[text()='planner']]/td/code[text()='change.registered']").await;
    let people = driver
        .execute(
            "return [...document.querySelectorAll('[data-testid=activity] tbody tr td:nth-child(3)')].map(td => td.textContent);",
            vec![],
        )
        .await
        .unwrap();
    let people: Vec<&str> = people
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    assert!(
        !people.is_empty() && people.iter().all(|name| *name == "planner"),
        "{people:?}"
    );

    // A checkpoint covers the event within seconds; until then the page says so, and a
    // person asks again.
    let mut said = String::new();
    for _ in 0..20 {
        click(
            driver,
            "//tr[td/code[text()='change.registered']]//button[@data-testid='event-proof']",
        )
        .await;
        said = driver
            .find("[data-testid=proof-panel]")
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if !said.contains("not yet under a checkpoint") {
            break;
        }
        #[expect(
            clippy::disallowed_methods,
            reason = "the server signs its next checkpoint on its own clock: the test waits for it"
        )]
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(said.contains("is in the trail"), "{said}");
    save_screenshot(driver, "activity-1366.png").await;

    viewport(driver, PHONE).await;
    let (scroll, inner) = widths(driver).await;
    assert!(
        scroll <= inner,
        "the activity log is {scroll} px wide on a {inner} px phone"
    );
    save_screenshot(driver, "activity-390.png").await;
}
