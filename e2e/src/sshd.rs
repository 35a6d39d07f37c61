//! A real OpenSSH server standing in for a device: `sshd -i` run for each connection accepted on
//! a listener bound to `127.0.0.1:0`, with a throwaway host key. No port is guessed and nothing
//! outlives the test. The backend's integration tests use it too.
//!
//! Two accounts log in to it: `PASSWORD_USER` with `password` and `KEY_USER` with the key in
//! `client_key`. Both run bash with a plain `$ ` prompt; `Sshd::with_shell_integration` also
//! loads changeaudit's shell-integration script and accepts the session's nonce, as an admin
//! would set a device up (`Sshd::with_shell_integration_without_nonce` leaves `AcceptEnv` out).

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::task::JoinHandle;

use crate::{E2eError, Result};

const SSHD: &str = "/usr/sbin/sshd";
/// Local accounts made once on the test machine. The password account's password is random,
/// made once for the machine and kept root-only (test processes running at once share it), and
/// the key account has none: only a test's own sshd takes the key a test holds.
pub const PASSWORD_USER: &str = "changeaudit-pw";
pub const KEY_USER: &str = "changeaudit-key";

/// The shell every login gets: no user start-up files, so the screen is the same everywhere.
const PLAIN_RC: &str = "PS1='$ '\nunset PROMPT_COMMAND\n";

pub struct Sshd {
    pub address: SocketAddr,
    /// Its host key's public half, as `ssh-ed25519 AAAA… comment`.
    pub host_key: String,
    /// What `ssh-keygen -lf` says of its host key.
    pub fingerprint: String,
    /// The private key `KEY_USER` logs in with, in OpenSSH format.
    pub client_key: String,
    /// `PASSWORD_USER`'s password.
    pub password: String,
    /// The process group of each connection's sshd, to cut them all.
    connections: Arc<Mutex<Vec<u32>>>,
    accepting: JoinHandle<()>,
    _dir: TempDir,
}

impl Sshd {
    pub async fn start() -> Result<Sshd> {
        Sshd::launch(false, false).await
    }

    /// A server whose logins load the shell-integration script and receive the session's nonce.
    pub async fn with_shell_integration() -> Result<Sshd> {
        Sshd::launch(true, true).await
    }

    /// A server whose logins load the shell-integration script but whose sshd drops the nonce.
    pub async fn with_shell_integration_without_nonce() -> Result<Sshd> {
        Sshd::launch(true, false).await
    }

    async fn launch(shell_integration: bool, accept_nonce: bool) -> Result<Sshd> {
        if !Path::new(SSHD).exists() {
            return Err(E2eError(format!(
                "{SSHD} is missing: install openssh-server (`scripts/dev test` does)"
            )));
        }
        std::fs::create_dir_all("/run/sshd")
            .map_err(|error| E2eError::context("sshd's privilege-separation folder", error))?;
        let password = ensure_accounts().await?;
        let dir = tempfile::tempdir().map_err(|error| E2eError::context("sshd folder", error))?;
        // The accounts read their start-up file and authorized keys from here.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|error| E2eError::context("sshd folder", error))?;
        let path = |name: &str| dir.path().join(name);
        let write = |name: &str, text: &str| {
            std::fs::write(path(name), text).map_err(|error| E2eError::context(name, error))
        };

        let (host_key, fingerprint) = keypair(&path("host_ed25519")).await?;
        let (client_public, _) = keypair(&path("client_ed25519")).await?;
        let client_key = std::fs::read_to_string(path("client_ed25519"))
            .map_err(|error| E2eError::context("client key", error))?;
        write("authorized_keys", &format!("{client_public}\n"))?;

        let mut rc = PLAIN_RC.to_owned();
        if shell_integration {
            let script = workspace_root().join("contrib/shell-integration/changeaudit.sh");
            rc.push_str(&format!(". {}\n", script.display()));
        }
        write("bashrc", &rc)?;
        write(
            "sshd_config",
            &format!(
                "HostKey {host}\nUsePAM no\nStrictModes no\nPidFile none\nLogLevel ERROR\n\
                 AllowUsers {PASSWORD_USER} {KEY_USER}\nPasswordAuthentication yes\n\
                 AuthorizedKeysFile {keys}\nClientAliveInterval 0\n\
                 ForceCommand exec /bin/bash --noprofile --rcfile {rc} -i\n{accept}",
                accept = if accept_nonce {
                    "AcceptEnv CHANGEAUDIT_NONCE\n"
                } else {
                    ""
                },
                host = path("host_ed25519").display(),
                keys = path("authorized_keys").display(),
                rc = path("bashrc").display(),
            ),
        )?;
        let config = path("sshd_config");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|error| E2eError::context("binding sshd's listener", error))?;
        let address = listener
            .local_addr()
            .map_err(|error| E2eError::context("sshd's address", error))?;
        let connections = Arc::new(Mutex::new(Vec::new()));
        let groups = connections.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                match serve(stream, &config) {
                    Ok(group) => groups.lock().unwrap_or_else(|e| e.into_inner()).push(group),
                    Err(error) => eprintln!("sshd -i: {error}"),
                }
            }
        });
        Ok(Sshd {
            address,
            host_key,
            fingerprint,
            client_key,
            password,
            connections,
            accepting,
            _dir: dir,
        })
    }

    /// Kills every connection's sshd at once, as a crash of the device would.
    pub async fn kill_connections(&self) -> Result<()> {
        let groups: Vec<u32> = std::mem::take(
            &mut *self
                .connections
                .lock()
                .unwrap_or_else(|error| error.into_inner()),
        );
        for group in groups {
            // The group may be gone already: the connection ended.
            Command::new("kill")
                .args(["-KILL", "--", &format!("-{group}")])
                .stderr(Stdio::null())
                .status()
                .await
                .map_err(|error| E2eError::context("kill", error))?;
        }
        Ok(())
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default()
}

