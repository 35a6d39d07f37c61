//! Command rules against a real sshd and bash, in ordinary sessions: a `block` rule holds its
//! line whatever wraps it, an `interrupt_after` rule closes the session on its last try, an
//! `alert` rule lets the line run and tells; rules are kept in order, tested live and audited.

use std::os::unix::fs::PermissionsExt;

use changeaudit_e2e::Sshd;
use changeaudit_shared::terminal::EndReason;
use serde_json::{Value, json};

use crate::terminal::Rig;
use crate::terminal_client::Terminal;

/// A rule as the admin writes it.
async fn rule(rig: &Rig, body: Value) -> i64 {
    rig.admin
        .expect("POST", "/api/command-rules", Some(&body), 201)
        .await["id"]
        .as_i64()
        .unwrap()
}

/// Types `line` and Enter; waits until it is held; answers why.
async fn held(terminal: &mut Terminal, line: &str) -> String {
    let before = terminal.held.len();
    terminal.type_text(&format!("{line}\r")).await;
    terminal
        .until(|t| t.held.len() > before, &format!("`{line}` held"))
        .await;
    let (held_line, reason, _) = terminal.held.last().unwrap().clone();
    assert_eq!(held_line, line);
    // Cleared, as the person would.
    terminal.type_text("\x15").await;
    reason
}

/// Runs `line` and waits for the prompt after it: a prompt drawn after the shell took the line
/// (one drawn again by Ctrl-U before it may still be arriving).
async fn run(terminal: &mut Terminal, line: &str) {
    let start = terminal.output.len();
    terminal.run(line).await;
    terminal
        .until(
            |t| prompt_after_a_line(&t.output[start..]),
            "the prompt after it",
        )
        .await;
}

/// Whether `output` shows a prompt after a line break: a prompt drawn again by Ctrl-U has none
/// before it.
fn prompt_after_a_line(output: &str) -> bool {
    output
        .find('\n')
        .is_some_and(|line_break| output[line_break..].contains("$ "))
}

fn world_writable() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

#[tokio::test]
async fn a_block_rule_stops_systemctl_stop_nginx_in_an_ordinary_session() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let dir = world_writable();
    rule(
        &rig,
        json!({ "name": "Keep nginx up", "pattern": "systemctl stop nginx", "criticality": "high" }),
    )
    .await;
    rule(
        &rig,
        json!({ "name": "No evil files", "pattern_kind": "regex", "pattern": "^touch .*/evil$" }),
    )
    .await;
    let mut terminal = rig.approved_terminal().await;
    for line in [
        "systemctl stop nginx".to_owned(),
        "sudo -n systemctl stop nginx".to_owned(),
        "true; sh -c 'systemctl stop nginx'".to_owned(),
    ] {
        let reason = held(&mut terminal, &line).await;
        assert!(reason.contains("“Keep nginx up” (high)"), "{reason}");
    }
    let evil = format!("touch {}/evil", dir.path().display());
    held(&mut terminal, &evil).await;
    // Everything else runs, as in any ordinary session.
    run(
        &mut terminal,
        &format!("touch {}/fine", dir.path().display()),
    )
    .await;
    assert!(dir.path().join("fine").exists(), "{}", terminal.output);
    assert!(!dir.path().join("evil").exists());
    // Had a held line run, whatever became of it would show: systemctl missing, no systemd
    // here, systemd refusing, or sudo asking for a password.
    for trace in ["not found", "systemd", "Failed", "sudo:"] {
        assert!(
            !terminal.output.contains(trace),
            "a held line reached the device ({trace}): {}",
            terminal.output
        );
    }
    let id = terminal.session_id.unwrap();
    let blocked: Vec<Value> = rig
        .actions(&format!("terminal_session:{id}"))
        .await
        .into_iter()
        .filter(|(_, action, _)| action == "session.command_blocked")
        .map(|(_, _, details)| details)
        .collect();
    assert_eq!(blocked.len(), 4);
    assert_eq!(blocked[0]["reason"], "rule");
    assert_eq!(blocked[0]["name"], "Keep nginx up");
    assert_eq!(blocked[3]["name"], "No evil files");
    // On the board, apart from what ran, each with its rule.
    terminal.type_text("exit\r").await;
    terminal.closed().await;
    let audit = rig.board_view(id).await;
    let held: Vec<&Value> = audit["report"]["board"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|line| line["status"] == "held")
        .collect();
    assert_eq!(held.len(), 4, "{audit}");
    assert_eq!(held[0]["command"], "systemctl stop nginx");
    assert!(
        held[3]["reason"]
            .as_str()
            .unwrap()
            .contains("No evil files")
    );
    assert_eq!(audit["session"]["held_lines"], 4);
}

