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

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("could not reach {address}: {reason}")]
    Unreachable { address: String, reason: String },
    #[error("{address} did not present a host key within {seconds} s")]
    TimedOut { address: String, seconds: u64 },
    #[error("{address} presented a key that cannot be encoded: {reason}")]
    Encoding { address: String, reason: String },
}

/// Receives the key during the exchange and refuses to go on: nothing is trusted here.
struct KeyCatcher(Option<oneshot::Sender<PublicKey>>);

impl client::Handler for KeyCatcher {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        presented: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match presented {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(certificate) => {
                PublicKey::new(certificate.public_key().clone(), "")
            }
        };
        if let Some(sender) = self.0.take() {
            // The receiver waits for exactly this; if it has gone, so has the request.
            sender.send(key).ok();
        }
        Ok(false)
    }
}

pub async fn fetch_host_key(host: &str, port: u16) -> Result<HostKeyScan, ScanError> {
    let address = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let (sender, receiver) = oneshot::channel();
    let config = Arc::new(client::Config::default());
    let target = (host.trim_matches(['[', ']']).to_owned(), port);
    let exchange = async {
        // Refusing the key ends the connection with an error, which is the expected outcome.
        let outcome = client::connect(config, target, KeyCatcher(Some(sender))).await;
        match receiver.await {
            Ok(key) => Ok(key),
            Err(_) => Err(ScanError::Unreachable {
                address: address.clone(),
                reason: match outcome {
                    Err(error) => error.to_string(),
                    Ok(_) => "the server accepted no key exchange".to_owned(),
                },
            }),
        }
    };
    let key = tokio::time::timeout(SCAN_TIMEOUT, exchange)
        .await
        .map_err(|_| ScanError::TimedOut {
            address: address.clone(),
            seconds: SCAN_TIMEOUT.as_secs(),
        })??;
    let public_key = key.to_openssh().map_err(|error| ScanError::Encoding {
        address: address.clone(),
        reason: error.to_string(),
    })?;
    let fingerprint = Fingerprint::parse(&public_key).map_err(|reason| ScanError::Encoding {
        address,
        reason: reason.to_owned(),
    })?;
    Ok(HostKeyScan {
        algorithm: key.algorithm().as_str().to_owned(),
        fingerprint: fingerprint.to_string(),
        public_key,
    })
}
