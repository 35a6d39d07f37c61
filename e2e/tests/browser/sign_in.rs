use crate::{ADMIN_PASSWORD, fill_sign_in, open_app, signed_in_user};

#[tokio::test]
async fn the_admin_signs_in_sees_the_shell_and_signs_out() {
    let (server, browser) = open_app().await;
    let driver = &browser.driver;
    fill_sign_in(&browser, "admin", ADMIN_PASSWORD).await;

    assert_eq!(signed_in_user(driver).await, "Administrator");
    let heading = driver.find("main h1").await.unwrap().text().await.unwrap();
    assert_eq!(heading, "Welcome, Administrator");
    assert_eq!(
        driver.find(".brand").await.unwrap().text().await.unwrap(),
        "changeaudit"
    );
    assert!(
        driver.find_all_now("#password").await.unwrap().is_empty(),
        "the sign-in form is gone"
    );

    // The session lives in a cookie and the database: a reload keeps the person signed in.
    driver.refresh().await.unwrap();
    assert_eq!(signed_in_user(driver).await, "Administrator");

    // A client-side route that has no page answers inside the shell, not with a server 404.
    driver
        .goto(&format!("{}/no/such/page", server.url))
        .await
        .unwrap();
    let heading = driver.find("main h1").await.unwrap().text().await.unwrap();
    assert_eq!(heading, "Page not found");

    driver
        .find("[data-testid=sign-out]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    driver.find("#username").await.unwrap();
    driver.refresh().await.unwrap();
    driver.find("#username").await.unwrap();
    assert!(
        driver
            .find_all_now("[data-testid=signed-in-user]")
            .await
            .unwrap()
            .is_empty()
    );

    driver.quit().await.unwrap();
}

#[tokio::test]
async fn a_wrong_password_shows_an_error_and_keeps_the_person_out() {
    let (_server, browser) = open_app().await;
    let driver = &browser.driver;
    fill_sign_in(&browser, "admin", "not-the-password").await;

    let error = driver.find("[data-testid=sign-in-error]").await.unwrap();
    assert_eq!(error.text().await.unwrap(), "Wrong username or password");
    assert!(
        driver
            .find_all_now("[data-testid=signed-in-user]")
            .await
            .unwrap()
            .is_empty()
    );
    let password = driver.find("#password").await.unwrap();
    assert_eq!(
        password.property("value").await.unwrap(),
        "",
        "the password field is cleared"
    );

    // The person can correct it and get in.
    fill_sign_in(&browser, "", ADMIN_PASSWORD).await;
    assert_eq!(signed_in_user(driver).await, "Administrator");

    driver.quit().await.unwrap();
}

#[tokio::test]
async fn a_page_asked_for_signed_out_opens_once_signed_in_and_next_never_leaves_the_site() {
    let (server, browser) = open_app().await;
    let driver = &browser.driver;
    // The sign-in page stands in for the page at its own address, and opens it once signed in.
    driver
        .goto(&format!("{}/profile?from=mail", server.url))
        .await
        .unwrap();
    fill_sign_in(&browser, "admin", ADMIN_PASSWORD).await;
    assert_eq!(signed_in_user(driver).await, "Administrator");
    assert_eq!(
        driver.current_url().await.unwrap(),
        format!("{}/profile?from=mail", server.url)
    );

    // Signing out leads to the sign-in page by its name, and the next person starts at home.
    driver
        .find("[data-testid=sign-out]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    driver.find("#username").await.unwrap();
    assert_eq!(
        driver.current_url().await.unwrap(),
        format!("{}/sign-in", server.url)
    );

    // A `next` that would leave the site leads home instead.
    driver
        .goto(&format!("{}/sign-in?next=//example.com/x", server.url))
        .await
        .unwrap();
    fill_sign_in(&browser, "admin", ADMIN_PASSWORD).await;
    assert_eq!(signed_in_user(driver).await, "Administrator");
    assert_eq!(
        driver.current_url().await.unwrap(),
        format!("{}/", server.url)
    );

    driver.quit().await.unwrap();
}
