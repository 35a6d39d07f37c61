//! What `changeaudit serve` and `changeaudit migrate` do.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::auth::password;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::db::Database;
use crate::state::AppState;
use crate::trail::key::TrailKey;
use crate::vault::MasterKey;
use crate::vault::rotation;
use crate::{random, trail, users};
use secrecy::{ExposeSecret, SecretString};

pub async fn rotate_master_key(config: &Config) -> anyhow::Result<()> {
    let db = Database::open(config.database.url.expose_secret()).await?;
    let done = rotation::rotate(config, &db, SystemClock.now()).await?;
    db.close().await;
    announce(&format!(
        "master key rotated: {} secret(s) resealed under key {} (was {}); the old key is gone",
        done.resealed, done.new_key_id, done.old_key_id
    ))
}

/// Replaces the trail's signing key: the new key waits beside the key file while the trail
/// announces it and the old key signs the announcement in, then takes the file's place. An
/// interrupted rotation is finished by running it again.
pub async fn rotate_trail_key(config: &Config) -> anyhow::Result<()> {
    let key_file = &config.trail.key_file;
    let current = TrailKey::load(key_file)?;
    let waiting = trail::rotation::next_path(key_file);
    let next = if waiting.exists() {
        TrailKey::load(&waiting)?
    } else {
        TrailKey::create(&waiting)?
    };
    let db = Database::open(config.database.url.expose_secret()).await?;
    // The first public key stays the anchor of every verification: kept before anything moves.
    trail::rotation::first_key(key_file, &current, &db).await?;
    let signed = trail::rotation::announce(&db, &current, &next, SystemClock.now()).await?;
    db.close().await;
    // The old public key stays beside the new one, for whoever verifies what it signed.
    current.write_public(&retired_public_path(key_file, current.id()))?;
    std::fs::rename(&waiting, key_file)
        .with_context(|| format!("putting the new key in place of {}", key_file.display()))?;
    next.write_public(&trail::key::public_path(key_file))?;
    announce(&format!(
        "trail key rotated: key {} follows key {}, announced in the trail and signed in by its checkpoint of {} events; give the new {} to every replica before they sign again, and keep verifying with the trail's first public key",
        next.id(),
        current.id(),
        signed.tree_size,
        key_file.display()
    ))
}

/// Where a retired key's public half is kept: `<key file>.<key id>.pub`.
fn retired_public_path(key_file: &Path, id: &str) -> std::path::PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(format!(".{id}.pub"));
    std::path::PathBuf::from(name)
}

pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let db = Database::open(config.database.url.expose_secret()).await?;
    tracing::info!(database = db.backend().name(), "schema is up to date");
    db.close().await;
    Ok(())
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    create_data_dir(&config.server.data_dir)?;
    let master_key = load_master_key(&config)?;
    let trail_key = load_trail_key(&config)?;
    let db = Database::open(config.database.url.expose_secret()).await?;
    rotation::check_key_matches(&config, &db, &master_key).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    ensure_first_admin(&db, &config, clock.as_ref()).await?;

    let listener = TcpListener::bind(config.server.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (CHANGEAUDIT_LISTEN)",
                config.server.listen
            )
        })?;
    let address = listener.local_addr().context("reading the bound address")?;
    // Passkeys need a host name: on loopback without a public URL, people use `localhost`.
    let shown = match &config.server.public_url {
        Some(url) => format!("{url} (listening on {address})"),
        None if address.ip().is_loopback() => format!("http://localhost:{}", address.port()),
        None => format!("http://{address}"),
    };
    announce(&format!("changeaudit listening on {shown}"))?;

    let peers = match config.cluster.listen {
        Some(at) => Some(TcpListener::bind(at).await.with_context(|| {
            format!("cannot listen for peer replicas on {at} (CHANGEAUDIT_CLUSTER_LISTEN)")
        })?),
        None => None,
    };
    let state = AppState::new(&config, db.clone(), clock, master_key, trail_key)?;
    crate::spawn_workers(&state);
    if let Some(listener) = peers {
        let answering = crate::cluster::peers::router(state.clone());
        // It stops with the process: a peer that loses it reads the recording store instead.
        tokio::spawn(async move {
            if let Err(error) = crate::serve(listener, answering, std::future::pending()).await {
                tracing::error!(%error, "answering peer replicas");
            }
        });
    }
    let app = crate::app(state);
    crate::serve(listener, app, shutdown_signal())
        .await
        .context("serving")?;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The trail's signing key, created on first run. Like the master key, one that cannot be read
/// stops start-up: checkpoints are never signed by a key nobody can check.
pub fn load_trail_key(config: &Config) -> anyhow::Result<TrailKey> {
    let path = &config.trail.key_file;
    let (key, created) = TrailKey::load_or_create(path)?;
    if created {
        tracing::warn!(
            path = %path.display(),
            key_id = key.id(),
            public_key = %key.public_key_hex(),
            "created the trail's signing key: back it up; its public key (also in the .pub file beside it) verifies exports"
        );
    }
    Ok(key)
}