/// Makes an ed25519 key pair at `path`; answers its public half and fingerprint.
async fn keypair(path: &Path) -> Result<(String, String)> {
    let text = path.display().to_string();
    run(
        "ssh-keygen",
        &["-q", "-t", "ed25519", "-N", "", "-f", &text],
    )
    .await?;
    let public = std::fs::read_to_string(format!("{text}.pub"))
        .map_err(|error| E2eError::context("public key", error))?
        .trim()
        .to_owned();
    let listing = run("ssh-keygen", &["-l", "-f", &format!("{text}.pub")]).await?;
    let fingerprint = listing
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| E2eError(format!("no fingerprint in `{listing}`")))?
        .to_owned();
    Ok((public, fingerprint))
}

/// Where the password account's password is kept for every test process on the machine, and
/// the lock they take to read or make it (root's only: the folder is 0700).
const SHARED_DIR: &str = "/var/lib/changeaudit-tests";

/// Makes the two test accounts if they are missing, and answers the password account's
/// password. Test processes that run at once share one: each giving the account a password of
/// its own would refuse the others' logins. The first process makes it (random, kept in a
/// root-only file); the others, under a lock, read it.
async fn ensure_accounts() -> Result<String> {
    static PASSWORD: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    PASSWORD
        .get_or_try_init(|| async {
            for user in [PASSWORD_USER, KEY_USER] {
                let exists = Command::new("id")
                    .arg(user)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .await
                    .map_err(|error| E2eError::context("id", error))?
                    .success();
                if !exists {
                    run("useradd", &["--create-home", "--shell", "/bin/bash", user]).await?;
                }
            }
            // A locked account (`!`) is refused even with a key; `*` only forbids passwords.
            run("usermod", &["-p", "*", KEY_USER]).await?;
            let lock = shared_lock()?;
            let kept = Path::new(SHARED_DIR).join("password");
            let password = match std::fs::read_to_string(&kept) {
                Ok(password) if !password.trim().is_empty() => password.trim().to_owned(),
                _ => {
                    let password = random_password()?;
                    keep(&kept, &password)?;
                    password
                }
            };
            // Set again each time: the same password leaves running tests alone, and repairs an
            // account something else gave another.
            set_password(&password).await?;
            drop(lock);
            Ok(password)
        })
        .await
        .cloned()
}

/// The machine-wide lock of the shared password, held until dropped.
fn shared_lock() -> Result<std::fs::File> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(SHARED_DIR)
        .map_err(|error| E2eError::context(SHARED_DIR, error))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(Path::new(SHARED_DIR).join("lock"))
        .map_err(|error| E2eError::context("the test password's lock", error))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|error| E2eError::context("locking the test password", error))?;
    Ok(file)
}

/// Writes the shared password, readable by root only.
fn keep(path: &Path, password: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(password.as_bytes()))
        .map_err(|error| E2eError::context("keeping the test password", error))
}

/// Gives the password account `password`.
async fn set_password(password: &str) -> Result<()> {
    let mut chpasswd = Command::new("chpasswd")
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|error| E2eError::context("chpasswd", error))?;
    if let Some(mut stdin) = chpasswd.stdin.take() {
        use tokio::io::AsyncWriteExt;
        stdin
            .write_all(format!("{PASSWORD_USER}:{password}\n").as_bytes())
            .await
            .map_err(|error| E2eError::context("chpasswd", error))?;
    }
    let status = chpasswd
        .wait()
        .await
        .map_err(|error| E2eError::context("chpasswd", error))?;
    if !status.success() {
        return Err(E2eError(format!("chpasswd failed: {status}")));
    }
    Ok(())
}

/// 32 hex digits from the kernel's random source.
fn random_password() -> Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .map_err(|error| E2eError::context("/dev/urandom", error))?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// One connection, handed to `sshd -i` as its standard input and output, in a process group
/// of its own; answers that group.
fn serve(stream: tokio::net::TcpStream, config: &Path) -> Result<u32> {
    let stream = stream
        .into_std()
        .map_err(|error| E2eError::context("connection", error))?;
    stream
        .set_nonblocking(false)
        .map_err(|error| E2eError::context("connection", error))?;
    let input = stream
        .try_clone()
        .map_err(|error| E2eError::context("connection", error))?;
    let mut child = Command::new(SSHD)
        .arg("-i")
        .arg("-f")
        .arg(config)
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(input)))
        .stdout(Stdio::from(std::os::fd::OwnedFd::from(stream)))
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| E2eError::context("starting sshd -i", error))?;
    let group = child
        .id()
        .ok_or_else(|| E2eError("sshd -i exited at once".to_owned()))?;
    tokio::spawn(async move { child.wait().await });
    Ok(group)
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn run(program: &str, args: &[&str]) -> Result<String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .await
        .map_err(|error| E2eError::context(program, error))?;
    if !output.status.success() {
        return Err(E2eError(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    String::from_utf8(output.stdout).map_err(|error| E2eError::context(program, error))
}
