//! The keys as read, checked and completed with defaults into the sections the server uses.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};

use super::keys::{Keys, variable};
use super::{
    ClusterConfig, Config, ConfigError, DatabaseConfig, MIN_ADMIN_PASSWORD_CHARS,
    MIN_CLUSTER_SECRET_CHARS, NotificationsConfig, ObjectStorage, RecordingsAt, ServerConfig,
    SessionsConfig, SiemConfig, TerminalConfig, TrailConfig,
};

impl Keys {
    pub(super) fn resolve(self) -> Result<Config, ConfigError> {
        let data_dir = self
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("data"));
        Ok(Config {
            sessions: sessions(&self)?,
            terminal: terminal(&self, &data_dir)?,
            trail: trail(&self, &data_dir)?,
            siem: siem(&self)?,
            cluster: cluster(&self)?,
            notifications: notifications(&self)?,
            database: database(&self, &data_dir)?,
            server: server(self, data_dir)?,
        })
    }
}

fn server(keys: Keys, data_dir: PathBuf) -> Result<ServerConfig, ConfigError> {
    let trusted_proxies = keys
        .trusted_proxies
        .unwrap_or_default()
        .iter()
        .map(|text| parse_network(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| invalid("trusted_proxies", &error))?;
    if let Some(url) = &keys.public_url {
        check_public_url(url)?;
    }
    Ok(ServerConfig {
        listen: keys
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        data_dir,
        static_dir: keys.static_dir,
        public_url: keys
            .public_url
            .map(|url| url.trim_end_matches('/').to_owned()),
        trusted_origins: keys.trusted_origins.unwrap_or_default(),
        trusted_proxies,
        trust_forwarded_proto: keys.trust_forwarded_proto.unwrap_or(false),
        answer_deadline: Duration::from_secs(at_least_one(
            "answer_deadline_seconds",
            keys.answer_deadline_seconds,
            30,
        )?),
        log: keys.log.unwrap_or_else(|| "info".to_owned()),
    })
}

/// Passkeys are bound to a host name, so an address people reach by IP cannot carry them.
fn check_public_url(url: &str) -> Result<(), ConfigError> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(invalid("public_url", "must start with http:// or https://"));
    }
    match url::Url::parse(url).ok().as_ref().and_then(url::Url::host) {
        Some(url::Host::Domain(_)) => Ok(()),
        _ => Err(invalid(
            "public_url",
            "passkeys need a host name (such as https://changeaudit.example.com), not an IP address",
        )),
    }
}

fn database(keys: &Keys, data_dir: &Path) -> Result<DatabaseConfig, ConfigError> {
    if let Some(password) = &keys.admin_password
        && password.expose_secret().chars().count() < MIN_ADMIN_PASSWORD_CHARS
    {
        return Err(invalid(
            "admin_password",
            "must be at least 12 characters long",
        ));
    }
    Ok(DatabaseConfig {
        url: keys.database_url.clone().unwrap_or_else(|| {
            SecretString::from(format!(
                "sqlite://{}",
                data_dir.join("changeaudit.db").display()
            ))
        }),
        admin_password: keys.admin_password.clone(),
        master_key: keys.master_key.clone(),
        master_key_file: keys
            .master_key_file
            .clone()
            .unwrap_or_else(|| data_dir.join("master.key")),
    })
}

fn sessions(keys: &Keys) -> Result<SessionsConfig, ConfigError> {
    let idle_minutes = at_least_one("session_idle_minutes", keys.session_idle_minutes, 30)?;
    let max_hours = at_least_one("session_max_hours", keys.session_max_hours, 12)?;
    Ok(SessionsConfig {
        streams_per_person: at_least_one("streams_per_person", keys.streams_per_person, 8)?,
        idle_timeout: minutes(idle_minutes),
        max_lifetime: Duration::from_secs(max_hours.saturating_mul(3600)),
    })
}

