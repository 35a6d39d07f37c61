//! Devices: the store, Admin → Devices' API in `handlers`, and fetching a host key in `scan`.

pub mod handlers;
pub mod scan;

use changeaudit_shared::api::devices::{CheckedDevice, Device};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::clock::Timestamp;
use crate::db::DbError;
use crate::listing::{Arg, Filter, Paging, escape_like};

const COLUMNS: &str = "id, name, host, port, tags, host_key_fingerprint, created_at, updated_at";

fn device_of(row: &AnyRow) -> Result<Device, DbError> {
    let tags: String = row.try_get("tags")?;
    let port: i64 = row.try_get("port")?;
    Ok(Device {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        host: row.try_get("host")?,
        port: u16::try_from(port).map_err(DbError::decode)?,
        tags: serde_json::from_str(&tags)
            .map_err(|error| DbError::Other(sqlx::Error::Decode(Box::new(error))))?,
        host_key_fingerprint: row.try_get("host_key_fingerprint")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?).to_datetime(),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?).to_datetime(),
    })
}

/// Filters of `GET /api/devices`.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeviceQuery {
    /// Part of the name, host or a tag.
    pub q: Option<String>,
    /// Only devices with this tag, whatever its case.
    pub tag: Option<String>,
}

pub async fn list(
    connection: &mut AnyConnection,
    query: &DeviceQuery,
    paging: Paging,
) -> Result<(Vec<Device>, i64), DbError> {
    let mut filter = Filter::default();
    if let Some(q) = query.q.as_deref().filter(|q| !q.trim().is_empty()) {
        filter.contains(&["name", "host", "tags"], q.trim());
    }
    if let Some(tag) = query.tag.as_deref().filter(|tag| !tag.is_empty()) {
        // Tags are stored as a JSON array of strings: the quoted tag names exactly one.
        let quoted = serde_json::Value::from(tag.to_lowercase()).to_string();
        filter.and(
            "LOWER(tags) LIKE ? ESCAPE '\\'",
            [Arg::Text(format!("%{}%", escape_like(&quoted)))],
        );
    }
    let total = filter.count(connection, "devices").await?;
    let next = filter.next_placeholder();
    let sql = format!(
        "SELECT {COLUMNS} FROM devices{} ORDER BY name LIMIT ${next} OFFSET ${}",
        filter.where_clause(),
        next + 1
    );
    let rows = filter
        .bind(sqlx::query(&sql))
        .bind(paging.limit())
        .bind(paging.offset())
        .fetch_all(&mut *connection)
        .await?;
    Ok((
        rows.iter().map(device_of).collect::<Result<Vec<_>, _>>()?,
        total,
    ))
}

pub async fn view(connection: &mut AnyConnection, id: i64) -> Result<Device, DbError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM devices WHERE id = $1"))
        .bind(id)
        .fetch_one(connection)
        .await?;
    device_of(&row)
}

pub async fn name_taken(
    connection: &mut AnyConnection,
    name: &str,
    except: Option<i64>,
) -> Result<bool, DbError> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM devices WHERE LOWER(name) = LOWER($1) AND id <> $2",
    )
    .bind(name)
    .bind(except.unwrap_or(-1))
    .fetch_one(connection)
    .await?;
    Ok(count > 0)
}

pub async fn insert(
    connection: &mut AnyConnection,
    device: &CheckedDevice,
    now: Timestamp,
) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO devices (name, host, port, tags, host_key_fingerprint, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(&device.name)
    .bind(&device.host)
    .bind(i64::from(device.port))
    .bind(tags_json(&device.tags))
    .bind(device.fingerprint.as_str())
    .bind(now.as_millis())
    .fetch_one(connection)
    .await?)
}

pub async fn update(
    connection: &mut AnyConnection,
    id: i64,
    device: &CheckedDevice,
    now: Timestamp,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE devices SET name = $2, host = $3, port = $4, tags = $5, host_key_fingerprint = $6,
         updated_at = $7 WHERE id = $1",
    )
    .bind(id)
    .bind(&device.name)
    .bind(&device.host)
    .bind(i64::from(device.port))
    .bind(tags_json(&device.tags))
    .bind(device.fingerprint.as_str())
    .bind(now.as_millis())
    .execute(connection)
    .await?;
    Ok(())
}

fn tags_json(tags: &[String]) -> String {
    serde_json::Value::from(tags.to_vec()).to_string()
}
