use std::ops::Deref;
use std::path::PathBuf;

use axum::http::HeaderValue;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use crate::auth::password;
use crate::auth::session::SessionPolicy;
use crate::clock::Clock;
use crate::cluster::Cluster;
use crate::config::Config;
use crate::db::Database;
use crate::notifications::Outbound;
use crate::notifications::streams::Streams;
use crate::passkeys::{RelyingParty, RelyingPartyError};
use crate::recordings::{self, RecordingStore};
use crate::terminal::watchdog::Watchdog;
use crate::trail::checkpoints;
use crate::trail::key::TrailKey;
use crate::trail::siem::Sink;
use crate::vault::MasterKey;
use crate::web::client_ip::TrustedProxies;
use crate::web::csrf::TrustedOrigins;
use crate::web::spa::{self, WebApp};

/// What every handler may reach. Nothing here is state another replica would need: the
/// database holds that.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub db: Database,
    pub clock: Arc<dyn Clock>,
    pub sessions: SessionPolicy,
    pub trusted_origins: Arc<TrustedOrigins>,
    /// The built web app, from a folder or the binary.
    pub web_app: WebApp,
    /// The Content-Security-Policy of the app's pages (their inline scripts by hash).
    pub content_security_policy: HeaderValue,
    /// Seals and opens stored secrets.
    pub master_key: MasterKey,
    pub recordings: Arc<dyn RecordingStore>,
    pub terminal: TerminalPolicy,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// How long an API answer may take (`web::deadline`).
    pub answer_deadline: Duration,
    /// Checks passkey registrations and signatures.
    pub passkeys: RelyingParty,
    /// Where notifications go besides the app.
    pub outbound: Outbound,
    /// Signs the trail's checkpoints.
    pub trail_key: Arc<TrailKey>,
    /// Beside it, `<file>.first.pub`: the trail's first public key (`trail::rotation`).
    pub trail_key_file: PathBuf,
    pub checkpoints: checkpoints::Policy,
    /// Where the trail is streamed besides the database.
    pub siem: Vec<Sink>,
    pub siem_client: reqwest::Client,
    /// Sign-ins' password checks, a few at a time (this replica's cores).
    pub hashing: password::Gate,
    /// The event streams open on this replica, per person.
    pub streams: Streams,
    /// This replica's running sessions, asked about together.
    pub watchdog: Watchdog,
    /// This replica among its peers.
    pub cluster: Cluster,
}

#[derive(Debug, Clone, Copy)]
pub struct TerminalPolicy {
    /// How long before its close a session is warned.
    pub warning: Duration,
    /// The longest a session may last.
    pub max_length: Duration,
    /// The most a session may record, in bytes.
    pub recording_limit: u64,
    /// The free space on the recordings' volume below which no session starts.
    pub free_floor: u64,
    /// The most terminal sessions one person may have running at once.
    pub per_person: u64,
}

/// Why the server's state could not be made from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Passkeys(#[from] RelyingPartyError),
    #[error("the recording store (recordings_url): {0}")]
    Recordings(std::io::Error),
    #[error("the client for peer replicas: {0}")]
    Cluster(reqwest::Error),
}

impl AppState {
    pub fn new(
        config: &Config,
        db: Database,
        clock: Arc<dyn Clock>,
        master_key: MasterKey,
        trail_key: TrailKey,
    ) -> Result<Self, StateError> {
        let mut origins = config.server.trusted_origins.clone();
        origins.extend(config.server.public_url.clone());
        let web_app = WebApp::chosen(config.server.static_dir.as_deref());
        let sessions = SessionPolicy {
            idle_timeout: config.sessions.idle_timeout,
            max_lifetime: config.sessions.max_lifetime,
            cookie_secure: config.cookie_secure(),
            trust_forwarded_proto: config.server.trust_forwarded_proto,
        };
        let recordings =
            recordings::open(&config.terminal.recordings).map_err(StateError::Recordings)?;
        let watchdog = Watchdog::new(
            db.clone(),
            Arc::clone(&clock),
            sessions,
            Arc::clone(&recordings),
            config.terminal.free_floor,
        );
        Ok(AppState(Arc::new(Shared {
            db,
            clock,
            sessions,
            trusted_origins: Arc::new(TrustedOrigins::new(origins)),
            web_app: web_app.clone(),
            content_security_policy: spa::content_security_policy(&web_app),
            master_key,
            recordings,
            terminal: TerminalPolicy {
                warning: config.terminal.due_warning,
                max_length: config.terminal.max_length,
                recording_limit: config.terminal.recording_limit,
                free_floor: config.terminal.free_floor,
                per_person: config.terminal.per_person,
            },
            trusted_proxies: config.server.trusted_proxies.clone(),
            answer_deadline: config.server.answer_deadline,
            passkeys: RelyingParty::new(config.server.public_url.as_deref())?,
            outbound: Outbound::new(&config.notifications, config.server.public_url.clone()),
            trail_key: Arc::new(trail_key),
            trail_key_file: config.trail.key_file.clone(),
            checkpoints: checkpoints::Policy {
                every_events: config.trail.checkpoint_events,
                every: config.trail.checkpoint_interval,
            },
            siem: config
                .siem
                .syslog
                .iter()
                .map(|address| Sink::Syslog(address.clone()))
                .chain(config.siem.url.iter().map(|url| Sink::Http {
                    url: url.clone(),
                    authorization: config.siem.authorization.clone(),
                }))
                .collect(),
            siem_client: reqwest::Client::new(),
            hashing: password::Gate::for_this_machine(),
            streams: Streams::new(
                usize::try_from(config.sessions.streams_per_person).unwrap_or(usize::MAX),
            ),
            watchdog,
            cluster: Cluster::new(&config.cluster).map_err(StateError::Cluster)?,
        })))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl TrustedProxies for AppState {
    fn trusted_proxies(&self) -> &[IpNet] {
        &self.trusted_proxies
    }
}
