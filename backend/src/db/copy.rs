//! `changeaudit copy-database --to URL`: an installation's every table copied into another
//! database (SQLite into PostgreSQL, as an installation grows), row for row, so the trail keeps
//! its chain, its tree and its signed checkpoints and `verify` passes on the copy.
//!
//! The source is read in one snapshot (a read transaction; on PostgreSQL, repeatable read), the
//! target written a batch at a time. A source a replica still serves is refused: stop them
//! first. A target that already holds rows is refused, unless it is this installation's copy
//! (its trail is the beginning of the source's): then the copy resumes, each row written again
//! over the one with its key. Afterwards every table must hold as many rows in both.

use std::fmt;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row, ValueRef};

use super::{Backend, Database, DbError, placeholders};
use crate::clock::Timestamp;
use crate::cluster::registry::GONE_AFTER;

/// Every table of the installation, each after those it references. Not `replicas`: it lists
/// the servers running now, which register themselves.
pub const TABLES: [&str; 26] = [
    // First: a copy that stopped is known by its trail.
    "audit_events",
    "users",
    "user_roles",
    "web_sessions",
    "devices",
    "credentials",
    "access_groups",
    "group_members",
    "group_credentials",
    "changes",
    "change_devices",
    "requests",
    "terminal_sessions",
    "session_commands",
    "session_findings",
    "passkeys",
    "webauthn_ceremonies",
    "decisions",
    "change_editors",
    "notifications",
    "deliveries",
    "trail_checkpoints",
    "trail_nodes",
    "siem_cursors",
    "sign_in_limits",
    "command_rules",
];

/// The tables that are only ever appended to.
const APPEND_ONLY: [&str; 3] = ["audit_events", "trail_checkpoints", "trail_nodes"];

/// Rows written in one statement, and the bytes of values that end a batch sooner (a
/// session's transcript may be megabytes).
const BATCH_ROWS: usize = 200;
const BATCH_BYTES: usize = 8 << 20;

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "the target already holds another installation ({holding}): copy into an empty database"
    )]
    NotEmpty { holding: String },
    #[error(
        "table {table} holds {copied} row(s) in the copy and {source_rows} here: the source changed between runs; copy again into an empty database"
    )]
    Differs {
        table: &'static str,
        copied: i64,
        source_rows: i64,
    },
    #[error(
        "replica {replica} of the source beat {seconds} s ago: stop every replica before copying"
    )]
    InUse { replica: String, seconds: i64 },
    #[error("table {table}, column {column}: {found} where the target keeps {kind}")]
    Mismatch {
        table: &'static str,
        column: String,
        found: &'static str,
        kind: &'static str,
    },
    #[error("table {table}: {source}")]
    Table {
        table: &'static str,
        source: DbError,
    },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What a copy did.
#[derive(Debug, PartialEq, Eq)]
pub struct Copied {
    pub tables: usize,
    pub rows: i64,
    /// It went on from an earlier copy that stopped.
    pub resumed: bool,
}

impl fmt::Display for Copied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if self.resumed { "resumed: " } else { "" };
        write!(
            f,
            "{how}{} table(s), {} row(s), the same in both",
            self.tables, self.rows
        )
    }
}

/// Copies every table of `from` into `to` (migrated already), as of `now`.
pub async fn copy_database(
    from: &Database,
    to: &Database,
    now: Timestamp,
) -> Result<Copied, CopyError> {
    let mut snapshot = from.pool().begin().await.map_err(DbError::from)?;
    if from.backend() == Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *snapshot)
            .await
            .map_err(DbError::from)?;
    }
    unused(&mut snapshot, now).await?;
    let resumed = resuming(&mut snapshot, to).await?;
    let mut rows = 0;
    for table in TABLES {
        let in_table = |source| CopyError::Table { table, source };
        copy_table(&mut snapshot, to, table).await?;
        let source_rows = count(&mut snapshot, table).await.map_err(in_table)?;
        let mut target = to.pool().acquire().await.map_err(DbError::from)?;
        let copied = count(&mut target, table).await.map_err(in_table)?;
        if copied != source_rows {
            return Err(CopyError::Differs {
                table,
                copied,
                source_rows,
            });
        }
        rows += source_rows;
    }
    snapshot.rollback().await.map_err(DbError::from)?;
    if to.backend() == Backend::Postgres {
        renumber(to).await?;
    }
    Ok(Copied {
        tables: TABLES.len(),
        rows,
        resumed,
    })
}

/// Refuses a source a replica still serves: what it writes meanwhile would be missing.
async fn unused(source: &mut AnyConnection, now: Timestamp) -> Result<(), CopyError> {
    let fresh = now.minus(GONE_AFTER).as_millis();
    let beating: Option<(String, i64)> = sqlx::query_as(
        "SELECT id, heartbeat_at FROM replicas WHERE heartbeat_at >= $1
         ORDER BY heartbeat_at DESC LIMIT 1",
    )
    .bind(fresh)
    .fetch_optional(&mut *source)
    .await
    .map_err(DbError::from)?;
    match beating {
        Some((replica, at)) => Err(CopyError::InUse {
            replica,
            seconds: (now.as_millis() - at).max(0) / 1000,
        }),
        None => Ok(()),
    }
}

