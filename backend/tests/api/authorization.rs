//! Who may call what: every API route, called by an anonymous caller, someone signed in with no
//! role, an executor of a group, and each global role, answers the status SPEC.md's roles table
//! implies. The same calls keep the OpenAPI document true: it lists exactly these routes, every
//! status they answered is documented, and every body they answered fits its documented schema.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::fixtures::{self, HOST_KEY, PASSWORD, World};
use crate::helpers::{ADMIN_PASSWORD, Person, TestApp};
use crate::schema;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Nobody,
    Member,
    Planner,
    Auditor,
    Admin,
}

use Who::*;

/// Admin last: a route's one successful call (a delete, say) comes after every refusal.
const CALLERS: [Who; 6] = [Anonymous, Nobody, Member, Planner, Auditor, Admin];

enum Access {
    /// Everyone, signed in or not, gets this status.
    Public(u16),
    /// These callers succeed; other signed-in callers get `denied`; anonymous ones get 401.
    Only { who: &'static [Who], denied: u16 },
}

struct Route {
    method: &'static str,
    template: &'static str,
    path: String,
    body: Option<Value>,
    access: Access,
    success: u16,
    /// Signs the caller out, so each call uses a client of its own.
    own_client: bool,
    /// Answers with an endless stream of server-sent events: only its head is read.
    events: bool,
}

fn route(method: &'static str, template: &'static str, path: impl Into<String>) -> Route {
    Route {
        method,
        template,
        path: path.into(),
        body: None,
        access: Access::Public(200),
        success: 200,
        own_client: false,
        events: false,
    }
}

impl Route {
    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn only(mut self, who: &'static [Who], success: u16) -> Self {
        self.access = Access::Only { who, denied: 403 };
        self.success = success;
        self
    }

    fn hidden_from_others(mut self) -> Self {
        if let Access::Only { denied, .. } = &mut self.access {
            *denied = 404;
        }
        self
    }

    fn public(mut self, status: u16) -> Self {
        self.access = Access::Public(status);
        self
    }

