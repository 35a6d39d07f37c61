//! Inclusion and consistency proofs from the database. The proof functions of
//! `changeaudit_shared::merkle` ask for perfect subtrees one at a time and cannot wait on a
//! query, so a proof is made twice: once to learn which subtrees it needs, then, with those
//! read (stored ones from `trail_nodes`, small ones hashed from the events), for real.

use std::collections::HashMap;
use std::convert::Infallible;

use changeaudit_shared::export::event_leaf;
use changeaudit_shared::merkle::{
    self, Hash, Subtrees, consistency_proof, inclusion_proof, parse_hash,
};
use sqlx::AnyConnection;

use crate::db::DbError;
use crate::trail::checkpoints::STORED_FROM_LEVEL;

/// Notes each subtree asked for.
#[derive(Default)]
struct Wanted(Vec<(u32, u64)>);

impl Subtrees for Wanted {
    type Error = Infallible;

    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, Infallible> {
        self.0.push((level, index));
        Ok([0; 32])
    }
}

/// Answers from the subtrees read.
struct Known(HashMap<(u32, u64), Hash>);

impl Subtrees for Known {
    type Error = DbError;

    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, DbError> {
        self.0.get(&(level, index)).copied().ok_or_else(|| {
            DbError::decode(format!("subtree {index} at level {level} was not read"))
        })
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Reads the subtrees `wanted` names.
async fn read(connection: &mut AnyConnection, wanted: Wanted) -> Result<Known, DbError> {
    let mut known = HashMap::new();
    for (level, index) in wanted.0 {
        if known.contains_key(&(level, index)) {
            continue;
        }
        let hash = if level >= STORED_FROM_LEVEL {
            let text: String =
                sqlx::query_scalar("SELECT hash FROM trail_nodes WHERE level = $1 AND idx = $2")
                    .bind(i64::from(level))
                    .bind(to_i64(index))
                    .fetch_one(&mut *connection)
                    .await?;
            parse_hash(&text).ok_or_else(|| DbError::decode("a stored subtree is not hex"))?
        } else {
            // Leaves `index·2^level` to `(index+1)·2^level - 1` are events `seq` one more.
            let first = index << level;
            let hashes: Vec<String> = sqlx::query_scalar(
                "SELECT hash FROM audit_events WHERE seq > $1 AND seq <= $2 ORDER BY seq",
            )
            .bind(to_i64(first))
            .bind(to_i64(first + (1 << level)))
            .fetch_all(&mut *connection)
            .await?;
            let leaves = hashes
                .iter()
                .map(|text| parse_hash(text).map(|hash| event_leaf(&hash)))
                .collect::<Option<Vec<Hash>>>()
                .ok_or_else(|| DbError::decode("an event's hash is not hex"))?;
            if leaves.len() != 1 << level {
                return Err(DbError::decode("events are missing under a checkpoint"));
            }
            merkle::root(&leaves)
        };
        known.insert((level, index), hash);
    }
    Ok(Known(known))
}

/// The audit path of event `seq` in the tree of the first `size` events.
pub async fn inclusion(
    connection: &mut AnyConnection,
    seq: u64,
    size: u64,
) -> Result<Vec<Hash>, DbError> {
    let index = seq - 1;
    let mut wanted = Wanted::default();
    let Ok(_) = inclusion_proof(&mut wanted, index, size);
    let mut known = read(connection, wanted).await?;
    inclusion_proof(&mut known, index, size)
}

/// The proof that the tree of the first `old` events is a prefix of that of the first `new`.
pub async fn consistency(
    connection: &mut AnyConnection,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, DbError> {
    let mut wanted = Wanted::default();
    let Ok(_) = consistency_proof(&mut wanted, old, new);
    let mut known = read(connection, wanted).await?;
    consistency_proof(&mut known, old, new)
}
