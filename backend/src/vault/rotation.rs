//! `changeaudit rotate-master-key`: every stored secret resealed under a new master key, in one
//! transaction, after which the old key is gone. The new key is written beside the old one
//! (`<key file>.new`) before any secret is touched, so an interrupted rotation loses nothing:
//! running the command again finishes it, and `serve` refuses to start until then.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::json;

use crate::clock::Timestamp;
use crate::config::Config;
use crate::credentials::{self, seal_context};
use crate::db::{Database, DbError};
use crate::trail::audit::{self, Actor, NewEvent};
use crate::vault::{MasterKey, sealed_key_id};

pub struct Rotation {
    pub old_key_id: String,
    pub new_key_id: String,
    pub resealed: usize,
}

/// Where a rotation keeps the new key until the database holds every secret under it.
pub fn pending_key_file(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

pub async fn rotate(config: &Config, db: &Database, now: Timestamp) -> anyhow::Result<Rotation> {
    if config.database.master_key.is_some() {
        bail!(
            "CHANGEAUDIT_MASTER_KEY is set: rotate-master-key rotates the key file; rotate a configured key by sealing under a new one first"
        );
    }
    let key_file = &config.database.master_key_file;
    let old = MasterKey::load(key_file)?;
    let pending = pending_key_file(key_file);
    let new = if pending.exists() {
        MasterKey::load(&pending)?
    } else {
        MasterKey::create(&pending)?
    };

    let mut transaction = db.begin_write().await?;
    let mut resealed = 0;
    for (id, sealed) in credentials::sealed(&mut transaction).await? {
        match sealed_key_id(&sealed) {
            Some(key_id) if key_id == new.id() => continue,
            Some(key_id) if key_id == old.id() => {}
            other => bail!(
                "credential {id} is sealed under key {}, neither the current key {} nor the new one {}",
                other.unwrap_or("(unreadable)"),
                old.id(),
                new.id()
            ),
        }
        let context = seal_context(id);
        let secret = old
            .open(&sealed, &context)
            .with_context(|| format!("opening credential {id}"))?;
        let resealed_secret = new
            .seal(&secret, &context)
            .with_context(|| format!("sealing credential {id}"))?;
        sqlx::query("UPDATE credentials SET secret = $2, key_id = $3 WHERE id = $1")
            .bind(id)
            .bind(resealed_secret)
            .bind(new.id())
            .execute(&mut *transaction)
            .await
            .map_err(DbError::from)?;
        resealed += 1;
    }
    audit::append(
        &mut transaction,
        NewEvent {
            actor: Actor::System,
            action: "master_key.rotated",
            object: None,
            details: json!({
                "old_key_id": old.id(),
                "new_key_id": new.id(),
                "resealed": resealed,
            }),
        },
        now,
    )
    .await?;
    transaction.commit().await.map_err(DbError::from)?;

    // Every secret is under the new key now: it replaces the old one, which is gone.
    std::fs::rename(&pending, key_file)
        .with_context(|| format!("replacing {} with the new key", key_file.display()))?;
    Ok(Rotation {
        old_key_id: old.id().to_owned(),
        new_key_id: new.id().to_owned(),
        resealed,
    })
}

/// Fails closed at start-up: on an unfinished rotation, or on secrets the key cannot open.
pub async fn check_key_matches(
    config: &Config,
    db: &Database,
    key: &MasterKey,
) -> anyhow::Result<()> {
    if config.database.master_key.is_none()
        && pending_key_file(&config.database.master_key_file).exists()
    {
        bail!(
            "a master key rotation was interrupted ({} exists): run `changeaudit rotate-master-key` to finish it",
            pending_key_file(&config.database.master_key_file).display()
        );
    }
    let mut connection = db.pool().acquire().await.map_err(DbError::from)?;
    for (id, sealed) in credentials::sealed(&mut connection).await? {
        if sealed_key_id(&sealed) != Some(key.id()) {
            bail!(
                "credential {id} is sealed under key {}, not the current master key {}: is this the right key file?",
                sealed_key_id(&sealed).unwrap_or("(unreadable)"),
                key.id()
            );
        }
    }
    Ok(())
}
