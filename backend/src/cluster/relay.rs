//! Asking a peer for the live recording of a session it runs: a signed `GET` whose answer is
//! the recording's bytes as they are written, until the session ends.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::{Cluster, signing};
use crate::clock::Timestamp;

/// How long a peer has to answer a request's head.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// The path of a session's live recording on the replica running it.
pub fn recording_path(session: i64, from: u64) -> String {
    format!("/cluster/v1/sessions/{session}/recording?from={from}")
}

/// Why a peer could not be followed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("this replica has no cluster secret to sign its request with")]
    NoSecret,
    #[error("the peer at {address} did not answer within {ANSWER_WITHIN:?}")]
    Silent { address: String },
    #[error("the peer at {address}: {source}")]
    Peer {
        address: String,
        source: reqwest::Error,
    },
}

/// Session `session`'s recording from byte `from`, as the replica at `address` writes it.
pub async fn follow(
    cluster: &Cluster,
    address: &str,
    session: i64,
    from: u64,
    now: Timestamp,
) -> Result<BoxStream<'static, io::Result<Bytes>>, RelayError> {
    let path = recording_path(session, from);
    let signature = cluster
        .secret()
        .and_then(|secret| signing::sign(secret, now, &path))
        .ok_or(RelayError::NoSecret)?;
    let peer = |source| RelayError::Peer {
        address: address.to_owned(),
        source,
    };
    let asking = cluster
        .client
        .get(format!("{address}{path}"))
        .header(signing::HEADER, signature)
        .send();
    let response = tokio::time::timeout(ANSWER_WITHIN, asking)
        .await
        .map_err(|_| RelayError::Silent {
            address: address.to_owned(),
        })?
        .and_then(reqwest::Response::error_for_status)
        .map_err(peer)?;
    Ok(response
        .bytes_stream()
        .map(|piece| piece.map_err(io::Error::other))
        .boxed())
}
