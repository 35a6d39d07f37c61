//! The digest an approval of a request signs, from the database as it is now: the change's
//! content, where each of its devices is (host, port, pinned host key), the request's
//! credential (its device and account) and how its sessions are held to the script. Anything an approval covers that is edited gives
//! another digest, so an approval can be shown to cover exactly what runs.

use changeaudit_shared::api::changes::Change;
use changeaudit_shared::api::requests::RequestSummary;
use changeaudit_shared::approval::{ApprovedContent, DeviceTarget};
use changeaudit_shared::enforcement::Enforcement;
use sqlx::AnyConnection;

use super::store;
use crate::changes::{self, Visibility};
use crate::clock::Timestamp;
use crate::db::DbError;

/// How `change`'s sessions are held to its script now: the stricter of its group's setting
/// and its own.
pub async fn enforcement_of(
    connection: &mut AnyConnection,
    change: &Change,
) -> Result<Enforcement, DbError> {
    let group = crate::groups::enforcement(connection, change.access_group.id).await?;
    Ok(Enforcement::of_change(group, change.enforcement))
}

/// A device's target as stored.
struct Target {
    id: i64,
    name: String,
    host: String,
    port: i64,
    fingerprint: String,
}

/// The digest of what approving `request` (of `change`) covers now.
pub async fn of_request(
    connection: &mut AnyConnection,
    request: &RequestSummary,
    change: &Change,
) -> Result<String, DbError> {
    let mut targets = Vec::with_capacity(change.devices.len());
    for device in &change.devices {
        let (id, name, host, port, fingerprint) = sqlx::query_as(
            "SELECT id, name, host, port, host_key_fingerprint FROM devices WHERE id = $1",
        )
        .bind(device.id)
        .fetch_one(&mut *connection)
        .await?;
        targets.push(Target {
            id,
            name,
            host,
            port,
            fingerprint,
        });
    }
    let enforcement = enforcement_of(connection, change).await?;
    let (credential_device_id, account): (i64, String) =
        sqlx::query_as("SELECT device_id, username FROM credentials WHERE id = $1")
            .bind(request.credential_id)
            .fetch_one(&mut *connection)
            .await?;
    let devices = targets
        .iter()
        .map(|target| {
            Ok(DeviceTarget {
                id: target.id,
                name: &target.name,
                host: &target.host,
                port: u16::try_from(target.port).map_err(DbError::decode)?,
                host_key_fingerprint: &target.fingerprint,
            })
        })
        .collect::<Result<_, DbError>>()?;
    Ok(ApprovedContent {
        id: &change.id,
        start_at_ms: Timestamp::from_datetime(change.start_at).as_millis(),
        due_at_ms: Timestamp::from_datetime(change.due_at).as_millis(),
        devices,
        script: &change.script,
        credential_device_id,
        account: &account,
        // A group loosened after the approval gives another digest, as a change edited does.
        enforcement: (enforcement != Enforcement::Off).then_some(enforcement),
    }
    .digest())
}

/// Whether every approval counted for request `request_id` signed what it would run now. A
/// session opens only then: an approval never follows a change, a device or a credential that
/// moved after it was given, whichever way it moved.
pub async fn approvals_still_cover(
    connection: &mut AnyConnection,
    request_id: i64,
    now: Timestamp,
) -> Result<bool, DbError> {
    let request = store::summary(connection, request_id, now).await?;
    let change = changes::view(connection, &request.change_id, Visibility::All, now).await?;
    let digest = of_request(connection, &request, &change).await?;
    let signed: Vec<String> = sqlx::query_scalar(
        "SELECT change_digest FROM decisions
         WHERE request_id = $1 AND decision = 'approved' AND voided_at IS NULL",
    )
    .bind(request_id)
    .fetch_all(connection)
    .await?;
    // No approval counted (the request voided meanwhile, say) covers nothing.
    Ok(!signed.is_empty() && signed.iter().all(|signed| *signed == digest))
}
