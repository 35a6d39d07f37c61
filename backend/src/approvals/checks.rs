//! The approvals behind a session, each passkey signature checked again now, as an auditor's
//! Change details shows them: the stored assertion for its request and change digest, made
//! with the approver's own passkey, with the key the trail's `passkey.registered` event
//! recorded for it.

use changeaudit_shared::api::sessions::ApprovalCheck;
use serde_json::Value;
use sqlx::{AnyConnection, Row};

use crate::approvals::assertion::{StoredAssertion, check_vote};
use crate::clock::Timestamp;
use crate::db::DbError;
use crate::listing::escape_like;

pub async fn approvals_of(
    connection: &mut AnyConnection,
    request_id: i64,
) -> Result<Vec<ApprovalCheck>, DbError> {
    let rows = sqlx::query(
        "SELECT u.username, x.decision, x.comment, x.decided_at, x.assertion, x.change_digest
         FROM decisions x JOIN users u ON u.id = x.approver_id
         WHERE x.request_id = $1 AND x.voided_at IS NULL ORDER BY x.decided_at, x.id",
    )
    .bind(request_id)
    .fetch_all(&mut *connection)
    .await?;
    let mut checks = Vec::with_capacity(rows.len());
    for row in rows {
        let assertion: Option<String> = row.try_get("assertion")?;
        let approver: String = row.try_get("username")?;
        let digest: String = row.try_get("change_digest")?;
        let (verified, verification) = match &assertion {
            None => (
                false,
                "not signed: the group approves without passkeys".to_owned(),
            ),
            Some(text) => check(connection, text, request_id, &digest, &approver).await?,
        };
        checks.push(ApprovalCheck {
            approver,
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

async fn check(
    connection: &mut AnyConnection,
    text: &str,
    request_id: i64,
    digest: &str,
    approver: &str,
) -> Result<(bool, String), DbError> {
    let Ok(stored) = serde_json::from_str::<StoredAssertion>(text) else {
        return Ok((false, "the stored assertion is unreadable".to_owned()));
    };
    let registered = registration(connection, &stored.credential_id).await?;
    let checked = check_vote(
        &stored,
        request_id,
        digest,
        approver,
        registered
            .as_ref()
            .map(|(owner, key)| (owner.as_str(), key)),
    );
    Ok(match checked {
        Ok(()) => (
            true,
            format!(
                "signature verified: request {}, change digest {}, user verified, {approver}'s key as registered in the trail",
                stored.request_id, stored.change_digest
            ),
        ),
        Err(reason) => (false, reason),
    })
}

/// Who registered passkey `credential_id`, and its public key, from the trail's
/// `passkey.registered` event. `LIKE` finds the candidates; the ID is then matched exactly,
/// since SQLite's `LIKE` ignores case and credential IDs do not.
pub async fn registration(
    connection: &mut AnyConnection,
    credential_id: &str,
) -> Result<Option<(String, Value)>, DbError> {
    let pattern = format!("%\"credential_id\":\"{}\"%", escape_like(credential_id));
    let rows = sqlx::query(
        "SELECT actor, details FROM audit_events WHERE action = 'passkey.registered'
             AND details LIKE $1 ESCAPE '\\' ORDER BY seq",
    )
    .bind(pattern)
    .fetch_all(&mut *connection)
    .await?;
    for row in rows {
        let details: Value =
            serde_json::from_str(&row.try_get::<String, _>("details")?).map_err(DbError::decode)?;
        if details["credential_id"] == credential_id {
            return Ok(Some((row.try_get("actor")?, details["public_key"].clone())));
        }
    }
    Ok(None)
}