async fn count(connection: &mut AnyConnection, table: &str) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(connection)
        .await?)
}

/// Whether the target is this installation's unfinished copy; an empty one is not, and one
/// holding anything else is refused.
async fn resuming(source: &mut AnyConnection, to: &Database) -> Result<bool, CopyError> {
    let mut target = to.pool().acquire().await.map_err(DbError::from)?;
    let mut holding = Vec::new();
    for table in TABLES {
        let rows = count(&mut target, table).await?;
        if rows > 0 {
            holding.push(format!("{table}: {rows} row(s)"));
        }
    }
    if holding.is_empty() {
        return Ok(false);
    }
    // Its trail must be the beginning of this one: its last event is this one's at that place.
    let last: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *target)
            .await
            .map_err(DbError::from)?;
    let ours: Option<String> = match &last {
        Some((seq, _)) => sqlx::query_scalar("SELECT hash FROM audit_events WHERE seq = $1")
            .bind(seq)
            .fetch_optional(&mut *source)
            .await
            .map_err(DbError::from)?,
        None => None,
    };
    match (ours, last) {
        (Some(ours), Some((_, theirs))) if ours == theirs => Ok(true),
        _ => Err(CopyError::NotEmpty {
            holding: holding.join(", "),
        }),
    }
}

/// How the target stores a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Boolean,
    Text,
}

/// The target's columns of `table`, in its order, with how each is stored.
async fn columns(to: &Database, table: &str) -> Result<Vec<(String, Kind)>, DbError> {
    let sql = match to.backend() {
        Backend::Sqlite => "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
        Backend::Postgres => {
            "SELECT column_name::TEXT, data_type::TEXT FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
    };
    let found: Vec<(String, String)> = sqlx::query_as(sql).bind(table).fetch_all(to.pool()).await?;
    Ok(found
        .into_iter()
        .map(|(name, declared)| {
            let declared = declared.to_ascii_lowercase();
            let kind = if declared.contains("bool") {
                Kind::Boolean
            } else if declared.contains("int") {
                Kind::Integer
            } else {
                Kind::Text
            };
            (name, kind)
        })
        .collect())
}

/// One value as read, whatever the source stores it as.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Integer(i64),
    Boolean(bool),
    Text(String),
}

impl Value {
    fn read(row: &AnyRow, index: usize) -> Result<Value, sqlx::Error> {
        use sqlx::any::AnyTypeInfoKind as Any;
        let raw = row.try_get_raw(index)?;
        if raw.is_null() {
            return Ok(Value::Null);
        }
        Ok(match raw.type_info().kind() {
            Any::Bool => Value::Boolean(row.try_get(index)?),
            Any::SmallInt | Any::Integer | Any::BigInt => Value::Integer(row.try_get(index)?),
            Any::Null => Value::Null,
            Any::Text => Value::Text(row.try_get(index)?),
            other => {
                return Err(sqlx::Error::Decode(
                    format!("a column stored as {other:?}, which no table holds").into(),
                ));
            }
        })
    }

    fn size(&self) -> usize {
        match self {
            Value::Text(text) => text.len(),
            _ => 8,
        }
    }
}

/// Binds `value` as the target stores its column; one the column cannot hold is refused.
fn bind<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    value: Value,
    kind: Kind,
) -> Result<sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>, &'static str> {
    Ok(match (kind, value) {
        (Kind::Integer, Value::Integer(number)) => query.bind(number),
        (Kind::Integer, Value::Boolean(flag)) => query.bind(i64::from(flag)),
        (Kind::Boolean, Value::Boolean(flag)) => query.bind(flag),
        (Kind::Boolean, Value::Integer(number)) => query.bind(number != 0),
        (Kind::Text, Value::Text(text)) => query.bind(text),
        (Kind::Integer, Value::Null) => query.bind(None::<i64>),
        (Kind::Boolean, Value::Null) => query.bind(None::<bool>),
        (Kind::Text, Value::Null) => query.bind(None::<String>),
        (_, Value::Text(_)) => return Err("text"),
        (Kind::Text, Value::Integer(_)) => return Err("an integer"),
        (Kind::Text, Value::Boolean(_)) => return Err("a boolean"),
    })
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Integer => "integers",
            Kind::Boolean => "booleans",
            Kind::Text => "text",
        }
    }
}

/// A table as the target keeps it: its columns, and the columns of its primary key.
struct Shape {
    table: &'static str,
    columns: Vec<(String, Kind)>,
    key: Vec<String>,
}

impl Shape {
    async fn of(to: &Database, table: &'static str) -> Result<Shape, DbError> {
        Ok(Shape {
            table,
            columns: columns(to, table).await?,
            key: key(to, table).await?,
        })
    }

