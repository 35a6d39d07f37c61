//! The database: SQLite by default, PostgreSQL when the URL says so, through one pool type so
//! every query is written once. Queries use `$1`-style placeholders, which both accept.

mod backend;
pub mod copy;
mod error;
mod migrations;

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

pub use backend::Backend;
pub use error::DbError;

/// Any number, as long as it is the same on every replica: it names PostgreSQL's write lock.
const WRITE_LOCK: i64 = 0x6361_7564_6974;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "CHANGEAUDIT_DATABASE_URL: unsupported database URL (expected sqlite:// or postgres://)"
    )]
    UnsupportedUrl,
    #[error("cannot create the folder {path} for the SQLite database: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot connect to the {backend} database: {source}")]
    Connect {
        backend: &'static str,
        source: sqlx::Error,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    backend: Backend,
}

impl Database {
    /// Connects without migrating; a SQLite file and its folder are created when missing.
    pub async fn connect(url: &str) -> Result<Database, ConnectError> {
        let backend = Backend::of_url(url).ok_or(ConnectError::UnsupportedUrl)?;
        install_default_drivers();
        let url = match backend {
            Backend::Sqlite => prepare_sqlite(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let options = AnyPoolOptions::new()
            .max_connections(match backend {
                // SQLite has one writer; a small pool avoids queuing on its lock.
                Backend::Sqlite => 4,
                Backend::Postgres => 10,
            })
            .acquire_timeout(Duration::from_secs(10));
        let options = match backend {
            Backend::Sqlite => options.after_connect(|connection, _| {
                Box::pin(async move {
                    // WAL lets readers go on while a session's events are written.
                    connection
                        .execute("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")
                        .await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options,
        };
        let pool = options
            .connect(&url)
            .await
            .map_err(|source| ConnectError::Connect {
                backend: backend.name(),
                source,
            })?;
        Ok(Database { pool, backend })
    }

    /// Connects and brings the schema up to date.
    pub async fn open(url: &str) -> Result<Database, ConnectError> {
        let database = Database::connect(url).await?;
        database.migrate().await?;
        Ok(database)
    }

    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        migrations::run(&self.pool, self.backend).await
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A transaction that writes, holding the one write lock until it ends, so writers from every
    /// replica take turns: on SQLite `BEGIN IMMEDIATE`, on PostgreSQL a transaction-scoped
    /// advisory lock. What a writer checks before it writes (the trail's last event, that an
    /// admin remains, that a name is free) therefore still holds when it writes.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, DbError> {
        match self.backend {
            Backend::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres => {
                let mut transaction = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(WRITE_LOCK)
                    .execute(&mut *transaction)
                    .await?;
                Ok(transaction)
            }
        }
    }

    /// A write transaction that needs no place in the trail's order, so it does not take the
    /// global write lock (PostgreSQL's advisory lock): what anyone may ask for before signing in
    /// never queues behind, or holds up, the trail. SQLite still writes one at a time.
    pub async fn begin_local(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, DbError> {
        match self.backend {
            Backend::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres => Ok(self.pool.begin().await?),
        }
    }

    pub async fn ping(&self) -> Result<(), DbError> {
        self.pool.execute("SELECT 1").await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Where in `ids` are those without a row in `table` (a table named in the code, never input),
/// found with one query.
pub async fn missing_ids(
    connection: &mut sqlx::AnyConnection,
    table: &'static str,
    ids: &[i64],
) -> Result<Vec<usize>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id FROM {table} WHERE id IN ({})",
        placeholders(1, ids.len())
    );
    let mut query = sqlx::query_scalar::<_, i64>(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    let found = query.fetch_all(connection).await?;
    Ok((0..ids.len())
        .filter(|&index| !found.contains(&ids[index]))
        .collect())
}

/// Reads a boolean selected as `CAST(CASE WHEN column THEN 1 ELSE 0 END AS BIGINT)`: sqlx's
/// `Any` driver cannot decode SQLite's `BOOLEAN`, so booleans travel as 0/1 integers.
pub fn flag(row: &sqlx::any::AnyRow, alias: &str) -> Result<bool, sqlx::Error> {
    use sqlx::Row;
    Ok(row.try_get::<i64, _>(alias)? != 0)
}

/// Creates the database's folder and asks SQLite to create the file.
fn prepare_sqlite(url: &str) -> Result<String, ConnectError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    if path != ":memory:"
        && let Some(folder) = std::path::Path::new(path).parent()
        && !folder.as_os_str().is_empty()
    {
        std::fs::create_dir_all(folder).map_err(|source| ConnectError::Folder {
            path: folder.display().to_string(),
            source,
        })?;
    }
    Ok(match query {
        Some(query) if query.contains("mode=") => url.to_owned(),
        Some(_) => format!("{url}&mode=rwc"),
        None => format!("{url}?mode=rwc"),
    })
}

/// `$start, $start+1, …` for an `IN (…)` list of `count` values.
pub fn placeholders(start: usize, count: usize) -> String {
    (start..start + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_backends_by_url() {
        assert_eq!(Backend::of_url("sqlite://data/x.db"), Some(Backend::Sqlite));
        assert_eq!(
            Backend::of_url("postgres://u@h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::of_url("postgresql://u@h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::of_url("mysql://u@h/db"), None);
    }

    #[test]
    fn sqlite_urls_create_the_file_and_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/ca.db");
        let url = format!("sqlite://{}", path.display());
        assert_eq!(prepare_sqlite(&url).unwrap(), format!("{url}?mode=rwc"));
        assert!(dir.path().join("nested").is_dir());
        let with_query = format!("{url}?cache=shared");
        assert_eq!(
            prepare_sqlite(&with_query).unwrap(),
            format!("{with_query}&mode=rwc")
        );
    }
}