fn terminal(keys: &Keys, data_dir: &Path) -> Result<TerminalConfig, ConfigError> {
    let max_minutes = at_least_one("terminal_max_minutes", keys.terminal_max_minutes, 8 * 60)?;
    Ok(TerminalConfig {
        recordings: recordings(keys, data_dir)?,
        due_warning: minutes(keys.due_warning_minutes.unwrap_or(10)),
        max_length: minutes(max_minutes),
        recording_limit: at_least_one("recording_max_mib", keys.recording_max_mib, 2048)?
            .saturating_mul(1 << 20),
        free_floor: keys
            .recordings_min_free_mib
            .unwrap_or(256)
            .saturating_mul(1 << 20),
        per_person: at_least_one("terminals_per_person", keys.terminals_per_person, 4)?,
    })
}

/// `recordings_url` (or the older `recordings_dir`), and for `s3://` the bucket's settings.
fn recordings(keys: &Keys, data_dir: &Path) -> Result<RecordingsAt, ConfigError> {
    let url = match (&keys.recordings_url, &keys.recordings_dir) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "recordings_url",
                "set it or recordings_dir, not both",
            ));
        }
        (None, Some(dir)) => return Ok(RecordingsAt::Folder(dir.clone())),
        (None, None) => return Ok(RecordingsAt::Folder(data_dir.join("recordings"))),
        (Some(url), None) => url,
    };
    let parsed =
        url::Url::parse(url).map_err(|error| invalid("recordings_url", &error.to_string()))?;
    match parsed.scheme() {
        "file" if parsed.host_str().is_none_or(str::is_empty) => parsed
            .to_file_path()
            .map(RecordingsAt::Folder)
            .map_err(|()| {
                invalid(
                    "recordings_url",
                    "a file:// URL must name an absolute folder",
                )
            }),
        "s3" => {
            let bucket = parsed.host_str().unwrap_or_default();
            if bucket.is_empty() {
                return Err(invalid(
                    "recordings_url",
                    "an s3:// URL must name a bucket: s3://bucket/prefix",
                ));
            }
            if let Some(endpoint) = &keys.s3_endpoint
                && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
            {
                return Err(invalid(
                    "s3_endpoint",
                    "must start with http:// or https://",
                ));
            }
            Ok(RecordingsAt::Objects(ObjectStorage {
                bucket: bucket.to_owned(),
                prefix: parsed.path().trim_matches('/').to_owned(),
                endpoint: keys.s3_endpoint.clone(),
                region: keys.s3_region.clone(),
                path_style: keys.s3_path_style,
                access_key_id: keys.s3_access_key_id.clone(),
                secret_access_key: keys.s3_secret_access_key.clone(),
                spool_dir: keys
                    .recordings_spool_dir
                    .clone()
                    .unwrap_or_else(|| data_dir.join("spool")),
            }))
        }
        _ => Err(invalid(
            "recordings_url",
            "must be file:///folder or s3://bucket/prefix",
        )),
    }
}

fn notifications(keys: &Keys) -> Result<NotificationsConfig, ConfigError> {
    if let Some(url) = &keys.smtp_url
        && !(url.expose_secret().starts_with("smtp://")
            || url.expose_secret().starts_with("smtps://"))
    {
        return Err(invalid("smtp_url", "must start with smtp:// or smtps://"));
    }
    check_http_url("webhook_url", keys.webhook_url.as_ref())?;
    if keys.webhook_url.is_some() && keys.webhook_secret.is_none() {
        return Err(invalid(
            "webhook_secret",
            "is required with webhook_url: receivers check each call's signature with it",
        ));
    }
    Ok(NotificationsConfig {
        smtp_url: keys.smtp_url.clone(),
        smtp_from: keys
            .smtp_from
            .clone()
            .unwrap_or_else(|| "changeaudit <changeaudit@localhost>".to_owned()),
        webhook_url: keys.webhook_url.clone(),
        webhook_secret: keys.webhook_secret.clone(),
    })
}

fn trail(keys: &Keys, data_dir: &Path) -> Result<TrailConfig, ConfigError> {
    Ok(TrailConfig {
        key_file: keys
            .trail_key_file
            .clone()
            .unwrap_or_else(|| data_dir.join("trail.key")),
        checkpoint_events: at_least_one("checkpoint_events", keys.checkpoint_events, 1000)?,
        checkpoint_interval: Duration::from_secs(at_least_one(
            "checkpoint_seconds",
            keys.checkpoint_seconds,
            60,
        )?),
    })
}