    /// What a row already there becomes: the source's, so a resumed copy holds what the source
    /// holds now. A table whose every column is in its key has nothing to update, and the
    /// trail's tables are never updated (their triggers refuse it; what a stopped copy wrote of
    /// them is the source's, as the resumption's check of the trail says).
    fn on_conflict(&self) -> String {
        if APPEND_ONLY.contains(&self.table) {
            return "ON CONFLICT DO NOTHING".to_owned();
        }
        let updated: Vec<String> = self
            .columns
            .iter()
            .filter(|(name, _)| !self.key.contains(name))
            .map(|(name, _)| format!("{name} = excluded.{name}"))
            .collect();
        if self.key.is_empty() || updated.is_empty() {
            return "ON CONFLICT DO NOTHING".to_owned();
        }
        format!(
            "ON CONFLICT ({}) DO UPDATE SET {}",
            self.key.join(", "),
            updated.join(", ")
        )
    }
}

/// The columns of `table`'s primary key in the target.
async fn key(to: &Database, table: &str) -> Result<Vec<String>, DbError> {
    let sql = match to.backend() {
        Backend::Sqlite => "SELECT name FROM pragma_table_info($1) WHERE pk > 0 ORDER BY pk",
        Backend::Postgres => {
            "SELECT k.column_name::TEXT FROM information_schema.table_constraints c
             JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name
                 AND k.table_schema = c.table_schema AND k.table_name = c.table_name
             WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = current_schema()
                 AND c.table_name = $1
             ORDER BY k.ordinal_position"
        }
    };
    Ok(sqlx::query_scalar(sql)
        .bind(table)
        .fetch_all(to.pool())
        .await?)
}

/// Copies `table`'s rows, a batch at a time.
async fn copy_table(
    snapshot: &mut AnyConnection,
    to: &Database,
    table: &'static str,
) -> Result<(), CopyError> {
    use futures_util::TryStreamExt;
    let in_table = |source| CopyError::Table { table, source };
    // Both databases run the same migrations: the target's columns are the source's.
    let shape = Shape::of(to, table).await.map_err(in_table)?;
    let selected: Vec<String> = shape
        .columns
        .iter()
        .map(|(name, kind)| match kind {
            // sqlx's `Any` driver cannot read SQLite's `BOOLEAN`: it travels as 0/1.
            Kind::Boolean => format!(
                "CAST(CASE WHEN {name} IS NULL THEN NULL WHEN {name} THEN 1 ELSE 0 END AS BIGINT)"
            ),
            Kind::Integer | Kind::Text => name.clone(),
        })
        .collect();
    let select = format!("SELECT {} FROM {table}", selected.join(", "));
    let mut rows = sqlx::query(&select).fetch(&mut *snapshot);
    let mut batch: Vec<Vec<Value>> = Vec::new();
    let mut bytes = 0;
    while let Some(row) = rows.try_next().await.map_err(|e| in_table(e.into()))? {
        let values = (0..row.columns().len())
            .map(|index| Value::read(&row, index))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| in_table(e.into()))?;
        bytes += values.iter().map(Value::size).sum::<usize>();
        batch.push(values);
        if batch.len() >= BATCH_ROWS || bytes >= BATCH_BYTES {
            write(to, &shape, std::mem::take(&mut batch)).await?;
            bytes = 0;
        }
    }
    if !batch.is_empty() {
        write(to, &shape, batch).await?;
    }
    Ok(())
}

/// Writes `rows` into the table `shape` describes, over any row with the same key.
async fn write(to: &Database, shape: &Shape, rows: Vec<Vec<Value>>) -> Result<(), CopyError> {
    let table = shape.table;
    let names: Vec<&str> = shape
        .columns
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    let width = names.len();
    let tuples: Vec<String> = (0..rows.len())
        .map(|row| format!("({})", placeholders(row * width + 1, width)))
        .collect();
    // PostgreSQL's identity columns take a given value only when told so.
    let overriding = match to.backend() {
        Backend::Postgres => " OVERRIDING SYSTEM VALUE",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "INSERT INTO {table} ({}){overriding} VALUES {} {}",
        names.join(", "),
        tuples.join(", "),
        shape.on_conflict()
    );
    let mut query = sqlx::query(&sql);
    for row in rows {
        for (value, (column, kind)) in row.into_iter().zip(&shape.columns) {
            query = bind(query, value, *kind).map_err(|found| CopyError::Mismatch {
                table,
                column: column.clone(),
                found,
                kind: kind.name(),
            })?;
        }
    }
    query
        .execute(to.pool())
        .await
        .map_err(|e| CopyError::Table {
            table,
            source: e.into(),
        })?;
    Ok(())
}

/// PostgreSQL's identity columns go on after the highest value copied.
async fn renumber(to: &Database) -> Result<(), DbError> {
    let identities: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::TEXT, column_name::TEXT FROM information_schema.columns
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
    )
    .fetch_all(to.pool())
    .await?;
    for (table, column) in identities {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                 COALESCE(MAX({column}), 1), MAX({column}) IS NOT NULL)::BIGINT FROM {table}"
        ))
        .execute(to.pool())
        .await?;
    }
    Ok(())
}
