//! Change Audit → Changes in the browser: a planner registers a change and finds it listed.

use changeaudit_e2e::WebDriver;
use serde_json::{Value, json};

use crate::{ADMIN_PASSWORD, fill_sign_in, menu, open_app, signed_in_user};

const HOST_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDhy9oJtCVFBp8gu4R0nK0VegOaV9EOlZFtsdmQ1H7tY";

/// The admin's side, done through the API: a planner, two devices and a group.
async fn prepare(url: &str) {
    let admin = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let call = |method: reqwest::Method, path: &str, body: Value| {
        admin
            .request(method, format!("{url}{path}"))
            .json(&body)
            .send()
    };
    let signed_in = call(
        reqwest::Method::POST,
        "/api/session",
        json!({ "username": "admin", "password": ADMIN_PASSWORD }),
    )
    .await
    .unwrap();
    assert_eq!(signed_in.status(), 200);
    let created = call(
        reqwest::Method::POST,
        "/api/users",
        json!({ "username": "pat", "display_name": "Pat Planner", "roles": ["planner"], "enabled": true, "password": "pat-plans-changes" }),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    for name in ["db-1", "db-2", "web-1"] {
        let device = call(
            reqwest::Method::POST,
            "/api/devices",
            json!({ "name": name, "host": format!("{name}.example.org"), "host_key": HOST_KEY }),
        )
        .await
        .unwrap();
        assert_eq!(device.status(), 201);
    }
    let group = call(
        reqwest::Method::POST,
        "/api/access-groups",
        json!({ "name": "dba" }),
    )
    .await
    .unwrap();
    assert_eq!(group.status(), 201);
}

/// Sets an input as typing would, for inputs (like `datetime-local`) whose keyboard entry
/// depends on the browser's locale.
async fn set_value(driver: &WebDriver, css: &str, value: &str) {
    driver.find(css).await.unwrap();
    driver
        .execute(
            "const input = document.querySelector(arguments[0]);
             input.value = arguments[1];
             input.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![json!(css), json!(value)],
        )
        .await
        .unwrap();
}

async fn click(driver: &WebDriver, css: &str) {
    driver.find(css).await.unwrap().click().await.unwrap();
}

#[tokio::test]
async fn a_planner_registers_a_change_on_two_devices_and_sees_it_listed() {
    let (server, browser) = open_app().await;
    let driver = &browser.driver;
    prepare(&server.url).await;
    fill_sign_in(&browser, "pat", "pat-plans-changes").await;
    assert_eq!(signed_in_user(driver).await, "Pat Planner");

    menu(driver, "Change Audit", "Changes").await;
    driver
        .find_xpath("//a[text()='New change']")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    driver
        .find("#change-id")
        .await
        .unwrap()
        .send_keys("CHG-42")
        .await
        .unwrap();
    driver
        .find("#change-title")
        .await
        .unwrap()
        .send_keys("Restart the web tier")
        .await
        .unwrap();
    set_value(driver, "#change-start", "2030-01-02T22:00").await;
    set_value(driver, "#change-due", "2030-01-02T23:30").await;
    driver
        .find_xpath("//select[@id='change-group']/option[text()='dba']")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    click(driver, "[data-tab=Script]").await;
    driver
        .find("#change-script")
        .await
        .unwrap()
        .send_keys("systemctl restart nginx\n# check it answers\ncurl -sI http://localhost/\n")
        .await
        .unwrap();
    let second = "//*[@data-testid='script-preview']//li[2]";
    let line = driver.find_xpath(&format!("{second}/span")).await.unwrap();
    let command = driver.find_xpath(&format!("{second}/code")).await.unwrap();
    assert_eq!(
        line.text().await.unwrap(),
        "line 3",
        "the comment line is skipped"
    );
    assert_eq!(command.text().await.unwrap(), "curl -sI http://localhost/");

    // Saving without a device is refused, and the form shows why on the Devices tab.
    click(driver, "[data-testid=save-change]").await;
    let message = driver
        .find(".field-error[data-field=device_ids]")
        .await
        .unwrap();
    assert_eq!(message.text().await.unwrap(), "Add at least one device.");
    // One field at fault: the line on top says its words, not a field's name.
    let top = driver.find("[data-testid=form-error]").await.unwrap();
    assert_eq!(top.text().await.unwrap(), "Add at least one device.");
    let devices_tab = driver.find("[data-tab=Devices]").await.unwrap();
    assert_eq!(devices_tab.property("ariaSelected").await.unwrap(), "true");
    assert!(
        message.property("offsetParent").await.unwrap() != Value::Null,
        "the message is on screen"
    );

    driver
        .find("input[aria-label='Filter devices']")
        .await
        .unwrap()
        .send_keys("db")
        .await
        .unwrap();
    click(driver, "button[data-device=db-1]").await;
    click(driver, "button[data-device=db-2]").await;
    let chosen = driver
        .find_xpath("//*[@data-testid='chosen-devices']/li[2]")
        .await
        .unwrap();
    assert!(chosen.text().await.unwrap().starts_with("db-2"));
    // Fixed, the error goes, and the line on top with it.
    crate::see(
        driver,
        "//main[not(.//*[@data-field='device_ids'])][not(.//p[@data-testid='form-error'])]",
    )
    .await;
    click(driver, "[data-testid=save-change]").await;

    let row = driver
        .find_xpath("//table[@data-testid='changes']//tr[td/a[text()='CHG-42']]")
        .await
        .unwrap();
    let text = row.text().await.unwrap();
    for expected in [
        "Restart the web tier",
        "dba",
        "db-1, db-2",
        "Waiting approval",
        "pat",
    ] {
        assert!(text.contains(expected), "`{text}` should show {expected}");
    }
    assert!(driver.current_url().await.unwrap().ends_with("/changes"));

    driver.quit().await.unwrap();
}