fn siem(keys: &Keys) -> Result<SiemConfig, ConfigError> {
    if let Some(address) = &keys.siem_syslog
        && address
            .rsplit_once(':')
            .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
    {
        return Err(invalid("siem_syslog", "must be host:port"));
    }
    check_http_url("siem_url", keys.siem_url.as_ref())?;
    if let Some(header) = &keys.siem_authorization {
        if keys.siem_url.is_none() {
            return Err(invalid(
                "siem_authorization",
                "is sent to siem_url, which is not set",
            ));
        }
        let text = header.expose_secret();
        if text.trim().is_empty() || !text.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
            return Err(invalid(
                "siem_authorization",
                "must be a header value: printable ASCII, such as `Bearer <token>`",
            ));
        }
    }
    Ok(SiemConfig {
        syslog: keys.siem_syslog.clone(),
        url: keys.siem_url.clone(),
        authorization: keys.siem_authorization.clone(),
    })
}

/// A replica that takes its peers' requests needs the secret they sign with, and an address
/// they can reach: one listening on every address must say which.
fn cluster(keys: &Keys) -> Result<ClusterConfig, ConfigError> {
    if let Some(secret) = &keys.cluster_secret
        && secret.expose_secret().chars().count() < MIN_CLUSTER_SECRET_CHARS
    {
        return Err(invalid(
            "cluster_secret",
            &format!("must be at least {MIN_CLUSTER_SECRET_CHARS} characters"),
        ));
    }
    if let Some(url) = &keys.cluster_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(invalid(
                "cluster_url",
                "must start with http:// or https://",
            ));
        }
        if keys.cluster_listen.is_none() {
            return Err(invalid(
                "cluster_url",
                "is where cluster_listen is reached, which is not set",
            ));
        }
    }
    if keys.cluster_listen.is_some_and(|listen| listen.port() == 0) {
        return Err(invalid(
            "cluster_listen",
            "must name a port: peers are told where to reach it",
        ));
    }
    if keys.cluster_listen.is_some() && keys.cluster_secret.is_none() {
        return Err(invalid(
            "cluster_secret",
            "is required with cluster_listen: peers sign their requests with it",
        ));
    }
    let url = match (keys.cluster_listen, &keys.cluster_url) {
        (None, _) => None,
        (Some(_), Some(url)) => Some(url.trim_end_matches('/').to_owned()),
        (Some(listen), None) if listen.ip().is_unspecified() => {
            return Err(invalid(
                "cluster_url",
                "is required when cluster_listen takes every address: say where peers reach it",
            ));
        }
        (Some(listen), None) => Some(format!("http://{listen}")),
    };
    Ok(ClusterConfig {
        listen: keys.cluster_listen,
        url,
        secret: keys.cluster_secret.clone(),
    })
}

fn check_http_url(key: &str, url: Option<&SecretString>) -> Result<(), ConfigError> {
    match url.map(ExposeSecret::expose_secret) {
        Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
            Err(invalid(key, "must start with http:// or https://"))
        }
        _ => Ok(()),
    }
}

fn at_least_one(key: &str, value: Option<u64>, default: u64) -> Result<u64, ConfigError> {
    match value.unwrap_or(default) {
        0 => Err(invalid(key, "must be at least 1")),
        value => Ok(value),
    }
}

fn minutes(count: u64) -> Duration {
    Duration::from_secs(count.saturating_mul(60))
}

fn invalid(key: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        name: format!("{key} ({})", variable(key)),
        message: message.to_owned(),
    }
}

/// An address or a network in CIDR notation, e.g. `10.0.0.0/8` or `::1`; an IPv4 address
/// written as IPv6 (`::ffff:a.b.c.d`) is the IPv4 address.
pub fn parse_network(text: &str) -> Result<IpNet, String> {
    let refuse = || format!("`{text}` is not an IP address or a network such as 10.0.0.0/8");
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let address = match address.trim().parse::<IpAddr>().map_err(|_| refuse())? {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let bits = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => bits,
        Some(prefix) => prefix
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|prefix| *prefix <= bits)
            .ok_or_else(refuse)?,
    };
    IpNet::new(address, prefix).map_err(|_| refuse())
}
