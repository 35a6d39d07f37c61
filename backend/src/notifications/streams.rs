//! How many event streams each person has open on this replica: each holds a connection and
//! a poll of the database, so one person cannot open them without end. Counted per replica,
//! as connections are; another replica needs none of it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Streams {
    open: Arc<Mutex<HashMap<i64, usize>>>,
    per_person: usize,
}

/// One open stream; closing it (dropping this) makes room.
#[derive(Debug)]
pub struct Open {
    open: Arc<Mutex<HashMap<i64, usize>>>,
    user_id: i64,
}

impl Streams {
    pub fn new(per_person: usize) -> Streams {
        Streams {
            open: Arc::default(),
            per_person,
        }
    }

    pub fn per_person(&self) -> usize {
        self.per_person
    }

    /// A place for one more stream of `user_id`, unless they have the most already.
    pub fn open(&self, user_id: i64) -> Option<Open> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(user_id).or_default();
        if *count >= self.per_person {
            return None;
        }
        *count += 1;
        Some(Open {
            open: self.open.clone(),
            user_id,
        })
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&self.user_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_has_at_most_their_share_and_closing_makes_room() {
        let streams = Streams::new(2);
        let first = streams.open(7).unwrap();
        let _second = streams.open(7).unwrap();
        assert!(streams.open(7).is_none());
        assert!(streams.open(8).is_some());
        drop(first);
        assert!(streams.open(7).is_some());
    }
}
