//! The trail's keys as a verifier follows them. The first is the one the auditor trusts, kept
//! apart from the server. Each next key is announced by a `trail.key_rotated` event (its public
//! key, its ID, and the ID of the key it follows), and takes over only once a checkpoint of the
//! key before it has signed that announcement. A checkpoint signed by any other key is refused:
//! a key comes in only through an announcement the key in force signed.

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;
use serde_json::Value;

use super::keys::{checkpoint_signed, public_key};
use crate::export::{Checkpoint, key_id};

/// The event that announces the next key.
pub const ROTATION: &str = "trail.key_rotated";

/// A key announced, not yet in force.
struct Announced {
    seq: i64,
    id: String,
    key: VerifyingKey,
}

pub struct KeyChain {
    current: (String, VerifyingKey),
    announced: Option<Announced>,
    /// Every key in force so far, by ID.
    known: HashMap<String, VerifyingKey>,
    rotations: u64,
}

impl KeyChain {
    pub fn new(first: VerifyingKey) -> KeyChain {
        let id = key_id(&first.to_bytes());
        KeyChain {
            known: HashMap::from([(id.clone(), first)]),
            current: (id, first),
            announced: None,
            rotations: 0,
        }
    }

    /// The key in force now, by ID.
    pub fn current_id(&self) -> &str {
        &self.current.0
    }

    /// How many times the key changed.
    pub fn rotations(&self) -> u64 {
        self.rotations
    }

    /// A key the chain has had in force, by ID.
    pub fn known(&self, id: &str) -> Option<&VerifyingKey> {
        self.known.get(id)
    }

    /// Takes the announcement of event `seq`, whose details name the next key.
    pub fn announce(&mut self, seq: i64, details: &Value) -> Result<(), String> {
        let text = |field: &str| details[field].as_str().unwrap_or_default().to_owned();
        let key = public_key(&text("public_key"))
            .map_err(|reason| format!("it announces a trail key that is {reason}"))?;
        let id = key_id(&key.to_bytes());
        if text("key_id") != id {
            return Err(format!(
                "it announces key {id} under another ID, {}",
                text("key_id")
            ));
        }
        if text("previous_key_id") != self.current.0 {
            return Err(format!(
                "it announces a key to follow key {}, but the trail's key is {}",
                text("previous_key_id"),
                self.current.0
            ));
        }
        if text("previous_public_key") != crate::trail::hex(&self.current.1.to_bytes()) {
            return Err(format!(
                "it announces a key to follow a public key other than the trail's key {}",
                self.current.0
            ));
        }
        if let Some(pending) = &self.announced {
            return Err(format!(
                "it announces another key while key {} is still waiting to be signed in",
                pending.id
            ));
        }
        self.announced = Some(Announced { seq, id, key });
        Ok(())
    }

    /// Checks `checkpoint`'s key and signature; once the key in force has signed an
    /// announcement, the announced key takes over.
    pub fn checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<(), String> {
        let (current_id, current) = &self.current;
        if checkpoint.key_id != *current_id {
            return Err(match &self.announced {
                Some(pending) if pending.id == checkpoint.key_id => format!(
                    "its checkpoint is signed by the announced key {} before a checkpoint of key {current_id} signed the announcement",
                    pending.id
                ),
                _ if self.rotations == 0 => format!(
                    "its checkpoint is signed by key {}, not by the given key {current_id}",
                    checkpoint.key_id
                ),
                _ => format!(
                    "its checkpoint is signed by key {}, which no key before it announced (the trail's key is {current_id})",
                    checkpoint.key_id
                ),
            });
        }
        if !checkpoint_signed(current, checkpoint) {
            return Err("its checkpoint's signature does not verify".to_owned());
        }
        let signed_in = self.announced.as_ref().is_some_and(|pending| {
            u64::try_from(pending.seq).is_ok_and(|seq| seq <= checkpoint.tree_size)
        });
        if signed_in && let Some(next) = self.announced.take() {
            self.known.insert(next.id.clone(), next.key);
            self.current = (next.id, next.key);
            self.rotations += 1;
        }
        Ok(())
    }
}
