//! Admin → Devices.

use changeaudit_shared::api::Page;
use changeaudit_shared::api::devices::{Device, DeviceInput, HostKeyScan, HostKeyScanRequest};
use changeaudit_shared::api::routes::devices;

use super::{ApiError, fetch, send};

/// Saves a device: a new one without `id`.
pub async fn save(id: Option<i64>, input: &DeviceInput) -> Result<Device, ApiError> {
    match id {
        Some(id) => send(devices::update(id), input).await,
        None => send(devices::create(), input).await,
    }
}

pub async fn delete(id: i64) -> Result<(), ApiError> {
    fetch(devices::delete(id)).await
}

pub async fn scan_host_key(request: &HostKeyScanRequest) -> Result<HostKeyScan, ApiError> {
    send(devices::scan_host_key(), request).await
}

/// The devices whose name or host contains `search`, the first `limit`.
pub async fn search(search: &str, limit: u32) -> Result<Page<Device>, ApiError> {
    let limit = limit.to_string();
    fetch(devices::list().with_query(&[("q", search), ("limit", &limit)])).await
}