#[tokio::test]
async fn an_interrupt_after_3_rule_closes_the_session_on_the_third_try() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    rule(
        &rig,
        json!({ "name": "No reboots", "pattern": "reboot", "action": "interrupt_after", "tries": 3 }),
    )
    .await;
    let mut terminal = rig.approved_terminal().await;
    assert!(held(&mut terminal, "reboot").await.contains("Try 1 of 3"));
    assert!(
        held(&mut terminal, "reboot now")
            .await
            .contains("Try 2 of 3")
    );
    terminal.type_text("sudo reboot\r").await;
    let (reason, message) = terminal.closed().await;
    assert_eq!(reason, EndReason::Policy);
    assert!(message.contains("try 3 of 3"), "{message}");
    let record = rig.session(terminal.session_id.unwrap()).await;
    assert_eq!(record["end_reason"], "policy");
}

#[tokio::test]
async fn an_alert_rule_lets_the_line_run_and_tells_the_trail_and_the_approvers() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let dir = world_writable();
    rule(
        &rig,
        json!({ "name": "Watch touches", "pattern": "touch", "action": "alert", "criticality": "low" }),
    )
    .await;
    let mut terminal = rig.approved_terminal().await;
    run(
        &mut terminal,
        &format!("touch {}/watched", dir.path().display()),
    )
    .await;
    assert!(dir.path().join("watched").exists());
    let id = terminal.session_id.unwrap();
    let alerted: Vec<Value> = rig
        .actions(&format!("terminal_session:{id}"))
        .await
        .into_iter()
        .filter(|(_, action, _)| action == "session.command_alerted")
        .map(|(_, _, details)| details)
        .collect();
    assert_eq!(alerted.len(), 1);
    assert_eq!(alerted[0]["rule"], "Watch touches");
    let approver = rig.app.person("approver", crate::fixtures::PASSWORD).await;
    let inbox = approver
        .expect("GET", "/api/me/notifications", None, 200)
        .await;
    assert!(inbox.to_string().contains("Watch touches"), "{inbox}");
}

#[tokio::test]
async fn rules_are_tried_in_order_tested_live_checked_and_audited() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let stop = rule(
        &rig,
        json!({ "name": "No stops", "pattern": "systemctl stop *" }),
    )
    .await;
    let nginx = rule(
        &rig,
        json!({ "name": "nginx may stop", "pattern": "systemctl stop nginx", "action": "allow" }),
    )
    .await;
    let tested = |line: &'static str| {
        let admin = &rig.admin;
        async move {
            admin
                .expect(
                    "POST",
                    "/api/command-rules/test",
                    Some(&json!({ "line": line })),
                    200,
                )
                .await["rule"]["name"]
                .clone()
        }
    };
    assert_eq!(tested("sudo systemctl stop nginx").await, "No stops");
    rig.admin
        .expect(
            "PUT",
            &format!("/api/command-rules/{nginx}/position"),
            Some(&json!({ "position": 1 })),
            200,
        )
        .await;
    assert_eq!(tested("sudo systemctl stop nginx").await, "nginx may stop");
    assert_eq!(tested("systemctl stop sshd").await, "No stops");
    assert_eq!(tested("ls -l").await, Value::Null);

    // Each fault names its field.
    for (body, field) in [
        (
            json!({ "name": "x", "pattern_kind": "regex", "pattern": "(" }),
            "pattern",
        ),
        (json!({ "name": "x", "pattern": "rm 'x" }), "pattern"),
        (
            json!({ "name": "x", "pattern": "rm", "action": "interrupt_after" }),
            "tries",
        ),
        (json!({ "name": "", "pattern": "rm" }), "name"),
        (
            json!({ "name": "x", "pattern": "rm", "scope": { "kind": "group", "group_id": 999 } }),
            "scope.group_id",
        ),
    ] {
        let problem = rig
            .admin
            .expect("POST", "/api/command-rules", Some(&body), 422)
            .await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    rig.member
        .expect("GET", "/api/command-rules", None, 403)
        .await;

    let mut edited = rig
        .admin
        .expect("GET", "/api/command-rules", None, 200)
        .await[1]
        .clone();
    assert_eq!(edited["id"], stop);
    edited["enabled"] = json!(false);
    rig.admin
        .expect(
            "PUT",
            &format!("/api/command-rules/{stop}"),
            Some(&edited),
            200,
        )
        .await;
    assert_eq!(tested("systemctl stop sshd").await, Value::Null, "disabled");
    // Deleted from the middle, the rules after it close up.
    rule(&rig, json!({ "name": "third", "pattern": "reboot" })).await;
    rig.admin
        .expect("DELETE", &format!("/api/command-rules/{stop}"), None, 204)
        .await;
    let left = rig
        .admin
        .expect("GET", "/api/command-rules", None, 200)
        .await;
    let order: Vec<(i64, &str)> = left
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| {
            let name = rule["name"].as_str().unwrap();
            (rule["position"].as_i64().unwrap(), name)
        })
        .collect();
    assert_eq!(order, [(1, "nginx may stop"), (2, "third")]);
    let trail: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE action LIKE 'command_rule.%' ORDER BY seq",
    )
    .fetch_all(rig.app.db.pool())
    .await
    .unwrap();
    assert_eq!(
        trail,
        [
            "command_rule.created",
            "command_rule.created",
            "command_rule.moved",
            "command_rule.updated",
            "command_rule.created",
            "command_rule.deleted"
        ]
    );
}

