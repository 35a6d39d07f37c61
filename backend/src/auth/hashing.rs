//! The threads that compute Argon2id, one per core (two at least), each with Argon2's 19 MiB
//! of working memory allocated once and used for every hash it computes.
//!
//! Why not the runtime's blocking pool: each hash there allocated and freed 19 MiB, and the
//! allocator kept what was freed (glibc raises its threshold for handing large blocks back to
//! the system after the first is freed). A sign-in flood left the server hundreds of MiB larger
//! than before it. Here the memory is `workers × 19 MiB`, whatever comes.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, LazyLock, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::oneshot;

/// Jobs waiting for a worker beyond those being worked on; the `Gate` in front keeps this
/// short for sign-ins, and setting passwords is rare.
const QUEUE: usize = 64;

enum Work {
    Hash(SecretString),
    Verify(SecretString, String),
}

enum Answer {
    Hashed(Result<String, String>),
    Verified(bool),
}

struct Job {
    work: Work,
    reply: oneshot::Sender<Answer>,
}

static WORKERS: LazyLock<Option<SyncSender<Job>>> = LazyLock::new(start);

fn start() -> Option<SyncSender<Job>> {
    let count = std::thread::available_parallelism().map_or(2, |cores| cores.get().max(2));
    let (jobs, queue) = sync_channel::<Job>(QUEUE);
    let queue = Arc::new(Mutex::new(queue));
    let mut started = 0;
    for n in 0..count {
        let queue = queue.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("password-hashing-{n}"))
            .spawn(move || work(&queue));
        match spawned {
            Ok(_) => started += 1,
            Err(error) => tracing::error!(%error, "starting a password-hashing thread"),
        }
    }
    (started > 0).then_some(jobs)
}

/// A worker: takes jobs until the server stops, hashing in the same memory each time.
fn work(queue: &Mutex<Receiver<Job>>) {
    let mut memory = vec![Block::default(); Params::DEFAULT_M_COST as usize];
    loop {
        // The lock is held only while waiting for the next job, never while hashing.
        let next = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(Job { work, reply }) = next else {
            return;
        };
        let answer = match work {
            Work::Hash(password) => Answer::Hashed(hash(&mut memory, &password)),
            Work::Verify(password, stored) => {
                Answer::Verified(verify(&mut memory, &password, &stored))
            }
        };
        // The asker may have gone (its client left); nothing to do then.
        reply.send(answer).ok();
    }
}

/// Sends `work` to a worker and waits for its answer; `None` if no worker could take it.
async fn run(work: Work) -> Option<Answer> {
    let workers = WORKERS.as_ref()?;
    let (reply, answer) = oneshot::channel();
    let job = Job { work, reply };
    let workers = workers.clone();
    // The queue is bounded: wait for room off the runtime's threads.
    tokio::task::spawn_blocking(move || workers.send(job).ok())
        .await
        .ok()??;
    answer.await.ok()
}

/// A new argon2id hash of `password` in PHC form, with the default (OWASP) parameters.
pub async fn hash_password(password: SecretString) -> Result<String, String> {
    match run(Work::Hash(password)).await {
        Some(Answer::Hashed(hashed)) => hashed,
        _ => Err("no password-hashing thread answered".to_owned()),
    }
}

/// Whether `password` matches the PHC hash `stored`.
pub async fn password_matches(password: SecretString, stored: String) -> Result<bool, String> {
    match run(Work::Verify(password, stored)).await {
        Some(Answer::Verified(matches)) => Ok(matches),
        _ => Err("no password-hashing thread answered".to_owned()),
    }
}

fn memory_for(memory: &mut Vec<Block>, params: &Params) -> usize {
    let needed = params.block_count();
    if memory.len() < needed {
        memory.resize(needed, Block::default());
    }
    needed
}

fn hash(memory: &mut Vec<Block>, password: &SecretString) -> Result<String, String> {
    let params = Params::default();
    let salt = crate::random::bytes::<16>();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let blocks = memory_for(memory, &params);
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    argon2
        .hash_password_into_with_memory(
            password.expose_secret().as_bytes(),
            &salt,
            &mut out,
            &mut memory[..blocks],
        )
        .map_err(|error| error.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|error| error.to_string())?,
        salt: Some(Salt::new(&salt).map_err(|error| error.to_string())?),
        hash: Some(Output::new(&out).map_err(|error| error.to_string())?),
    };
    Ok(phc.to_string())
}

fn verify(memory: &mut Vec<Block>, password: &SecretString, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) = (
        Params::try_from(&parsed),
        Algorithm::try_from(parsed.algorithm.as_str()),
    ) else {
        return false;
    };
    let version = parsed
        .version
        .map_or(Ok(Version::default()), Version::try_from);
    let (Ok(version), Some(salt), Some(expected)) = (version, &parsed.salt, &parsed.hash) else {
        return false;
    };
    let mut out = vec![0u8; expected.as_bytes().len()];
    let blocks = memory_for(memory, &params);
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.expose_secret().as_bytes(),
        salt.as_ref(),
        &mut out,
        &mut memory[..blocks],
    );
    computed.is_ok() && constant_time_eq(&out, expected.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |differ, (x, y)| differ | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    #[tokio::test]
    async fn its_hashes_are_standard_argon2id_and_verify_both_ways() {
        let ours = hash_password(SecretString::from("correct horse"))
            .await
            .unwrap_or_default();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        // The argon2 crate's own verifier agrees with ours…
        let parsed = PasswordHash::new(&ours).unwrap_or_else(|error| panic!("{error}"));
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        // …and ours checks a hash the crate made.
        let theirs = argon2::PasswordHasher::hash_password_with_salt(
            &Argon2::default(),
            b"battery staple",
            b"saltsaltsaltsalt",
        )
        .map(|hash| hash.to_string())
        .unwrap_or_default();
        assert!(
            password_matches(SecretString::from("battery staple"), theirs.clone())
                .await
                .unwrap_or(false)
        );
        assert!(
            !password_matches(SecretString::from("battery stable"), theirs)
                .await
                .unwrap_or(true)
        );
        assert!(
            !password_matches(SecretString::from("x"), "not a hash".to_owned())
                .await
                .unwrap_or(true)
        );
    }
}
