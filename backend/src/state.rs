use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Database;
use crate::notifications::Outbound;
use crate::passkeys::{RelyingParty, RelyingPartyError};
use crate::recordings::{LocalFolder, RecordingStore};
use crate::trail::checkpoints;
use crate::trail::key::TrailKey;
use crate::trail::siem::Sink;
use crate::vault::MasterKey;
use crate::web::client_ip::IpNet;
use crate::web::csrf::TrustedOrigins;

/// What every handler may reach. Nothing here is state another replica would need: the
/// database holds that.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub db: Database,
    pub clock: Arc<dyn Clock>,
    pub sessions: SessionPolicy,
    pub trusted_origins: TrustedOrigins,
    pub static_dir: PathBuf,
    /// Seals and opens stored secrets.
    pub master_key: MasterKey,
    pub recordings: Arc<dyn RecordingStore>,
    pub terminal: TerminalPolicy,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Checks passkey registrations and signatures.
    pub passkeys: RelyingParty,
    /// Where notifications go besides the app.
    pub outbound: Outbound,
    /// Signs the trail's checkpoints.
    pub trail_key: Arc<TrailKey>,
    pub checkpoints: checkpoints::Policy,
    /// Where the trail is streamed besides the database.
    pub siem: Vec<Sink>,
    pub siem_client: reqwest::Client,
}

#[derive(Debug, Clone, Copy)]
pub struct TerminalPolicy {
    /// How long before its close a session is warned.
    pub warning: Duration,
    /// The longest a session may last.
    pub max_length: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused for this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, however busy.
    pub max_lifetime: Duration,
    pub cookie_secure: bool,
}

impl AppState {
    pub fn new(
        config: &Config,
        db: Database,
        clock: Arc<dyn Clock>,
        master_key: MasterKey,
        trail_key: TrailKey,
    ) -> Result<Self, RelyingPartyError> {
        let mut origins = config.trusted_origins.clone();
        origins.extend(config.public_url.clone());
        Ok(AppState(Arc::new(Shared {
            db,
            clock,
            sessions: SessionPolicy {
                idle_timeout: config.session_idle_timeout,
                max_lifetime: config.session_max_lifetime,
                cookie_secure: config.cookie_secure(),
            },
            trusted_origins: TrustedOrigins::new(origins),
            static_dir: config.static_dir.clone(),
            master_key,
            recordings: Arc::new(LocalFolder::new(config.recordings_dir.clone())),
            terminal: TerminalPolicy {
                warning: config.due_warning,
                max_length: config.terminal_max_length,
            },
            trusted_proxies: config.trusted_proxies.clone(),
            passkeys: RelyingParty::new(config.public_url.as_deref())?,
            outbound: Outbound::new(config),
            trail_key: Arc::new(trail_key),
            checkpoints: checkpoints::Policy {
                every_events: config.checkpoint_events,
                every: config.checkpoint_interval,
            },
            siem: config
                .siem_syslog
                .iter()
                .map(|address| Sink::Syslog(address.clone()))
                .chain(config.siem_url.iter().map(|url| Sink::Http(url.clone())))
                .collect(),
            siem_client: reqwest::Client::new(),
        })))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
