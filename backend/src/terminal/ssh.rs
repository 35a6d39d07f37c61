//! The broker's side of SSH: connect to the device, accept only its pinned host key, log in
//! with the vaulted secret and open a shell on a pseudo-terminal the size of the browser's.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use changeaudit_shared::api::credentials::SecretKind;
use changeaudit_shared::host_key::Fingerprint;
use russh::client::{self, Handle, Msg};
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate, decode_secret_key};
use russh::{Channel, Disconnect};
use tokio::io::BufReader;
use tokio::net::TcpStream;

use crate::devices::scan::{address, presented_key, reason};
use secrecy::{ExposeSecret, SecretString};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// What is read from the device's socket at once: several SSH packets of output.
const READ_BUFFER: usize = 32 * 1024;
/// Without a word from the device this often, a keep-alive is sent; three unanswered end it.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// The variable the shell integration reads the session's nonce from.
pub const NONCE_VARIABLE: &str = "CHANGEAUDIT_NONCE";

pub const TERM: &str = "xterm-256color";

/// Where and as whom to log in.
pub struct Target {
    pub host: String,
    pub port: u16,
    pub pinned: String,
    pub account: String,
    pub kind: SecretKind,
    pub secret: SecretString,
}

/// Why no shell was opened, in words for the person at the terminal. The libraries' own text
/// goes to the log.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("Could not reach {address}: {reason}.")]
    Unreachable {
        address: String,
        reason: &'static str,
    },
    #[error(
        "The device presented host key {presented}, not the pinned {pinned}: the connection was \
         refused. If the device's key really changed, an admin must pin the new one."
    )]
    HostKeyMismatch { presented: String, pinned: String },
    #[error("The device refused the credential for {account}: ask an admin to check it.")]
    AuthenticationFailed { account: String },
    #[error("The stored private key cannot be read: ask an admin to set it again.")]
    UnreadableKey,
    #[error("The device would not open a shell: {0}.")]
    NoShell(&'static str),
}

/// Checks the presented host key against the pinned fingerprint, remembering a wrong one.
struct Pinned {
    pinned: Fingerprint,
    presented: Arc<Mutex<Option<Fingerprint>>>,
}

impl client::Handler for Pinned {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        presented: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let blob = presented_key(presented)
            .to_bytes()
            .map_err(russh::Error::from)?;
        let fingerprint = Fingerprint::of_key_blob(&blob);
        if fingerprint == self.pinned {
            return Ok(true);
        }
        *self
            .presented
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(fingerprint);
        Ok(false)
    }
}

pub struct Connection {
    handle: Handle<Pinned>,
}

pub async fn connect(target: &Target) -> Result<Connection, SshError> {
    let address = address(&target.host, target.port);
    let pinned = Fingerprint::parse(&target.pinned).map_err(|_| SshError::HostKeyMismatch {
        presented: "(not checked)".to_owned(),
        pinned: target.pinned.clone(),
    })?;
    let presented = Arc::new(Mutex::new(None));
    let handler = Pinned {
        pinned: pinned.clone(),
        presented: presented.clone(),
    };
    let config = Arc::new(client::Config {
        keepalive_interval: Some(KEEPALIVE),
        keepalive_max: 3,
        // Bounds what is buffered between the device and the browser: a slow browser slows
        // the device instead of filling memory.
        channel_buffer_size: 8,
        ..Default::default()
    });
    let connecting = async {
        let stream = TcpStream::connect((target.host.as_str(), target.port)).await?;
        // Keystrokes go out at once.
        stream.set_nodelay(true)?;
        // The SSH layer reads each packet in two or more small reads; a buffer takes what the
        // socket holds in one, a fraction of the system calls under bulk output.
        let stream = BufReader::with_capacity(READ_BUFFER, stream);
        client::connect_stream(config, stream, handler).await
    };
    let outcome = tokio::time::timeout(CONNECT_TIMEOUT, connecting).await;
    let wrong_key = presented
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take();
    if let Some(presented) = wrong_key {
        return Err(SshError::HostKeyMismatch {
            presented: presented.to_string(),
            pinned: pinned.to_string(),
        });
    }
    let handle = match outcome {
        Err(_) => {
            return Err(SshError::Unreachable {
                address,
                reason: "no answer within 15 seconds",
            });
        }
        Ok(Err(error)) => {
            tracing::info!(address, %error, "SSH connection failed");
            return Err(SshError::Unreachable {
                address,
                reason: reason(&error),
            });
        }
        Ok(Ok(handle)) => handle,
    };
    let mut connection = Connection { handle };
    connection.authenticate(target).await?;
    Ok(connection)
}

impl Connection {
    async fn authenticate(&mut self, target: &Target) -> Result<(), SshError> {
        let refused = || SshError::AuthenticationFailed {
            account: target.account.clone(),
        };
        let result = match target.kind {
            SecretKind::Password => {
                self.handle
                    .authenticate_password(target.account.clone(), target.secret.expose_secret())
                    .await
            }
            SecretKind::PrivateKey => {
                let key = decode_secret_key(target.secret.expose_secret(), None)
                    .map_err(|_| SshError::UnreadableKey)?;
                let hash = self
                    .handle
                    .best_supported_rsa_hash()
                    .await
                    .ok()
                    .flatten()
                    .flatten();
                self.handle
                    .authenticate_publickey(
                        target.account.clone(),
                        PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                    )
                    .await
            }
        };
        match result {
            Ok(outcome) if outcome.success() => Ok(()),
            Ok(_) => Err(refused()),
            Err(error) => {
                tracing::info!(%error, "SSH authentication failed");
                Err(refused())
            }
        }
    }

    /// A login shell on a pseudo-terminal of `cols` × `rows`, offered `nonce` for its
    /// shell-integration marks (as `CHANGEAUDIT_NONCE`, which the device's sshd passes on only
    /// when it accepts that variable).
    pub async fn shell(&self, cols: u16, rows: u16, nonce: &str) -> Result<Channel<Msg>, SshError> {
        let fail = |what: &'static str| {
            move |error: russh::Error| {
                tracing::info!(%error, "{what}");
                SshError::NoShell(what)
            }
        };
        let channel = self
            .handle
            .channel_open_session()
            .await
            .map_err(fail("the session channel was refused"))?;
        channel
            .set_env(false, NONCE_VARIABLE, nonce)
            .await
            .map_err(fail("the environment was refused"))?;
        channel
            .request_pty(true, TERM, cols.into(), rows.into(), 0, 0, &[])
            .await
            .map_err(fail("the pseudo-terminal was refused"))?;
        channel
            .request_shell(true)
            .await
            .map_err(fail("the shell was refused"))?;
        Ok(channel)
    }

    pub async fn close(&self) {
        // The device may be gone already; closing is then done.
        self.handle
            .disconnect(Disconnect::ByApplication, "session ended", "en")
            .await
            .ok();
    }
}
