//! The player on a one-hour recording, in the real browser: opened from a file (Change Audit →
//! Audited sessions → Replay a recording file), it shows the screen at random points at once.
//! Prints the time each seek took until xterm.js had drawn it (the target is 200 ms).

use changeaudit_e2e::WebDriver;
use serde_json::json;

use crate::{
    ADMIN_PASSWORD, fill_sign_in, no_policy_violations, open_app, player_screen_until, see,
    signed_in_user,
};

/// An hour of work: commands typed a key at a time, their output, and pauses.
fn one_hour_cast() -> String {
    let mut lines = vec![r#"{"version":2,"width":160,"height":48}"#.to_owned()];
    let mut time = 0.0_f64;
    let mut n = 0_u64;
    let mut state = 7_u64;
    let mut random = |bound: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % bound
    };
    let mut output = |time: f64, text: &str| {
        lines.push(json!([time, "o", text]).to_string());
    };
    while time < 3700.0 {
        n += 1;
        for c in format!("systemctl status service-{n} --no-pager").chars() {
            time += 0.05 + random(100) as f64 / 1000.0;
            output(time, &c.to_string());
        }
        time += 0.3;
        let mut text = String::from("\r\n");
        for line in 0..1 + random(60) {
            text.push_str(&format!(
                "\u{1b}[1;32m●\u{1b}[0m service-{n}.service line {line}: active (running)\r\n"
            ));
        }
        text.push_str(&format!("marker-{n} $ "));
        output(time, &text);
        time += if random(20) == 0 {
            60.0 + random(240) as f64
        } else {
            0.5 + random(5) as f64
        };
    }
    lines.join("\n") + "\n"
}

/// The number of the last `marker-N` prompt the recording printed by `seconds`.
fn last_marker(cast: &str, seconds: f64) -> u64 {
    let mut last = 0;
    for line in cast.lines().skip(1) {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        if event[0].as_f64().unwrap() > seconds {
            break;
        }
        let text = event[2].as_str().unwrap();
        if let Some(at) = text.rfind("marker-") {
            let digits: String = text[at + 7..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            last = digits.parse().unwrap();
        }
    }
    last
}

/// Whether `text` shows `marker-N` (not the start of a longer number).
fn shows_marker(text: &str, marker: u64) -> bool {
    let wanted = format!("marker-{marker}");
    text.match_indices(&wanted).any(|(at, _)| {
        !text[at + wanted.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

/// The player's count of drawn seeks and the last one's time, as it shows them.
async fn seeks(driver: &WebDriver) -> (String, String) {
    let value = driver
        .execute(
            "const player = document.querySelector('[data-testid=player]');
             return [player.dataset.seeks || '', player.dataset.seekMs || ''];",
            vec![],
        )
        .await
        .unwrap();
    (
        value[0].as_str().unwrap().to_owned(),
        value[1].as_str().unwrap().to_owned(),
    )
}

/// Moves the seek bar as a person would, and answers how long the seek took to be drawn.
async fn seek_to(driver: &WebDriver, seconds: f64) -> f64 {
    let (before, _) = seeks(driver).await;
    driver
        .execute(
            "const bar = document.querySelector('[data-testid=seek-bar]');
             bar.value = arguments[0];
             bar.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![json!(seconds)],
        )
        .await
        .unwrap();
    for _ in 0..100 {
        let (count, ms) = seeks(driver).await;
        if count != before {
            return ms.parse().unwrap();
        }
        #[expect(
            clippy::disallowed_methods,
            reason = "WebDriver cannot tell when a seek is drawn: the page is read again"
        )]
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the seek to {seconds} s was never drawn");
}

#[tokio::test]
#[allow(clippy::print_stdout)] // the seek figures go to the test's output
async fn a_one_hour_recording_shows_any_point_at_once() {
    let (server, browser) = open_app().await;
    let driver = &browser.driver;
    fill_sign_in(&browser, "admin", ADMIN_PASSWORD).await;
    signed_in_user(driver).await;
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("one-hour.cast");
    std::fs::write(&file, one_hour_cast()).unwrap();
    driver
        .goto(&format!("{}/sessions/replay", server.url))
        .await
        .unwrap();
    driver
        .find("[data-testid=cast-file]")
        .await
        .unwrap()
        .send_keys(&file.display().to_string())
        .await
        .unwrap();
    see(
        driver,
        "//span[@data-testid='player-time'][contains(., '/ 6')]",
    )
    .await;

    let cast = one_hour_cast();
    let mut times = Vec::new();
    for (step, seconds) in [
        3555.5, 12.0, 1800.0, 2711.3, 600.2, 3300.0, 45.6, 2222.2, 1234.5, 3000.0,
    ]
    .into_iter()
    .enumerate()
    {
        times.push(seek_to(driver, seconds).await);
        // What shows is the screen of that moment: the last prompt printed by then is on it.
        let marker = last_marker(&cast, seconds);
        let shown = player_screen_until(driver, |screen| shows_marker(screen, marker)).await;
        assert!(
            shows_marker(&shown, marker),
            "seek {step} to {seconds} s: marker-{marker} is not on the screen: {shown}"
        );
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "seeks in a one-hour recording, drawn by xterm.js: median {:.1} ms, slowest {:.1} ms ({times:?}; target 200 ms)",
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1]
    );
    no_policy_violations(driver).await;
}
