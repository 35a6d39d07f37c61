//! Fetching a device's SSH host key: the key exchange is run just far enough to see the key
//! the server proves it holds, then the connection is dropped without authenticating.

use std::sync::Arc;
use std::time::Duration;

use changeaudit_shared::api::devices::HostKeyScan;
use changeaudit_shared::host_key::Fingerprint;
use russh::client;
use russh::keys::{PublicKey, PublicKeyOrCertificate};
use tokio::sync::oneshot;

const SCAN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a key could not be fetched, in words fit for the admin: the libraries' own text goes
/// to the log.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("could not reach {address}: {reason}")]
    Unreachable {
        address: String,
        reason: &'static str,
    },
    #[error("{address} did not present a host key within {seconds} s")]
    TimedOut { address: String, seconds: u64 },
    #[error("{address} presented a host key changeaudit cannot read")]
    Unreadable { address: String },
}

/// The reason to show for a failed connection.
pub(crate) fn reason(error: &russh::Error) -> &'static str {
    use std::io::ErrorKind;
    match error {
        russh::Error::IO(io) => match io.kind() {
            ErrorKind::ConnectionRefused => "the connection was refused",
            ErrorKind::TimedOut => "the connection timed out",
            ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => "no route to the host",
            ErrorKind::NotFound => "the host name is unknown",
            _ => "the connection failed",
        },
        _ => "it does not speak SSH, or no key exchange was agreed",
    }
}

/// Receives the key during the exchange and refuses to go on: nothing is trusted here.
struct KeyCatcher(Option<oneshot::Sender<PublicKey>>);

impl client::Handler for KeyCatcher {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        presented: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = presented_key(presented);
        if let Some(sender) = self.0.take() {
            // The receiver waits for exactly this; if it has gone, so has the request.
            sender.send(key).ok();
        }
        Ok(false)
    }
}

/// The key a server presented; a certificate stands for the key it certifies, the only thing
/// a device is pinned to.
pub(crate) fn presented_key(presented: &PublicKeyOrCertificate) -> PublicKey {
    match presented {
        PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
        PublicKeyOrCertificate::Certificate(certificate) => {
            PublicKey::new(certificate.public_key().clone(), "")
        }
    }
}

/// `host:port`, with an IPv6 address in brackets, for messages.
pub(crate) fn address(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

pub async fn fetch_host_key(host: &str, port: u16) -> Result<HostKeyScan, ScanError> {
    let address = address(host, port);
    let (sender, receiver) = oneshot::channel();
    let config = Arc::new(client::Config::default());
    let target = (host.trim_matches(['[', ']']).to_owned(), port);
    let exchange = async {
        // Refusing the key ends the connection with an error, which is the expected outcome.
        let outcome = client::connect(config, target, KeyCatcher(Some(sender))).await;
        match receiver.await {
            Ok(key) => Ok(key),
            Err(_) => {
                let reason = match &outcome {
                    Err(error) => {
                        tracing::info!(address, %error, "host-key fetch failed");
                        reason(error)
                    }
                    Ok(_) => "it accepted no key exchange",
                };
                Err(ScanError::Unreachable {
                    address: address.clone(),
                    reason,
                })
            }
        }
    };
    let key = tokio::time::timeout(SCAN_TIMEOUT, exchange)
        .await
        .map_err(|_| ScanError::TimedOut {
            address: address.clone(),
            seconds: SCAN_TIMEOUT.as_secs(),
        })??;
    let unreadable = |error: &dyn std::fmt::Display| {
        tracing::info!(address, %error, "host key cannot be encoded");
        ScanError::Unreadable {
            address: address.clone(),
        }
    };
    let public_key = key.to_openssh().map_err(|error| unreadable(&error))?;
    let fingerprint = Fingerprint::parse(&public_key).map_err(|error| unreadable(&error))?;
    Ok(HostKeyScan {
        algorithm: key.algorithm().as_str().to_owned(),
        fingerprint: fingerprint.to_string(),
        public_key,
    })
}
