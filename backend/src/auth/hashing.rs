//! The threads that compute Argon2id, one per core (two at least), each with Argon2's 19 MiB
//! of working memory allocated once and used for every hash it computes.
//!
//! Why not the runtime's blocking pool: each hash there allocated and freed 19 MiB, and the
//! allocator kept what was freed (glibc raises its threshold for handing large blocks back to
//! the system after the first is freed). A sign-in flood left the server hundreds of MiB larger
//! than before it. Here the memory is `workers × 19 MiB`, whatever comes.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, LazyLock, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use changeaudit_shared::constant_time;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};

/// Jobs waiting for a worker beyond those being worked on. Sign-ins come through the `Gate`,
/// which lets no more in than there are workers; setting a password is rare. A full queue is
/// answered at once as busy, never waited for.
const QUEUE: usize = 16;
/// The most Argon2 memory one hash may take (four times the default): a stored hash asking
/// for more is refused rather than kept in memory for good.
const MOST_BLOCKS: usize = 4 * Params::DEFAULT_M_COST as usize;

/// Why no answer came.
#[derive(Debug)]
pub enum Unanswered {
    /// The queue is full.
    Busy,
    /// No worker is running, or the work failed; says what.
    Failed(String),
}

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
    /// The sign-in gate's place, given back only once the hash is done, so that a client who
    /// leaves mid-check does not free a place while its hash still runs.
    _place: Option<OwnedSemaphorePermit>,
}

static WORKERS: LazyLock<Option<mpsc::Sender<Job>>> = LazyLock::new(start);

fn start() -> Option<mpsc::Sender<Job>> {
    let count = std::thread::available_parallelism().map_or(2, |cores| cores.get().max(2));
    let (jobs, queue) = mpsc::channel::<Job>(QUEUE);
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
fn work(queue: &Mutex<mpsc::Receiver<Job>>) {
    let mut memory = vec![Block::default(); Params::DEFAULT_M_COST as usize];
    loop {
        // The lock is held only while waiting for the next job, never while hashing.
        let next = match queue.lock() {
            Ok(mut queue) => queue.blocking_recv(),
            Err(_) => return,
        };
        let Some(Job {
            work,
            reply,
            _place,
        }) = next
        else {
            return;
        };
        // Its asker has gone (the client left): no one would read the answer.
        if reply.is_closed() {
            continue;
        }
        // A panic in one hash must not take the worker, and with it a core's sign-ins.
        let answered = catch_unwind(AssertUnwindSafe(|| match work {
            Work::Hash(password) => Answer::Hashed(hash(&mut memory, &password)),
            Work::Verify(password, stored) => {
                Answer::Verified(verify(&mut memory, &password, &stored))
            }
        }));
        match answered {
            Ok(answer) => {
                reply.send(answer).ok();
            }
            Err(_) => tracing::error!("a password hash panicked; its sign-in is refused"),
        }
    }
}

/// Sends `work` to a worker and waits for its answer.
async fn run(work: Work, place: Option<OwnedSemaphorePermit>) -> Result<Answer, Unanswered> {
    let workers = WORKERS
        .as_ref()
        .ok_or_else(|| Unanswered::Failed("no password-hashing thread is running".to_owned()))?;
    let (reply, answer) = oneshot::channel();
    let job = Job {
        work,
        reply,
        _place: place,
    };
    workers.try_send(job).map_err(|error| match error {
        TrySendError::Full(_) => Unanswered::Busy,
        TrySendError::Closed(_) => {
            Unanswered::Failed("the password-hashing threads have stopped".to_owned())
        }
    })?;
    answer
        .await
        .map_err(|_| Unanswered::Failed("the password hash was not computed".to_owned()))
}

/// A new argon2id hash of `password` in PHC form, with the default (OWASP) parameters.
pub async fn hash_password(password: SecretString) -> Result<String, Unanswered> {
    match run(Work::Hash(password), None).await? {
        Answer::Hashed(hashed) => hashed.map_err(Unanswered::Failed),
        Answer::Verified(_) => Err(Unanswered::Failed("a verification answered".to_owned())),
    }
}

/// Whether `password` matches the PHC hash `stored`; `place` is the gate's, held until done.
pub async fn password_matches(
    password: SecretString,
    stored: String,
    place: OwnedSemaphorePermit,
) -> Result<bool, Unanswered> {
    match run(Work::Verify(password, stored), Some(place)).await? {
        Answer::Verified(matches) => Ok(matches),
        Answer::Hashed(_) => Err(Unanswered::Failed("a hash answered".to_owned())),
    }
}

/// The blocks a hash with `params` works in, grown once if needed; `None` past `MOST_BLOCKS`.
fn memory_for(memory: &mut Vec<Block>, params: &Params) -> Option<usize> {
    let needed = params.block_count();
    if needed > MOST_BLOCKS {
        return None;
    }
    if memory.len() < needed {
        memory.resize(needed, Block::default());
    }
    Some(needed)
}

fn hash(memory: &mut Vec<Block>, password: &SecretString) -> Result<String, String> {
    let params = Params::default();
    let salt = crate::random::bytes::<16>();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let blocks = memory_for(memory, &params).ok_or("the default parameters are too large")?;
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
    let Some(blocks) = memory_for(memory, &params) else {
        tracing::warn!("a stored password hash asks for more memory than allowed");
        return false;
    };
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.expose_secret().as_bytes(),
        salt.as_ref(),
        &mut out,
        &mut memory[..blocks],
    );
    computed.is_ok() && constant_time::equal(&out, expected.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    #[tokio::test]
    async fn its_hashes_are_standard_argon2id_and_verify_both_ways() {
        let ours = hash_password(SecretString::from("correct horse"))
            .await
            .unwrap_or_else(|error| panic!("{error:?}"));
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
        let matches = |password: &'static str, stored: String| async move {
            let place = Arc::new(tokio::sync::Semaphore::new(1))
                .acquire_owned()
                .await
                .unwrap_or_else(|error| panic!("{error}"));
            password_matches(SecretString::from(password), stored, place).await
        };
        assert!(matches!(
            matches("battery staple", theirs.clone()).await,
            Ok(true)
        ));
        assert!(matches!(matches("battery stable", theirs).await, Ok(false)));
        assert!(matches!(
            matches("x", "not a hash".to_owned()).await,
            Ok(false)
        ));
    }
}
