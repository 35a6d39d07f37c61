//! Admin → Activity reads the trail itself: newest first, filtered by person, kind of action,
//! object and days, searched, each event's proof one call away, and downloaded as CSV that no
//! spreadsheet runs as a formula, the download audited.

use serde_json::{Value, json};

use std::time::Duration;

use changeaudit_backend::clock::Clock;
use changeaudit_backend::trail::checkpoints::{self, Policy};
use changeaudit_shared::api::trail::EventProof;

use crate::fixtures::{self, PASSWORD, World};
use crate::helpers::{Person, START, TestApp, events_of};

/// The actions of a page of activity, in order.
fn actions(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["action"].as_str().unwrap())
        .collect()
}

/// An app where the admin built a world (users, devices, a group), `planner` registered
/// CHG-1 and CHG-9, and CHG-10 with a title that is a spreadsheet formula.
async fn with_some_history() -> (TestApp, Person) {
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    let planner = &world.planner;
    planner
        .expect(
            "POST",
            "/api/changes",
            Some(&fixtures::change_body("CHG-9", world.group, &world.devices)),
            201,
        )
        .await;
    // A title a spreadsheet would read as a formula, typed by someone who hoped it would.
    let mut body = fixtures::change_body("CHG-10", world.group, &world.devices);
    body["title"] = json!("=HYPERLINK(\"http://evil.example\",\"click\")");
    planner
        .expect("POST", "/api/changes", Some(&body), 201)
        .await;
    (app, world.auditor)
}

#[tokio::test]
async fn the_activity_log_is_the_trail_newest_first_filtered_by_person_kind_object_and_words() {
    let (app, auditor) = with_some_history().await;
    let all = auditor
        .expect("GET", "/api/trail/activity", None, 200)
        .await;
    let seqs: Vec<i64> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["seq"].as_i64().unwrap())
        .collect();
    assert!(
        seqs.windows(2).all(|pair| pair[0] > pair[1]),
        "newest first: {seqs:?}"
    );
    assert_eq!(all["total"], seqs.len());

    let planner = auditor
        .expect("GET", "/api/trail/activity?actor=planner", None, 200)
        .await;
    assert!(
        planner["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|event| event["actor"] == "planner")
    );
    assert!(actions(&planner).contains(&"change.registered"));

    let changes = auditor
        .expect("GET", "/api/trail/activity?action=change", None, 200)
        .await;
    assert_eq!(
        actions(&changes),
        [
            "change.registered",
            "change.registered",
            "change.registered"
        ]
    );
    let exact = auditor
        .expect(
            "GET",
            "/api/trail/activity?action=change.registered&object=change:CHG-9",
            None,
            200,
        )
        .await;
    assert_eq!(exact["total"], 1);
    assert_eq!(exact["items"][0]["details"]["after"]["id"], "CHG-9");
    let by_kind = auditor
        .expect("GET", "/api/trail/activity?object=change", None, 200)
        .await;
    assert_eq!(by_kind["total"], 3);

    let searched = auditor
        .expect("GET", "/api/trail/activity?q=HYPERLINK", None, 200)
        .await;
    assert_eq!(searched["total"], 1);
    assert_eq!(searched["items"][0]["object"], "change:CHG-10");

    // Days are whole UTC days; the test clock stands still on its first day.
    let day = START.to_datetime().date().to_string();
    let today = auditor
        .expect(
            "GET",
            &format!("/api/trail/activity?from={day}&to={day}"),
            None,
            200,
        )
        .await;
    assert_eq!(today["total"], all["total"]);
    let later = auditor
        .expect("GET", "/api/trail/activity?from=2099-01-01", None, 200)
        .await;
    assert_eq!(later["total"], 0);
    let refused = auditor
        .expect("GET", "/api/trail/activity?from=yesterday", None, 422)
        .await;
    assert_eq!(refused["errors"][0]["field"], "from");

    // Each event's inclusion proof is one call away once a checkpoint covers it.
    let seq = exact["items"][0]["seq"].as_i64().unwrap();
    let everything = Policy {
        every_events: 1,
        every: Duration::ZERO,
    };
    checkpoints::checkpoint_if_due(&app.db, &app.state.trail_key, everything, app.clock.now())
        .await
        .unwrap();
    let proof = auditor
        .expect("GET", &format!("/api/trail/events/{seq}"), None, 200)
        .await;
    assert_eq!(proof["event"]["seq"], seq);
    let proof: EventProof = serde_json::from_value(proof).unwrap();
    assert_eq!(proof.check(), Ok(()));
    let mut forged = proof.clone();
    forged.event.actor = "someone-else".to_owned();
    assert!(forged.check().unwrap_err().contains("content"));
    let mut moved = proof.clone();
    moved.leaf_index += 1;
    assert!(moved.check().is_err());

    // Reading who did what is for admins and auditors.
    app.person("planner", PASSWORD)
        .await
        .expect("GET", "/api/trail/activity", None, 403)
        .await;
}

#[tokio::test]
async fn the_activity_downloads_as_csv_that_no_spreadsheet_runs_and_the_download_is_audited() {
    let (app, auditor) = with_some_history().await;
    let response = auditor
        .send("GET", "/api/trail/activity/csv?action=change", None)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("changeaudit-activity.csv")
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|line| !line.is_empty()).collect();
    assert_eq!(lines[0], "seq,time,actor,action,object,details");
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(
        lines[1].contains(",planner,change.registered,change:CHG-10,"),
        "{csv}"
    );
    // The formula sits inside the JSON details cell, quoted, and the cell starts with `{`.
    assert!(lines[1].contains("\"{\"\"after\"\""), "{csv}");
    assert!(
        !lines
            .iter()
            .any(|line| line.split(',').any(|cell| cell.starts_with('=')))
    );
    assert!(
        lines[1].split(',').nth(1).unwrap().ends_with('Z'),
        "times in UTC: {csv}"
    );

    let exported = events_of(&app, "trail.activity_exported").await;
    assert_eq!(exported.len(), 1);
    assert_eq!(exported[0].0, "auditor");
    assert_eq!(exported[0].1["filters"], json!({ "action": "change" }));
}
