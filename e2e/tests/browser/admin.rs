//! Admin screens in the browser: a device pinned to the key fetched from a real sshd and
//! confirmed by the admin, then a credential whose secret never comes back to the page, then
//! the audit trail verified from its page.

use changeaudit_e2e::{Sshd, WebDriver};

use crate::{ADMIN_PASSWORD, fill_sign_in, menu, open_app, signed_in_user};

async fn click(driver: &WebDriver, css: &str) {
    driver.find(css).await.unwrap().click().await.unwrap();
}

async fn type_into(driver: &WebDriver, css: &str, text: &str) {
    driver
        .find(css)
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_admin_pins_a_fetched_host_key_and_stores_a_secret_that_is_never_shown() {
    let sshd = Sshd::start().await.unwrap();
    let (_server, browser) = open_app().await;
    let driver = &browser.driver;
    fill_sign_in(&browser, "admin", ADMIN_PASSWORD).await;
    assert_eq!(signed_in_user(driver).await, "Administrator");

    menu(driver, "Admin", "Devices").await;
    driver
        .find_xpath("//button[text()='New device']")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    type_into(driver, "#device-name", "lab").await;
    type_into(driver, "#device-host", "127.0.0.1").await;
    driver
        .find("#device-port")
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    type_into(driver, "#device-port", &sshd.address.port().to_string()).await;
    click(driver, "[data-testid=fetch-host-key]").await;
    let shown = driver
        .find("[data-testid=scanned-fingerprint]")
        .await
        .unwrap();
    assert_eq!(
        shown.text().await.unwrap(),
        sshd.fingerprint,
        "the key ssh-keygen -lf shows"
    );
    driver
        .find_xpath("//button[text()='Trust this key']")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(driver, "[data-testid=save-device]").await;
    let row = driver
        .find_xpath("//table[@data-testid='devices']//tr[td[text()='lab']]")
        .await
        .unwrap();
    assert!(row.text().await.unwrap().contains(&sshd.fingerprint));

    let secret = "s3cret-for-the-deploy-account";
    menu(driver, "Admin", "Credentials").await;
    driver
        .find_xpath("//button[text()='New credential']")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    driver
        .find_xpath("//select[@id='credential-device']/option[text()='lab']")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // Refused (no account named): the secret typed is gone from the form all the same.
    type_into(driver, "#credential-secret", secret).await;
    let save = "//section[@data-testid='credential-form']//button[text()='Save']";
    driver
        .find_xpath(save)
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let refusal = driver
        .find(".field-error[data-field=username]")
        .await
        .unwrap();
    assert_eq!(refusal.text().await.unwrap(), "Is required.");
    let field = driver.find("#credential-secret").await.unwrap();
    assert_eq!(field.property("value").await.unwrap(), "");

    type_into(driver, "#credential-username", "deploy").await;
    type_into(driver, "#credential-secret", secret).await;
    driver
        .find_xpath(save)
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let row = driver
        .find_xpath("//table[@data-testid='credentials']//tr[td[text()='deploy']]")
        .await
        .unwrap();
    assert!(row.text().await.unwrap().contains("password"));
    // Nowhere in the page: not in its markup, not in the value of any field.
    let page = driver
        .execute(
            "return document.documentElement.outerHTML + [...document.querySelectorAll('input, textarea')].map(field => field.value).join(' ')",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        !page.as_str().unwrap().contains(secret),
        "the page never holds the secret again"
    );

    // Admin → Audit trail: everything above is in the trail, and it verifies from the page.
    menu(driver, "Admin", "Audit trail").await;
    let public_key = driver
        .find("[data-testid=trail-public-key]")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        public_key.len() == 64 && public_key.chars().all(|c| c.is_ascii_hexdigit()),
        "{public_key}"
    );
    click(driver, "[data-testid=verify-trail]").await;
    let result = driver
        .find_xpath("//p[@data-testid='verification-result'][starts-with(., 'Verified: ')]")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(result.contains("events verified: the chain"), "{result}");

    driver.quit().await.unwrap();
}