#[tokio::test]
async fn a_line_held_in_an_unplanned_session_is_told_to_the_approvers_of_the_group_that_allows_it()
{
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    rig.edit_group(|group| {
        group["unplanned_sessions_allowed"] = json!(true);
        group["credential_ids"] = json!([rig.password_credential, rig.key_credential]);
    })
    .await;
    rule(&rig, json!({ "name": "No reboots", "pattern": "reboot" })).await;
    // No request: the group lets the member in outside any change.
    let mut terminal = Terminal::open(&rig.member, rig.password_credential).await;
    terminal
        .until(|t| t.output.ends_with("$ "), "the prompt")
        .await;
    assert!(
        held(&mut terminal, "sudo reboot")
            .await
            .contains("No reboots")
    );
    let id = terminal.session_id.unwrap();
    let approver = rig.app.person("approver", crate::fixtures::PASSWORD).await;
    let inbox = approver
        .expect("GET", "/api/me/notifications", None, 200)
        .await;
    let told: Vec<&Value> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|notice| notice["kind"] == "command_blocked")
        .collect();
    assert_eq!(told.len(), 1, "{inbox}");
    assert_eq!(
        told[0]["text"],
        "member was stopped from running `sudo reboot` on sshd-1 (an unplanned session)"
    );
    assert_eq!(told[0]["session_id"], id);
    assert_eq!(told[0].get("request_id"), Some(&Value::Null), "{inbox}");
    // The member who typed it is told in the terminal, not the bell.
    let own = rig
        .member
        .expect("GET", "/api/me/notifications", None, 200)
        .await;
    assert!(!own.to_string().contains("command_blocked"), "{own}");
}

#[tokio::test]
async fn a_rule_holds_only_the_sessions_within_its_scope() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let path = format!("/api/devices/{}", rig.device);
    let device = rig.admin.expect("GET", &path, None, 200).await;
    let tagged = json!({
        "name": device["name"], "host": device["host"], "port": device["port"],
        "host_key": device["host_key_fingerprint"], "tags": ["lab"],
    });
    rig.admin.expect("PUT", &path, Some(&tagged), 200).await;
    let scoped = |name: &str, scope: Value| json!({ "name": name, "pattern": format!("echo {name}"), "scope": scope });
    for (name, scope) in [
        (
            "by-group",
            json!({ "kind": "group", "group_id": rig.group }),
        ),
        ("by-tag", json!({ "kind": "device_tag", "tag": "LAB" })),
        (
            "by-credential",
            json!({ "kind": "credential", "credential_id": rig.password_credential }),
        ),
        (
            "other-tag",
            json!({ "kind": "device_tag", "tag": "production" }),
        ),
        (
            "other-credential",
            json!({ "kind": "credential", "credential_id": rig.key_credential }),
        ),
    ] {
        rule(&rig, scoped(name, scope)).await;
    }
    // The session runs on the password credential of a device tagged `lab`, through group ops.
    let mut terminal = rig.approved_terminal().await;
    for name in ["by-group", "by-tag", "by-credential"] {
        let reason = held(&mut terminal, &format!("echo {name}")).await;
        assert!(reason.contains(name), "{reason}");
    }
    for name in ["other-tag", "other-credential"] {
        run(&mut terminal, &format!("echo {name}")).await;
        assert!(
            terminal.output.contains(&format!("\r{name}\r\n")),
            "{name} ran: {}",
            terminal.output
        );
    }
    assert!(terminal.held.len() == 3, "{:?}", terminal.held);
}
