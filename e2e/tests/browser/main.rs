//! Browser tests: the real server, driven through headless Chromium.

// A panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod changes;
mod enforcement;
mod journey;
mod lab;
mod life;
mod replay;
mod sign_in;

use changeaudit_e2e::{Browser, Server, WebDriver};

pub const ADMIN_PASSWORD: &str = "e2e-admin-password";

pub async fn fill_sign_in(browser: &Browser, username: &str, password: &str) {
    let driver = &browser.driver;
    driver
        .find("#username")
        .await
        .unwrap()
        .send_keys(username)
        .await
        .unwrap();
    driver
        .find("#password")
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    driver
        .find("form button[type=submit]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The real server and a browser showing its front page.
pub async fn open_app() -> (Server, Browser) {
    let server = Server::start(ADMIN_PASSWORD).await.unwrap();
    let browser = Browser::start().await.unwrap();
    browser.driver.goto(&server.url).await.unwrap();
    (server, browser)
}

/// The name the shell shows for the signed-in person, once the shell is there.
pub async fn signed_in_user(driver: &WebDriver) -> String {
    let user = driver.find("[data-testid=signed-in-user]").await.unwrap();
    user.text().await.unwrap()
}

/// Clicks what `xpath` finds, once the page shows it. A page that draws itself again between
/// the finding and the click (a list the bell reloads) has replaced the element: it is found
/// again, as a person would see the new one.
pub async fn click(driver: &WebDriver, xpath: &str) {
    for _ in 0..3 {
        let element = driver
            .find_xpath(xpath)
            .await
            .unwrap_or_else(|error| panic!("{xpath}: {error}"));
        match element.click().await {
            Err(error) if error.to_string().contains("stale element") => continue,
            clicked => return clicked.unwrap(),
        }
    }
    panic!("{xpath}: the page kept drawing it again");
}

/// Goes to `entry` of the main menu's `section`, as a person would: opening the section first
/// (and, on a narrow screen, the menu itself).
pub async fn menu(driver: &WebDriver, section: &str, entry: &str) {
    let toggle = driver.find("[data-testid=menu-toggle]").await.unwrap();
    if toggle.displayed().await.unwrap()
        && toggle.attribute("aria-expanded").await.unwrap() != "true"
    {
        toggle.click().await.unwrap();
    }
    let section =
        format!("//nav//div[contains(@class,'menu-section')][button[text()='{section}']]");
    click(driver, &format!("{section}/button")).await;
    click(driver, &format!("{section}//a[text()='{entry}']")).await;
}

/// The player's screen as xterm.js painted it, read again until `shows` holds: xterm.js paints
/// on the animation frame after a seek is written, which a loaded machine may delay. Answers
/// the last text read (two seconds at most).
pub async fn player_screen_until(driver: &WebDriver, shows: impl Fn(&str) -> bool) -> String {
    let mut screen = String::new();
    for _ in 0..100 {
        screen = driver
            .find("[data-testid=player-screen] .xterm-rows")
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if shows(&screen) {
            break;
        }
        #[expect(
            clippy::disallowed_methods,
            reason = "WebDriver cannot tell when xterm.js has painted: the rows are read again"
        )]
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    screen
}

/// The page's Content-Security-Policy refused nothing (the app counts refusals on `<html>`).
pub async fn no_policy_violations(driver: &WebDriver) {
    let seen = driver
        .execute(
            "return document.documentElement.getAttribute('data-csp-violations');",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        seen.is_null(),
        "the Content-Security-Policy refused {seen} things"
    );
}

/// Waits (up to the driver's implicit wait) until the page shows `xpath`.
pub async fn see(driver: &WebDriver, xpath: &str) {
    driver
        .find_xpath(xpath)
        .await
        .unwrap_or_else(|error| panic!("{xpath}: {error}"));
}

/// The page shows nothing `css` finds, now.
pub async fn absent(driver: &WebDriver, css: &str) {
    let found = driver.find_all_now(css).await.unwrap();
    assert!(found.is_empty(), "{css} is on the page");
}
