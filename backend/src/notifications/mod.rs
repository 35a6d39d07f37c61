//! Telling people: a notice is posted in the app (the bell, pushed live by `handlers`), and
//! queued as an e-mail to each recipient with an address when SMTP is configured, and as one
//! webhook call when a webhook is configured. The queue is sent by `delivery`, apart from the
//! flow that posted it: a failed delivery is retried and logged, never blocking the flow.

pub mod delivery;
pub mod handlers;
pub mod streams;

use changeaudit_shared::api::requests::NotificationKind;
use serde::Serialize;
use serde_json::json;
use sqlx::AnyConnection;

use crate::clock::Timestamp;
use crate::config::NotificationsConfig;
use crate::db::DbError;
use crate::db::placeholders;
use crate::endpoint;
use crate::trail::audit::{self, Actor, NewEvent};
use secrecy::{ExposeSecret, SecretString};

/// Where notices go besides the app.
#[derive(Clone)]
pub struct Outbound {
    pub smtp_url: Option<SecretString>,
    pub smtp_from: String,
    pub webhook_url: Option<SecretString>,
    pub webhook_secret: Option<SecretString>,
    /// The address links in e-mail point to.
    pub public_url: Option<String>,
}

impl Outbound {
    pub fn new(config: &NotificationsConfig, public_url: Option<String>) -> Outbound {
        Outbound {
            smtp_url: config.smtp_url.clone(),
            smtp_from: config.smtp_from.clone(),
            webhook_url: config.webhook_url.clone(),
            webhook_secret: config.webhook_secret.clone(),
            public_url,
        }
    }
}

/// What a notice is about.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub kind: NotificationKind,
    /// None for a notice of an unplanned session.
    pub request_id: Option<i64>,
    pub change_id: Option<String>,
    /// One line, such as "alice asks to run CHG-7 on db-1".
    pub text: String,
    /// The credential an approved request opens a terminal on: the bell offers Connect.
    pub credential_id: Option<i64>,
    /// The session a held command line was typed in: the notice leads there.
    pub session_id: Option<i64>,
}

/// Marks read every unread "asks to run" notice of request `request_id`, in the caller's
/// transaction as the request is decided, cancelled, voided or expires: nobody is left asked
/// for a vote that can no longer be given.
pub async fn asked_no_more(
    connection: &mut AnyConnection,
    request_id: i64,
    now: Timestamp,
) -> Result<(), DbError> {
    // The LIKE finds the candidates; the ID is then matched exactly.
    let unread: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, payload FROM notifications
         WHERE kind = $1 AND read_at IS NULL AND payload LIKE $2",
    )
    .bind(NotificationKind::RequestCreated.as_str())
    .bind(format!("%\"request_id\":{request_id}%"))
    .fetch_all(&mut *connection)
    .await?;
    for (id, payload) in unread {
        let about: Option<i64> = serde_json::from_str::<serde_json::Value>(&payload)
            .ok()
            .and_then(|payload| payload["request_id"].as_i64());
        if about == Some(request_id) {
            sqlx::query("UPDATE notifications SET read_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now.as_millis())
                .execute(&mut *connection)
                .await?;
        }
    }
    Ok(())
}

/// Posts `notice` to each of `recipients` and queues its e-mails and webhook call, inside the
/// caller's write transaction: the notice exists exactly when what it tells of does.
pub async fn post(
    connection: &mut AnyConnection,
    outbound: &Outbound,
    recipients: &[i64],
    notice: &Notice,
    now: Timestamp,
) -> Result<(), DbError> {
    if recipients.is_empty() {
        return Ok(());
    }
    let mut payload = json!({
        "request_id": notice.request_id,
        "change_id": notice.change_id,
        "text": notice.text,
    });
    if let Some(credential) = notice.credential_id {
        payload["credential_id"] = json!(credential);
    }
    if let Some(session) = notice.session_id {
        payload["session_id"] = json!(session);
    }
    let payload = payload.to_string();
    let sql = format!(
        "SELECT id, username, email FROM users WHERE id IN ({}) ORDER BY id",
        placeholders(1, recipients.len())
    );
    let people: Vec<(i64, String, String)> = recipients
        .iter()
        .fold(sqlx::query_as(&sql), |query, id| query.bind(*id))
        .fetch_all(&mut *connection)
        .await?;
    let mut usernames = Vec::with_capacity(people.len());
    let mut emails = 0;
    for (recipient, username, email) in people {
        sqlx::query(
            "INSERT INTO notifications (recipient_id, kind, payload, created_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(recipient)
        .bind(notice.kind.as_str())
        .bind(&payload)
        .bind(now.as_millis())
        .execute(&mut *connection)
        .await?;
        if outbound.smtp_url.is_some() && !email.trim().is_empty() {
            queue_email(connection, outbound, email.trim(), notice, now).await?;
            emails += 1;
        }
        usernames.push(username);
    }
    if let Some(url) = &outbound.webhook_url {
        let body = json!({
            "event": notice.kind.as_str(),
            "request_id": notice.request_id,
            "change_id": notice.change_id,
            "session_id": notice.session_id,
            "text": notice.text,
            "recipients": usernames,
            "at": now.to_datetime().unix_timestamp(),
        })
        .to_string();
        // The queue names the endpoint only; the sender takes the URL from the configuration.
        let target = endpoint::shown(url.expose_secret());
        queue(connection, "webhook", &target, notice, "", &body, now).await?;
    }
    audit::append(
        connection,
        NewEvent {
            actor: Actor::System,
            action: "notification.posted",
            object: match (notice.session_id, notice.request_id) {
                (Some(session), _) => Some(format!("terminal_session:{session}")),
                (None, Some(request)) => Some(format!("request:{request}")),
                (None, None) => None,
            },
            details: json!({
                "kind": notice.kind.as_str(),
                "text": notice.text,
                "recipients": usernames,
                "emails_queued": emails,
                "webhook_queued": outbound.webhook_url.is_some(),
            }),
        },
        now,
    )
    .await?;
    Ok(())
}

/// The notice as an e-mail to `address`, linking to its session or request when the server's
/// address is known.
async fn queue_email(
    connection: &mut AnyConnection,
    outbound: &Outbound,
    address: &str,
    notice: &Notice,
    now: Timestamp,
) -> Result<(), DbError> {
    let link = outbound
        .public_url
        .as_deref()
        .map_or_else(String::new, |url| {
            match (notice.session_id, notice.request_id) {
                (Some(session), _) => format!("\n\n{url}/sessions/{session}\n"),
                (None, Some(request)) => format!("\n\n{url}/requests/{request}\n"),
                (None, None) => String::new(),
            }
        });
    let subject = format!("[changeaudit] {}", notice.text);
    let body = format!("{}.{link}", notice.text);
    queue(connection, "email", address, notice, &subject, &body, now).await
}

async fn queue(
    connection: &mut AnyConnection,
    channel: &str,
    target: &str,
    notice: &Notice,
    subject: &str,
    body: &str,
    now: Timestamp,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO deliveries (channel, target, kind, subject, body, status, next_attempt_at,
             created_at)
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)",
    )
    .bind(channel)
    .bind(target)
    .bind(notice.kind.as_str())
    .bind(subject)
    .bind(body)
    .bind(now.as_millis())
    .execute(connection)
    .await?;
    Ok(())
}