    fn expected(&self, who: Who) -> u16 {
        match &self.access {
            Access::Public(status) => *status,
            Access::Only { .. } if who == Anonymous => 401,
            Access::Only { who: allowed, .. } if allowed.contains(&who) => self.success,
            Access::Only { denied, .. } => *denied,
        }
    }
}

const EVERYONE_SIGNED_IN: &[Who] = &[Nobody, Member, Planner, Auditor, Admin];
const READERS: &[Who] = &[Planner, Auditor, Admin];
const ADMIN: &[Who] = &[Admin];
const PLANNER: &[Who] = &[Planner];
const OVERSEERS: &[Who] = &[Auditor, Admin];
/// No session exists in this world: the routes of one answer who may ask, then that it is not.
const NO_SESSION: i64 = 999_999;

fn routes(world: &World, spare: &Spare) -> Vec<Route> {
    let group = world.group;
    let device = world.devices[1];
    let member = world.member_id;
    vec![
        route("GET", "/api/health", "/api/health"),
        route("GET", "/api/openapi.json", "/api/openapi.json"),
        route("POST", "/api/session", "/api/session")
            .body(json!({ "username": "nobody-at-all", "password": "wrong" }))
            .public(401),
        Route { own_client: true, ..route("DELETE", "/api/session", "/api/session").public(204) },
        route("GET", "/api/me", "/api/me").only(EVERYONE_SIGNED_IN, 200),
        // Users
        route("GET", "/api/users", "/api/users").only(ADMIN, 200),
        route("POST", "/api/users", "/api/users")
            .body(json!({ "username": "newcomer", "display_name": "New", "roles": [], "enabled": true, "password": PASSWORD }))
            .only(ADMIN, 201),
        route("GET", "/api/users/{id}", format!("/api/users/{member}")).only(ADMIN, 200),
        route("PUT", "/api/users/{id}", format!("/api/users/{member}"))
            .body(json!({ "username": "member", "display_name": "A member", "roles": [], "enabled": true }))
            .only(ADMIN, 200),
        // Access groups
        route("GET", "/api/access-groups", "/api/access-groups").only(READERS, 200),
        route("POST", "/api/access-groups", "/api/access-groups")
            .body(json!({ "name": "ops" }))
            .only(ADMIN, 201),
        route("GET", "/api/access-groups/{id}", format!("/api/access-groups/{group}")).only(READERS, 200),
        route("PUT", "/api/access-groups/{id}", format!("/api/access-groups/{group}"))
            .body(json!({
                "name": "dba",
                "approvals_required": 2,
                "members": [{ "user_id": member, "executor": true, "approver": false }],
                "credential_ids": [world.credential],
            }))
            .only(ADMIN, 200),
        route("DELETE", "/api/access-groups/{id}", format!("/api/access-groups/{}", spare.group)).only(ADMIN, 204),
        // Devices
        route("GET", "/api/devices", "/api/devices").only(READERS, 200),
        route("POST", "/api/devices", "/api/devices")
            .body(json!({ "name": "db-3", "host": "db-3.example.org", "host_key": HOST_KEY }))
            .only(ADMIN, 201),
        route("POST", "/api/devices/host-key-scan", "/api/devices/host-key-scan")
            // Port 1 on loopback refuses at once: the admin hears why, field named.
            .body(json!({ "host": "127.0.0.1", "port": 1 }))
            .only(ADMIN, 422),
        route("GET", "/api/devices/{id}", format!("/api/devices/{device}")).only(READERS, 200),
        route("PUT", "/api/devices/{id}", format!("/api/devices/{device}"))
            .body(json!({ "name": "db-2", "host": "db-2.example.org", "port": 2222, "tags": ["prod"], "host_key": HOST_KEY }))
            .only(ADMIN, 200),
        route("DELETE", "/api/devices/{id}", format!("/api/devices/{}", spare.device)).only(ADMIN, 204),
        // Credentials
        route("GET", "/api/credentials", "/api/credentials").only(ADMIN, 200),
        route("POST", "/api/credentials", "/api/credentials")
            .body(json!({ "device_id": device, "username": "deploy", "kind": "password", "secret": "deploy-pw" }))
            .only(ADMIN, 201),
        route("GET", "/api/credentials/{id}", format!("/api/credentials/{}", world.credential)).only(ADMIN, 200),
        route("PUT", "/api/credentials/{id}/secret", format!("/api/credentials/{}/secret", world.credential))
            .body(json!({ "kind": "password", "secret": "rotated-pw" }))
            .only(ADMIN, 200),
        route("DELETE", "/api/credentials/{id}", format!("/api/credentials/{}", spare.credential)).only(ADMIN, 204),
        // Command rules
        route("GET", "/api/command-rules", "/api/command-rules").only(OVERSEERS, 200),
        route("POST", "/api/command-rules", "/api/command-rules")
            .body(json!({ "name": "no rm", "pattern": "rm -rf *" }))
            .only(ADMIN, 201),
        route("PUT", "/api/command-rules/{id}", format!("/api/command-rules/{}", spare.rule))
            .body(json!({ "name": "no stop", "pattern": "systemctl stop nginx", "action": "alert" }))
            .only(ADMIN, 200),
        route("DELETE", "/api/command-rules/{id}", format!("/api/command-rules/{}", spare.doomed_rule)).only(ADMIN, 204),
        route("PUT", "/api/command-rules/{id}/position", format!("/api/command-rules/{}/position", spare.rule))
            .body(json!({ "position": 1 }))
            .only(ADMIN, 200),
        route("POST", "/api/command-rules/test", "/api/command-rules/test")
            .body(json!({ "line": "sudo systemctl stop nginx" }))
            .only(OVERSEERS, 200),
        // Changes
        route("GET", "/api/changes", "/api/changes").only(EVERYONE_SIGNED_IN, 200),
        route("POST", "/api/changes", "/api/changes")
            .body(fixtures::change_body("CHG-2", group, &world.devices))
            .only(PLANNER, 201),
        route("GET", "/api/changes/{id}", "/api/changes/CHG-1")
            .only(&[Member, Planner, Auditor, Admin], 200)
            .hidden_from_others(),
        route("GET", "/api/trail/activity", "/api/trail/activity").only(OVERSEERS, 200),
        route("GET", "/api/trail/activity/csv", "/api/trail/activity/csv").only(OVERSEERS, 200),
        route("GET", "/api/changes/{id}/life", "/api/changes/CHG-1/life")
            .only(&[Member, Planner, Auditor, Admin], 200)
            .hidden_from_others(),
        route("PUT", "/api/changes/{id}", "/api/changes/CHG-1")
            .body(fixtures::change_body("CHG-1", group, &world.devices))
            .only(PLANNER, 200),
        route("POST", "/api/changes/{id}/cancel", format!("/api/changes/{}/cancel", spare.change)).only(PLANNER, 200),
        // Terminal sessions (the WebSocket routes are opened for real in `terminal`; a plain
        // request, without the Origin a browser sends, is refused)
        route("GET", "/api/me/credentials", "/api/me/credentials").only(EVERYONE_SIGNED_IN, 200),
        route("GET", "/api/credentials/{id}/terminal", format!("/api/credentials/{}/terminal?cols=80&rows=24", world.credential))
            .only(&[], 101),
        route("GET", "/api/terminal-sessions/running", "/api/terminal-sessions/running").only(OVERSEERS, 200),
        route("GET", "/api/terminal-sessions/{id}", format!("/api/terminal-sessions/{NO_SESSION}"))
            .only(&[], 200)
            .hidden_from_others(),
        route("POST", "/api/terminal-sessions/{id}/terminate", format!("/api/terminal-sessions/{NO_SESSION}/terminate"))
            .only(OVERSEERS, 404),
        route("GET", "/api/terminal-sessions/{id}/watch", format!("/api/terminal-sessions/{NO_SESSION}/watch"))
            .only(&[], 101),
        // Requests and approvals: the member may ask (the one executor of the group); the
        // routes of one request answer that there is none.
        route("POST", "/api/requests", "/api/requests")
            .body(json!({ "credential_id": world.credential, "change_id": "CHG-1", "justification": "monthly" }))
            .only(&[Member], 201),
        route("GET", "/api/requests/mine", "/api/requests/mine").only(EVERYONE_SIGNED_IN, 200),
        route("GET", "/api/requests/to-approve", "/api/requests/to-approve").only(EVERYONE_SIGNED_IN, 200),
        route("GET", "/api/requests/{id}", format!("/api/requests/{NO_SESSION}"))
            .only(&[], 200)
            .hidden_from_others(),
        route("POST", "/api/requests/{id}/signing", format!("/api/requests/{NO_SESSION}/signing"))
            .only(&[], 200)
            .hidden_from_others(),
        route("POST", "/api/requests/{id}/decisions", format!("/api/requests/{NO_SESSION}/decisions"))
            .body(json!({ "decision": "approved" }))
            .only(&[], 200)
            .hidden_from_others(),
        route("POST", "/api/requests/{id}/cancel", format!("/api/requests/{NO_SESSION}/cancel"))
            .only(&[], 200)
            .hidden_from_others(),
        // Passkeys: everyone manages their own.
        route("GET", "/api/me/passkeys", "/api/me/passkeys").only(EVERYONE_SIGNED_IN, 200),
        route("POST", "/api/me/passkeys/registration", "/api/me/passkeys/registration")
            .only(EVERYONE_SIGNED_IN, 200),
        route("POST", "/api/me/passkeys", "/api/me/passkeys")
            .body(json!({ "ceremony": "none", "name": "laptop", "credential": {} }))
            .only(EVERYONE_SIGNED_IN, 422),
        route("DELETE", "/api/me/passkeys/{id}", format!("/api/me/passkeys/{NO_SESSION}"))
            .only(&[], 204)
            .hidden_from_others(),
        // Anyone gets a challenge: a decoy for a name with no account tells nothing.
        route("POST", "/api/session/passkey/challenge", "/api/session/passkey/challenge")
            .body(json!({ "username": "no-such-person" }))
            .public(200),
        route("POST", "/api/session/passkey", "/api/session/passkey")
            .body(json!({ "ceremony": "none", "credential": {} }))
            .public(422),
        // Notifications: everyone has an inbox.
        route("GET", "/api/me/notifications", "/api/me/notifications").only(EVERYONE_SIGNED_IN, 200),
        route("POST", "/api/me/notifications/read", "/api/me/notifications/read")
            .body(json!({}))
            .only(EVERYONE_SIGNED_IN, 204),
        Route { events: true, ..route("GET", "/api/me/notifications/stream", "/api/me/notifications/stream").only(EVERYONE_SIGNED_IN, 200) },
        // Audited sessions: overseers only; this world has no session to open.
        route("GET", "/api/terminal-sessions", "/api/terminal-sessions?verdict=correct").only(OVERSEERS, 200),
        route("GET", "/api/terminal-sessions/{id}/audit", format!("/api/terminal-sessions/{NO_SESSION}/audit?view=details"))
            .only(OVERSEERS, 404),
        route("GET", "/api/terminal-sessions/{id}/recording", format!("/api/terminal-sessions/{NO_SESSION}/recording"))
            .only(OVERSEERS, 404),
        // The trail: overseers read it and its proofs; admins run a verification. This world
        // has no checkpoint yet, so proofs answer that they cannot be made.
        route("GET", "/api/trail", "/api/trail").only(OVERSEERS, 200),
        route("GET", "/api/trail/public-key", "/api/trail/public-key").only(OVERSEERS, 200),
        route("GET", "/api/trail/checkpoints", "/api/trail/checkpoints").only(OVERSEERS, 200),
        route("GET", "/api/trail/checkpoints/latest", "/api/trail/checkpoints/latest").only(OVERSEERS, 404),
        route("GET", "/api/trail/events/{seq}", "/api/trail/events/1").only(OVERSEERS, 409),
        route("GET", "/api/trail/consistency", "/api/trail/consistency?from=1&to=2").only(OVERSEERS, 404),
        route("GET", "/api/trail/export", "/api/trail/export").only(OVERSEERS, 200),
        route("POST", "/api/trail/verification", "/api/trail/verification").only(ADMIN, 200),
        route("GET", "/api/changes/{id}/evidence", "/api/changes/NO-SUCH-CHANGE/evidence").only(OVERSEERS, 404),
    ]
}

/// Objects that routes delete or cancel, so the world's own stay.
struct Spare {
    group: i64,
    /// A command rule to change, and one to delete.
    rule: i64,
    doomed_rule: i64,
    device: i64,
    credential: i64,
    change: String,
}

async fn spare(world: &World) -> Spare {
    let group = world
        .admin
        .expect(
            "POST",
            "/api/access-groups",
            Some(&json!({ "name": "spare" })),
            201,
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let device = fixtures::device(&world.admin, "spare").await;
    let mut rules = Vec::new();
    for name in ["kept", "doomed"] {
        let body = json!({ "name": name, "pattern": "systemctl stop *" });
        let created = world
            .admin
            .expect("POST", "/api/command-rules", Some(&body), 201)
            .await;
        rules.push(created["id"].as_i64().unwrap());
    }
    let credential =
        fixtures::credential(&world.admin, world.devices[1], "spare", "spare-pw").await;
    world
        .planner
        .expect(
            "POST",
            "/api/changes",
            Some(&fixtures::change_body("CHG-3", world.group, &world.devices)),
            201,
        )
        .await;
    Spare {
        group,
        rule: rules[0],
        doomed_rule: rules[1],
        device,
        credential,
        change: "CHG-3".to_owned(),
    }
}

fn sign_in_of(who: Who) -> Option<(&'static str, &'static str)> {
    match who {
        Anonymous => None,
        Nobody => Some(("nobody", PASSWORD)),
        Member => Some(("member", PASSWORD)),
        Planner => Some(("planner", PASSWORD)),
        Auditor => Some(("auditor", PASSWORD)),
        Admin => Some(("admin", ADMIN_PASSWORD)),
    }
}

fn signed_in(world: &World, who: Who) -> Option<&Person> {
    match who {
        Anonymous => None,
        Nobody => Some(&world.nobody),
        Member => Some(&world.member),
        Planner => Some(&world.planner),
        Auditor => Some(&world.auditor),
        Admin => Some(&world.admin),
    }
}

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_as_the_roles_table_says_and_as_documented() {
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    let spare = spare(&world).await;
    let document: Value = app.get("/api/openapi.json").await.json().await.unwrap();

    let mut table = String::new();
    let mut failures = Vec::new();
    for route in routes(&world, &spare) {
        let mut row = format!("{:<7}{:<34}", route.method, route.template);
        for who in CALLERS {
            let fresh;
            let person = match signed_in(&world, who) {
                Some(person) if !route.own_client => person,
                _ => {
                    fresh = match sign_in_of(who) {
                        Some((name, password)) => app.person(name, password).await,
                        None => app.anonymous(),
                    };
                    &fresh
                }
            };
            let response = person
                .send(route.method, &route.path, route.body.as_ref())
                .await;
            let status = response.status().as_u16();
            let media = response
                .headers()
                .get("content-type")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let text = if route.events && status == 200 {
                String::new()
            } else {
                response.text().await.unwrap()
            };
            row.push_str(&format!("{status:>5}"));
            let expected = route.expected(who);
            if status != expected {
                failures.push(format!(
                    "{who:?} {} {}: {status}, expected {expected}: {text}",
                    route.method, route.path
                ));
                continue;
            }
            if route.template == "/api/openapi.json" {
                continue;
            }
            if route.events && status == 200 {
                if media != "text/event-stream" {
                    failures.push(format!("{who:?} {}: answered {media}", route.path));
                }
                continue;
            }
            if let Err(drift) = documented(&document, &route, status, &media, &text) {
                failures.push(format!("{who:?} {} {}: {drift}", route.method, route.path));
            }
        }
        table.push_str(&row);
        table.push('\n');
    }
    println!(
        "{:<41}{:>5}{:>5}{:>5}{:>5}{:>5}{:>5}\n{table}",
        "route", "anon", "none", "exec", "plan", "audit", "admin"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The document lists exactly the routes above, no more and no fewer.
    let tested: BTreeSet<(String, String)> = routes(&world, &spare)
        .iter()
        .filter(|route| route.template != "/api/openapi.json")
        .map(|route| (route.method.to_lowercase(), route.template.to_owned()))
        .collect();
    let listed: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|key| ["get", "post", "put", "delete", "patch"].contains(&key.as_str()))
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    assert_eq!(
        listed, tested,
        "the OpenAPI document lists exactly the routes the matrix covers"
    );
}

/// The status is among the operation's documented responses, and a JSON body fits the schema
/// documented for it.
fn documented(
    document: &Value,
    route: &Route,
    status: u16,
    media: &str,
    text: &str,
) -> Result<(), String> {
    let operation = &document["paths"][route.template][route.method.to_lowercase()];
    if operation.is_null() {
        return Err("the route is not in the OpenAPI document".to_owned());
    }
    let response = &operation["responses"][status.to_string()];
    if response.is_null() {
        return Err(format!("status {status} is not documented"));
    }
    let content = &response["content"];
    if content.is_null() {
        return if text.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "status {status} is documented without a body, but one came"
            ))
        };
    }
    // A download (the trail's public key, its export) is documented with its own media type.
    let base = media.split(';').next().unwrap_or_default().trim();
    if !base.contains("json") || base == "application/jsonl" {
        return if content.get(base).is_some() {
            Ok(())
        } else {
            Err(format!("answered {media}, which is not documented"))
        };
    }
    // The body is documented under the very media type it was sent as (problem details as
    // `application/problem+json`).
    let schema = &content[base]["schema"];
    if schema.is_null() {
        return Err(format!(
            "status {status} answered {base}, which is not documented with a schema"
        ));
    }
    let body: Value = serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))?;
    schema::check(document, schema, &body, "$")
}
