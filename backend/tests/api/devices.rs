//! Devices: each is pinned to a host key an admin gave or confirmed, never one taken on trust.

use serde_json::{Value, json};

use crate::fixtures::{HOST_KEY, HOST_KEY_FINGERPRINT, World};
use crate::helpers::{TestApp, events_of, fields};
use changeaudit_e2e::Sshd;

#[tokio::test]
async fn a_pasted_key_or_fingerprint_is_pinned_and_a_missing_one_refused() {
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    let by_key = world
        .admin
        .expect("POST", "/api/devices", Some(&json!({ "name": "web-1", "host": "10.0.0.5", "port": 2222, "tags": ["prod", "web"], "host_key": HOST_KEY })), 201)
        .await;
    assert_eq!(by_key["host_key_fingerprint"], HOST_KEY_FINGERPRINT);
    assert_eq!(
        (by_key["port"].as_i64(), &by_key["tags"]),
        (Some(2222), &json!(["prod", "web"]))
    );
    let by_fingerprint = world
        .admin
        .expect(
            "POST",
            "/api/devices",
            Some(&json!({ "name": "web-2", "host": "10.0.0.6", "host_key": HOST_KEY_FINGERPRINT })),
            201,
        )
        .await;
    assert_eq!(by_fingerprint["host_key_fingerprint"], HOST_KEY_FINGERPRINT);

    let refused = world
        .admin
        .expect(
            "POST",
            "/api/devices",
            Some(&json!({ "name": "web-3", "host": "10.0.0.7" })),
            422,
        )
        .await;
    assert_eq!(fields(&refused), ["host_key"]);
    let duplicate = world
        .admin
        .expect(
            "POST",
            "/api/devices",
            Some(&json!({ "name": "WEB-1", "host": "10.0.0.8", "host_key": HOST_KEY })),
            422,
        )
        .await;
    assert_eq!(fields(&duplicate), ["name"]);

    let tagged = world
        .planner
        .expect("GET", "/api/devices?tag=web", None, 200)
        .await;
    assert_eq!(tagged["total"], 1);
    let searched = world
        .planner
        .expect("GET", "/api/devices?q=10.0.0", None, 200)
        .await;
    assert_eq!(searched["total"], 2);
}

#[tokio::test]
async fn the_key_a_real_sshd_presents_is_fetched_for_confirmation_and_pinned_when_sent_back() {
    let sshd = Sshd::start().await.unwrap();
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    let scan = world
        .admin
        .expect(
            "POST",
            "/api/devices/host-key-scan",
            Some(&json!({ "host": "127.0.0.1", "port": sshd.address.port() })),
            200,
        )
        .await;
    assert_eq!(
        scan["fingerprint"],
        sshd.fingerprint.as_str(),
        "the same as ssh-keygen -lf"
    );
    assert_eq!(scan["algorithm"], "ssh-ed25519");
    let presented: Vec<&str> = sshd.host_key.split_whitespace().take(2).collect();
    assert!(
        scan["public_key"]
            .as_str()
            .unwrap()
            .starts_with(&presented.join(" "))
    );

    // Nothing is stored until the admin sends the key back.
    let devices: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM devices")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(devices, 2);
    let device = world
        .admin
        .expect(
            "POST",
            "/api/devices",
            Some(&json!({ "name": "lab", "host": "127.0.0.1", "port": sshd.address.port(), "host_key": scan["public_key"] })),
            201,
        )
        .await;
    assert_eq!(device["host_key_fingerprint"], sshd.fingerprint.as_str());
    // The scan is evidence for the pin made from it: who saw which key, where.
    let scanned = events_of(&app, "device.host_key_scanned").await;
    assert_eq!(scanned.len(), 1);
    assert_eq!(scanned[0].0, "admin");
    assert_eq!(
        scanned[0].1,
        json!({ "host": "127.0.0.1", "port": sshd.address.port(), "fingerprint": sshd.fingerprint })
    );
    let export = crate::trail::export_file(&app).await;
    crate::trail::verify(&app, &export).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_device_is_reported_on_the_host_field() {
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    let problem: Value = world
        .admin
        .expect(
            "POST",
            "/api/devices/host-key-scan",
            Some(&json!({ "host": "127.0.0.1", "port": 1 })),
            422,
        )
        .await;
    assert_eq!(fields(&problem), ["host"]);
    assert!(
        problem["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("could not reach 127.0.0.1:1: the connection was refused")
    );
    let scanned = events_of(&app, "device.host_key_scanned").await;
    assert_eq!(scanned.len(), 1);
    assert!(
        scanned[0].1["error"]
            .as_str()
            .unwrap()
            .contains("the connection was refused"),
        "{scanned:?}"
    );
    let bad = world
        .admin
        .expect(
            "POST",
            "/api/devices/host-key-scan",
            Some(&json!({ "host": "-oProxyCommand=id", "port": 0 })),
            422,
        )
        .await;
    assert_eq!(bad["errors"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_device_named_by_a_change_or_holding_credentials_is_not_deleted() {
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    let admin = &world.admin;
    let delete = |id: i64, status: u16| async move {
        let path = format!("/api/devices/{id}");
        admin.expect("DELETE", &path, None, status).await
    };
    // Both of the world's devices are named by its change.
    for id in world.devices {
        let problem = delete(id, 409).await;
        assert_eq!(fields(&problem), ["device"]);
        assert!(
            problem["detail"].as_str().unwrap().contains("change"),
            "{problem}"
        );
    }
    let spare = crate::fixtures::device(&world.admin, "spare").await;
    let credential = crate::fixtures::credential(&world.admin, spare, "root", "pw").await;
    let problem = delete(spare, 409).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("credential"),
        "{problem}"
    );
    world
        .admin
        .expect(
            "DELETE",
            &format!("/api/credentials/{credential}"),
            None,
            204,
        )
        .await;
    delete(spare, 204).await;
    world
        .admin
        .expect("GET", &format!("/api/devices/{spare}"), None, 404)
        .await;
}