/// `changeaudit export`: the whole trail as JSON lines, to `output` or standard output; with
/// `change`, that change's evidence bundle instead.
pub async fn export(
    config: &Config,
    output: Option<&Path>,
    change: Option<&str>,
) -> anyhow::Result<()> {
    // Only the server makes the key: an export with the wrong configuration must not sign
    // checkpoints with a new one.
    let key = TrailKey::load(&config.trail.key_file)?;
    let db = Database::open(config.database.url.expose_secret()).await?;
    let now = SystemClock.now();
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    match change {
        Some(change) => {
            let store = crate::recordings::open(&config.terminal.recordings)
                .context("the recording store (recordings_url)")?;
            let summary =
                crate::trail::evidence::bundle_of(&db, &*store, &key, change, now, &mut out)
                    .await
                    .with_context(|| format!("the evidence of {change}"))?;
            tracing::info!(%summary, "evidence bundle exported");
        }
        None => {
            let exported = crate::trail::export::export(&db, &key, now, &mut out).await?;
            tracing::info!(
                events = exported.events,
                checkpoints = exported.checkpoints,
                "trail exported"
            );
        }
    }
    out.flush().context("writing the export")?;
    db.close().await;
    Ok(())
}

/// The configured master key, or the key file's (created on first run). A key that cannot be
/// read stops start-up: secrets are never stored unsealed.
fn load_master_key(config: &Config) -> anyhow::Result<MasterKey> {
    if let Some(text) = &config.database.master_key {
        return Ok(MasterKey::from_base64(text)?);
    }
    let (key, created) = MasterKey::load_or_create(&config.database.master_key_file)?;
    if created {
        tracing::warn!(
            path = %config.database.master_key_file.display(),
            key_id = key.id(),
            "created a new master key: back it up apart from the database, which cannot be read without it"
        );
    }
    Ok(key)
}

/// The data folder holds the database and recordings: only the service's own user may enter it.
fn create_data_dir(path: &std::path::Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).with_context(|| {
        format!(
            "cannot create the data folder {} (CHANGEAUDIT_DATA_DIR)",
            path.display()
        )
    })
}

/// Creates the `admin` user on an empty database, with the configured password or a generated
/// one that is printed this once and never stored in clear.
/// Copies every recording of the configured store into the one `to` names.
pub async fn copy_recordings(config: &Config, to: &str) -> anyhow::Result<()> {
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let target = Config::recordings_at(to, &env).context("--to")?;
    let from = crate::recordings::open(&config.terminal.recordings)
        .context("the recording store (recordings_url)")?;
    let to = crate::recordings::open(&target).context("--to")?;
    let copied = crate::recordings::copy::copy_all(&*from, &*to).await?;
    // The summary is the command's answer, for the person or the script that ran it.
    writeln!(std::io::stdout().lock(), "{copied}").context("writing the summary")?;
    Ok(())
}

/// Copies every table of the configured database into the one `to` names (migrated first).
pub async fn copy_database(config: &Config, to: &str) -> anyhow::Result<()> {
    let from = Database::open(config.database.url.expose_secret()).await?;
    let target = Database::open(to).await.context("--to")?;
    let copied = crate::db::copy::copy_database(&from, &target, SystemClock.now()).await?;
    target.close().await;
    from.close().await;
    // The summary is the command's answer, for the person or the script that ran it.
    writeln!(std::io::stdout().lock(), "{copied}").context("writing the summary")?;
    Ok(())
}

async fn ensure_first_admin(
    db: &Database,
    config: &Config,
    clock: &dyn Clock,
) -> anyhow::Result<()> {
    if users::count(db).await? > 0 {
        return Ok(());
    }
    let (password, generated) = match &config.database.admin_password {
        Some(password) => (password.clone(), false),
        None => (SecretString::from(random::readable_password()), true),
    };
    let hash = password::hash(password.clone())
        .await
        .map_err(|error| anyhow::anyhow!("hashing the first admin's password: {error}"))?;
    if !users::create_first_admin(db, &hash, clock.now()).await? {
        return Ok(());
    }
    if generated {
        announce(&format!(
            "\nFirst admin created.\n  username: {}\n  password: {}\nThis password is shown only now: sign in and keep it safe.\n",
            users::FIRST_ADMIN_USERNAME,
            password.expose_secret()
        ))?;
    } else {
        announce(&format!(
            "First admin `{}` created with the password from CHANGEAUDIT_ADMIN_PASSWORD.",
            users::FIRST_ADMIN_USERNAME
        ))?;
    }
    Ok(())
}

/// Writes a line for the operator on standard output (logs go to standard error).
fn announce(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .context("writing to standard output")
}

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
