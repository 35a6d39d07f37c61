//! A real SMTP receiver: aiosmtpd (Debian's `python3-aiosmtpd`) on a free loopback port, storing
//! every message it accepts in a Maildir the test reads. It stops with the value.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{E2eError, Result};

/// Debian's Python, which the package installs aiosmtpd for.
const PYTHON: &str = "/usr/bin/python3";

/// aiosmtpd on a port the system hands out, storing mail in the Maildir named by its argument;
/// it prints the port once it listens.
const RECEIVER: &str = r#"
import asyncio, sys
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP

async def main():
    handler = Mailbox(sys.argv[1])
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler), host="127.0.0.1", port=0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"#;

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
        let mut process = Command::new(PYTHON)
            .args(["-c", RECEIVER])
            .arg(&maildir)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                E2eError::context("starting aiosmtpd (apt-get install python3-aiosmtpd)", e)
            })?;
        let stdout = process
            .stdout
            .take()
            .ok_or_else(|| E2eError("aiosmtpd has no standard output".to_owned()))?;
        // The receiver prints its port once it listens: nothing to poll for.
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .await
            .map_err(|e| E2eError::context("reading aiosmtpd's port", e))?;
        let port: u16 = first.trim().parse().map_err(|_| {
            E2eError(format!(
                "aiosmtpd did not start listening on loopback (it printed {first:?})"
            ))
        })?;
        Ok(SmtpReceiver {
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            maildir,
            _process: process,
            _dir: dir,
        })
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
