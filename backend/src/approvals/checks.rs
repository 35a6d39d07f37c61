//! The approvals behind a session, each passkey signature checked again now, as an auditor's
//! Change details shows them: the stored assertion against its request and change digest, and
//! its public key against the one the trail's `passkey.registered` event recorded.

use changeaudit_shared::api::sessions::ApprovalCheck;
use serde_json::Value;
use sqlx::{AnyConnection, Row};

use crate::approvals::assertion::StoredAssertion;
use crate::clock::Timestamp;
use crate::db::DbError;
use crate::listing::escape_like;

pub async fn approvals_of(
    connection: &mut AnyConnection,
    request_id: i64,
) -> Result<Vec<ApprovalCheck>, DbError> {
    let rows = sqlx::query(
        "SELECT u.username, x.decision, x.comment, x.decided_at, x.assertion
         FROM decisions x JOIN users u ON u.id = x.approver_id
         WHERE x.request_id = $1 AND x.voided_at IS NULL ORDER BY x.decided_at, x.id",
    )
    .bind(request_id)
    .fetch_all(&mut *connection)
    .await?;
    let mut checks = Vec::with_capacity(rows.len());
    for row in rows {
        let assertion: Option<String> = row.try_get("assertion")?;
        let (verified, verification) = match &assertion {
            None => (
                false,
                "not signed: the group approves without passkeys".to_owned(),
            ),
            Some(text) => check(connection, text).await?,
        };
        checks.push(ApprovalCheck {
            approver: row.try_get("username")?,
            decision: row.try_get("decision")?,
            comment: row.try_get("comment")?,
            decided_at: Timestamp::from_millis(row.try_get("decided_at")?).to_datetime(),
            signed: assertion.is_some(),
            verified,
            verification,
        });
    }
    Ok(checks)
}

async fn check(connection: &mut AnyConnection, text: &str) -> Result<(bool, String), DbError> {
    let Ok(stored) = serde_json::from_str::<StoredAssertion>(text) else {
        return Ok((false, "the stored assertion is unreadable".to_owned()));
    };
    let pattern = format!(
        "%\"credential_id\":\"{}\"%",
        escape_like(&stored.credential_id)
    );
    let registered: Option<String> = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'passkey.registered'
             AND details LIKE $1 ESCAPE '\\' ORDER BY seq LIMIT 1",
    )
    .bind(pattern)
    .fetch_optional(&mut *connection)
    .await?;
    let Some(registered) = registered else {
        return Ok((
            false,
            "its passkey was never registered in the trail".to_owned(),
        ));
    };
    let registered: Value = serde_json::from_str(&registered).map_err(DbError::decode)?;
    let used = serde_json::to_value(&stored.public_key).unwrap_or_default();
    if registered["public_key"] != used {
        return Ok((
            false,
            "it carries another public key than its passkey registered".to_owned(),
        ));
    }
    Ok(match stored.verify() {
        Ok(()) => (
            true,
            format!(
                "signature verified: request {}, change digest {}, user verified, key registered in the trail",
                stored.request_id, stored.change_digest
            ),
        ),
        Err(error) => (false, format!("signature fails: {error}")),
    })
}
