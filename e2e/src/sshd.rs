//! A real OpenSSH server standing in for a device: `sshd -i` run for each connection accepted on
//! a listener bound to `127.0.0.1:0`, with a throwaway host key. No port is guessed and nothing
//! outlives the test. The backend's integration tests use it too.

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Stdio;

use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::task::JoinHandle;

use crate::{E2eError, Result};

const SSHD: &str = "/usr/sbin/sshd";

pub struct Sshd {
    pub address: SocketAddr,
    /// Its host key's public half, as `ssh-ed25519 AAAA… comment`.
    pub host_key: String,
    /// What `ssh-keygen -lf` says of its host key.
    pub fingerprint: String,
    accepting: JoinHandle<()>,
    _dir: TempDir,
}

impl Sshd {
    pub async fn start() -> Result<Sshd> {
        if !Path::new(SSHD).exists() {
            return Err(E2eError(format!(
                "{SSHD} is missing: install openssh-server (`scripts/dev test` does)"
            )));
        }
        std::fs::create_dir_all("/run/sshd")
            .map_err(|error| E2eError::context("sshd's privilege-separation folder", error))?;
        let dir = tempfile::tempdir().map_err(|error| E2eError::context("sshd folder", error))?;
        let key = dir.path().join("host_ed25519");
        let key_text = key.display().to_string();
        run(
            "ssh-keygen",
            &["-q", "-t", "ed25519", "-N", "", "-f", &key_text],
        )
        .await?;
        let host_key = std::fs::read_to_string(format!("{key_text}.pub"))
            .map_err(|error| E2eError::context("sshd's public host key", error))?
            .trim()
            .to_owned();
        let listing = run("ssh-keygen", &["-l", "-f", &format!("{key_text}.pub")]).await?;
        let fingerprint = listing
            .split_whitespace()
            .nth(1)
            .ok_or_else(|| E2eError(format!("no fingerprint in `{listing}`")))?
            .to_owned();
        let config = dir.path().join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "HostKey {key_text}\nUsePAM no\nStrictModes no\nPidFile none\nLogLevel ERROR\n"
            ),
        )
        .map_err(|error| E2eError::context("sshd_config", error))?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|error| E2eError::context("binding sshd's listener", error))?;
        let address = listener
            .local_addr()
            .map_err(|error| E2eError::context("sshd's address", error))?;
        let accepting = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                if let Err(error) = serve(stream, &config) {
                    eprintln!("sshd -i: {error}");
                }
            }
        });
        Ok(Sshd {
            address,
            host_key,
            fingerprint,
            accepting,
            _dir: dir,
        })
    }
}

/// One connection, handed to `sshd -i` as its standard input and output.
fn serve(stream: tokio::net::TcpStream, config: &Path) -> Result<()> {
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
        .stdin(Stdio::from(OwnedFd::from(input)))
        .stdout(Stdio::from(OwnedFd::from(stream)))
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| E2eError::context("starting sshd -i", error))?;
    tokio::spawn(async move { child.wait().await });
    Ok(())
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
            "{program}: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    String::from_utf8(output.stdout).map_err(|error| E2eError::context(program, error))
}
