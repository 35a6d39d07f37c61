//! Replicas that know each other. Each registers itself in the database with the address its
//! peers reach it at and a heartbeat (`registry`); a session names the replica that runs it, so
//! a watcher on any other replica is relayed its live recording from there (`relay`), over a
//! listener apart from the public one, every request signed with the cluster's secret
//! (`signing`). Nothing here is needed for the answer to be right, only for it to be live: a
//! replica that cannot be reached is read through the recording store instead.

pub mod peers;
pub mod registry;
pub mod relay;
pub mod signing;

use std::time::Duration;

use secrecy::SecretString;

use crate::config::ClusterConfig;
use crate::random;

/// This replica among its peers.
pub struct Cluster {
    /// Its name in the registry: new at every start, so a restarted replica is a new one.
    pub replica: String,
    /// Where its peers reach its cluster listener, when it has one.
    pub address: Option<String>,
    /// What its peers' requests are signed with; none: it neither asks nor answers them.
    secret: Option<SecretString>,
    client: reqwest::Client,
}

/// How long a peer has to take the connection.
const CONNECT_WITHIN: Duration = Duration::from_secs(2);

impl Cluster {
    pub fn new(config: &ClusterConfig) -> Result<Cluster, reqwest::Error> {
        Ok(Cluster {
            replica: hex::encode(random::bytes::<8>()),
            address: config.url.clone(),
            secret: config.secret.clone(),
            // No overall timeout: a relayed recording streams for as long as its session runs.
            // Straight to the peer: never through a proxy from the environment, never
            // redirected elsewhere with the signature and the recording.
            client: reqwest::Client::builder()
                .connect_timeout(CONNECT_WITHIN)
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        })
    }

    fn secret(&self) -> Option<&SecretString> {
        self.secret.as_ref()
    }
}
