//! A real SMTP receiver: aiosmtpd (Debian's `python3-aiosmtpd`) on a free loopback port, storing
//! every message it accepts in a Maildir the test reads. It stops with the value.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

use crate::{E2eError, Result};

/// Debian's Python, which the package installs aiosmtpd for.
const PYTHON: &str = "/usr/bin/python3";

pub struct SmtpReceiver {
    pub address: SocketAddr,
    maildir: PathBuf,
    _process: Child,
    _dir: TempDir,
}

/// A message as received: its headers and body, as text.
#[derive(Debug, Clone)]
pub struct Mail {
    pub raw: String,
}

impl Mail {
    /// The value of header `name` (first line only).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.raw.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

impl SmtpReceiver {
    pub async fn start() -> Result<SmtpReceiver> {
        let dir = tempfile::tempdir().map_err(|e| E2eError::context("temporary folder", e))?;
        let maildir = dir.path().join("mail");
        // aiosmtpd takes a port, not a listener: it gets one the system just handed out, and
        // another if something else took it first.
        for _ in 0..5 {
            let address = {
                let probe = TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(|e| E2eError::context("finding a free port", e))?;
                probe
                    .local_addr()
                    .map_err(|e| E2eError::context("reading the free port", e))?
            };
            let mut process = Command::new(PYTHON)
                .args(["-m", "aiosmtpd", "-n", "-l"])
                .arg(address.to_string())
                .args(["-c", "aiosmtpd.handlers.Mailbox"])
                .arg(&maildir)
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| {
                    E2eError::context("starting aiosmtpd (apt-get install python3-aiosmtpd)", e)
                })?;
            for _ in 0..100 {
                if process
                    .try_wait()
                    .map_err(|e| E2eError::context("watching aiosmtpd", e))?
                    .is_some()
                {
                    break;
                }
                if TcpStream::connect(address).await.is_ok() {
                    return Ok(SmtpReceiver {
                        address,
                        maildir,
                        _process: process,
                        _dir: dir,
                    });
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Err(E2eError(
            "aiosmtpd did not start listening on loopback in five tries".to_owned(),
        ))
    }

    /// `smtp://` URL of the receiver, for `CHANGEAUDIT_SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.address)
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Result<Vec<Mail>> {
        let mut paths = Vec::new();
        for folder in ["new", "cur"] {
            let path = self.maildir.join(folder);
            if !Path::new(&path).exists() {
                continue;
            }
            for entry in
                std::fs::read_dir(&path).map_err(|e| E2eError::context("reading the Maildir", e))?
            {
                let entry = entry.map_err(|e| E2eError::context("reading the Maildir", e))?;
                let modified = entry
                    .metadata()
                    .and_then(|meta| meta.modified())
                    .map_err(|e| E2eError::context("reading a message's time", e))?;
                paths.push((modified, entry.path()));
            }
        }
        paths.sort();
        paths
            .into_iter()
            .map(|(_, path)| {
                std::fs::read_to_string(&path)
                    .map(|raw| Mail { raw })
                    .map_err(|e| E2eError::context("reading a message", e))
            })
            .collect()
    }
}
