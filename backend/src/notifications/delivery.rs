//! Sends queued e-mails and webhook calls. Every replica runs the sender; a delivery is leased
//! under the write lock before it is sent, so two replicas never send the same one at once.
//! A failure is logged and tried again after a growing pause (30 s, 1 min, 2 min … up to an
//! hour), and given up after `MAX_ATTEMPTS`; each outcome is audited.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use serde_json::json;
use sha2::Sha256;
use sqlx::Row;

use super::Outbound;
use crate::db::DbError;
use crate::state::AppState;
use crate::trail::audit::{self, Actor, NewEvent};

pub const MAX_ATTEMPTS: i64 = 10;
/// How long a leased delivery is left to its sender before another may take it.
const LEASE: Duration = Duration::from_secs(120);
const SEND_TIMEOUT: Duration = Duration::from_secs(20);
/// The header carrying `sha256=<hex HMAC-SHA256 of the body under the webhook secret>`.
pub const SIGNATURE_HEADER: &str = "X-Changeaudit-Signature";

struct Leased {
    id: i64,
    channel: String,
    target: String,
    kind: String,
    subject: String,
    body: String,
    attempts: i64,
}

/// Pause before attempt `attempts + 1`.
fn backoff(attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.clamp(1, 8) - 1).unwrap_or(0);
    Duration::from_secs((30_u64 << doublings).min(3600))
}

/// Sends every delivery due now; returns how many were tried.
pub async fn send_due(state: &AppState) -> Result<usize, DbError> {
    let leased = lease(state).await?;
    for delivery in &leased {
        let outcome = send(&state.outbound, delivery).await;
        settle(state, delivery, outcome).await?;
    }
    Ok(leased.len())
}

async fn lease(state: &AppState) -> Result<Vec<Leased>, DbError> {
    let now = state.clock.now();
    // Looked at without the write lock first: most ticks find nothing, and every replica ticks.
    let due: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $1 LIMIT 1",
    )
    .bind(now.as_millis())
    .fetch_optional(state.db.pool())
    .await?;
    if due.is_none() {
        return Ok(Vec::new());
    }
    let mut tx = state.db.begin_write().await?;
    let rows = sqlx::query(
        "SELECT id, channel, target, kind, subject, body, attempts FROM deliveries
         WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY id LIMIT 20",
    )
    .bind(now.as_millis())
    .fetch_all(&mut *tx)
    .await?;
    let mut leased = Vec::with_capacity(rows.len());
    for row in rows {
        let delivery = Leased {
            id: row.try_get("id")?,
            channel: row.try_get("channel")?,
            target: row.try_get("target")?,
            kind: row.try_get("kind")?,
            subject: row.try_get("subject")?,
            body: row.try_get("body")?,
            attempts: row.try_get::<i64, _>("attempts")? + 1,
        };
        sqlx::query("UPDATE deliveries SET attempts = $2, next_attempt_at = $3 WHERE id = $1")
            .bind(delivery.id)
            .bind(delivery.attempts)
            .bind(now.plus(LEASE).as_millis())
            .execute(&mut *tx)
            .await?;
        leased.push(delivery);
    }
    tx.commit().await?;
    Ok(leased)
}

async fn send(outbound: &Outbound, delivery: &Leased) -> Result<(), String> {
    match delivery.channel.as_str() {
        "email" => email(outbound, delivery).await,
        "webhook" => webhook(outbound, delivery).await,
        other => Err(format!("unknown channel `{other}`")),
    }
}

async fn email(outbound: &Outbound, delivery: &Leased) -> Result<(), String> {
    let url = outbound
        .smtp_url
        .as_ref()
        .ok_or("SMTP is no longer configured")?;
    let message = Message::builder()
        .from(
            outbound
                .smtp_from
                .parse()
                .map_err(|error| format!("smtp_from: {error}"))?,
        )
        .to(delivery
            .target
            .parse()
            .map_err(|error| format!("recipient address: {error}"))?)
        .subject(&delivery.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(delivery.body.clone())
        .map_err(|error| format!("building the message: {error}"))?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
        .map_err(|error| format!("smtp_url: {error}"))?
        .timeout(Some(SEND_TIMEOUT))
        .build();
    transport
        .send(message)
        .await
        .map(|_| ())
        .map_err(|error| format!("SMTP: {error}"))
}

/// The signature header's value for `body`.
pub fn signature(secret: &[u8], body: &[u8]) -> Result<String, String> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .map_err(|error| format!("webhook secret: {error}"))?;
    mac.update(body);
    Ok(format!(
        "sha256={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

async fn webhook(outbound: &Outbound, delivery: &Leased) -> Result<(), String> {
    let url = outbound
        .webhook_url
        .as_ref()
        .ok_or("the webhook is no longer configured")?;
    let secret = outbound
        .webhook_secret
        .as_ref()
        .ok_or("the webhook secret is no longer configured")?;
    let client = reqwest::Client::builder()
        .timeout(SEND_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| format!("HTTP client: {error}"))?;
    let response = client
        .post(url.expose_secret())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Changeaudit-Event", &delivery.kind)
        .header(
            SIGNATURE_HEADER,
            signature(secret.expose_secret().as_bytes(), delivery.body.as_bytes())?,
        )
        .body(delivery.body.clone())
        .send()
        .await
        // The library's words name the URL: the endpoint is shown, never the URL.
        .map_err(|error| format!("webhook {}: {}", delivery.target, error.without_url()))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("webhook answered {}", response.status()))
    }
}

async fn settle(
    state: &AppState,
    delivery: &Leased,
    outcome: Result<(), String>,
) -> Result<(), DbError> {
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let (status, next, error, action) = match &outcome {
        Ok(()) => ("sent", now, "", "notification.sent"),
        Err(error) if delivery.attempts >= MAX_ATTEMPTS => {
            ("failed", now, error.as_str(), "notification.failed")
        }
        Err(error) => (
            "pending",
            now.plus(backoff(delivery.attempts)),
            error.as_str(),
            "notification.retrying",
        ),
    };
    if let Err(error) = &outcome {
        tracing::warn!(
            delivery = delivery.id,
            channel = %delivery.channel,
            attempts = delivery.attempts,
            %error,
            "a notification was not delivered"
        );
    }
    sqlx::query(
        "UPDATE deliveries SET status = $2, next_attempt_at = $3, last_error = $4,
             sent_at = CASE WHEN $2 = 'sent' THEN $5 ELSE sent_at END
         WHERE id = $1",
    )
    .bind(delivery.id)
    .bind(status)
    .bind(next.as_millis())
    .bind(error)
    .bind(now.as_millis())
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        NewEvent {
            actor: Actor::System,
            action,
            object: Some(format!("delivery:{}", delivery.id)),
            details: json!({
                "channel": delivery.channel,
                "target": delivery.target,
                "kind": delivery.kind,
                "attempts": delivery.attempts,
                "error": error,
            }),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_and_stop_at_an_hour() {
        assert_eq!(backoff(1), Duration::from_secs(30));
        assert_eq!(backoff(2), Duration::from_secs(60));
        assert_eq!(backoff(3), Duration::from_secs(120));
        assert_eq!(backoff(MAX_ATTEMPTS), Duration::from_secs(3600));
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?").as_deref(),
            Ok("sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
    }
}
