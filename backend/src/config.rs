//! Configuration: defaults, then an optional TOML file, then `CHANGEAUDIT_*` variables.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use crate::secret::Secret;
use crate::web::client_ip::IpNet;

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Holds the SQLite database and the recordings unless configured elsewhere.
    pub data_dir: PathBuf,
    pub database_url: Secret<String>,
    /// The first admin's password; generated and printed once when absent.
    pub admin_password: Option<Secret<String>>,
    /// The master key that seals stored secrets, as 32 bytes in base64; when absent, the key
    /// file is used (and created on first run).
    pub master_key: Option<Secret<String>>,
    pub master_key_file: PathBuf,
    /// The built single-page app (Trunk's output).
    pub static_dir: PathBuf,
    /// The address people use, e.g. `https://changeaudit.example.com`; an `https` URL marks the
    /// session cookie `Secure`, and its origin is trusted for state-changing requests.
    pub public_url: Option<String>,
    /// Further origins allowed to send state-changing requests (besides the server's own).
    pub trusted_origins: Vec<String>,
    pub session_idle_timeout: Duration,
    pub session_max_lifetime: Duration,
    /// Where session recordings are written.
    pub recordings_dir: PathBuf,
    /// Proxies whose `X-Forwarded-For` names the client; anyone else's is ignored.
    pub trusted_proxies: Vec<IpNet>,
    /// How long before a change's due date its sessions are warned.
    pub due_warning: Duration,
    /// The longest a terminal session may last, whatever the change's window.
    pub terminal_max_length: Duration,
    /// Where e-mail goes out: `smtp://host:port` (plain; `?tls=required` for STARTTLS),
    /// `smtps://host:port` (TLS), with `user:password@` when the server wants a login. No e-mail
    /// without it.
    pub smtp_url: Option<Secret<String>>,
    /// The sender of changeaudit's e-mail.
    pub smtp_from: String,
    /// Where each notification is also POSTed as JSON; none without it.
    pub webhook_url: Option<String>,
    /// The key of the webhook's HMAC-SHA256 signature header.
    pub webhook_secret: Option<Secret<String>>,
    /// The trail's Ed25519 signing key (created with its `.pub` on first run). Every replica
    /// needs the same one.
    pub trail_key_file: PathBuf,
    /// A checkpoint is signed once this many events are new…
    pub checkpoint_events: u64,
    /// …or once this long has passed with any new event.
    pub checkpoint_interval: Duration,
    /// A syslog collector (`host:port`, TCP) the trail is streamed to, RFC 5424.
    pub siem_syslog: Option<String>,
    /// An HTTP endpoint the trail is streamed to as JSON.
    pub siem_url: Option<String>,
    /// A tracing filter such as `info` or `info,sqlx=warn`.
    pub log: String,
}

/// The variables read, in the order the README lists them.
pub const ENV_VARS: [&str; 26] = [
    "CHANGEAUDIT_CONFIG",
    "CHANGEAUDIT_LISTEN",
    "CHANGEAUDIT_DATA_DIR",
    "CHANGEAUDIT_DATABASE_URL",
    "CHANGEAUDIT_ADMIN_PASSWORD",
    "CHANGEAUDIT_MASTER_KEY",
    "CHANGEAUDIT_MASTER_KEY_FILE",
    "CHANGEAUDIT_STATIC_DIR",
    "CHANGEAUDIT_PUBLIC_URL",
    "CHANGEAUDIT_TRUSTED_ORIGINS",
    "CHANGEAUDIT_SESSION_IDLE_MINUTES",
    "CHANGEAUDIT_SESSION_MAX_HOURS",
    "CHANGEAUDIT_RECORDINGS_DIR",
    "CHANGEAUDIT_TRUSTED_PROXIES",
    "CHANGEAUDIT_DUE_WARNING_MINUTES",
    "CHANGEAUDIT_TERMINAL_MAX_MINUTES",
    "CHANGEAUDIT_SMTP_URL",
    "CHANGEAUDIT_SMTP_FROM",
    "CHANGEAUDIT_WEBHOOK_URL",
    "CHANGEAUDIT_WEBHOOK_SECRET",
    "CHANGEAUDIT_TRAIL_KEY_FILE",
    "CHANGEAUDIT_CHECKPOINT_EVENTS",
    "CHANGEAUDIT_CHECKPOINT_SECONDS",
    "CHANGEAUDIT_SIEM_SYSLOG",
    "CHANGEAUDIT_SIEM_URL",
    "CHANGEAUDIT_LOG",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{name}: {message}")]
    Invalid { name: String, message: String },
}

/// One layer of settings; every field optional so layers can be stacked.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layer {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<Secret<String>>,
    admin_password: Option<Secret<String>>,
    master_key: Option<Secret<String>>,
    master_key_file: Option<PathBuf>,
    static_dir: Option<PathBuf>,
    public_url: Option<String>,
    trusted_origins: Option<Vec<String>>,
    session_idle_minutes: Option<u64>,
    session_max_hours: Option<u64>,
    recordings_dir: Option<PathBuf>,
    trusted_proxies: Option<Vec<String>>,
    due_warning_minutes: Option<u64>,
    terminal_max_minutes: Option<u64>,
    smtp_url: Option<Secret<String>>,
    smtp_from: Option<String>,
    webhook_url: Option<String>,
    webhook_secret: Option<Secret<String>>,
    trail_key_file: Option<PathBuf>,
    checkpoint_events: Option<u64>,
    checkpoint_seconds: Option<u64>,
    siem_syslog: Option<String>,
    siem_url: Option<String>,
    log: Option<String>,
}

impl Layer {
    fn over(self, base: Layer) -> Layer {
        Layer {
            listen: self.listen.or(base.listen),
            data_dir: self.data_dir.or(base.data_dir),
            database_url: self.database_url.or(base.database_url),
            admin_password: self.admin_password.or(base.admin_password),
            master_key: self.master_key.or(base.master_key),
            master_key_file: self.master_key_file.or(base.master_key_file),
            static_dir: self.static_dir.or(base.static_dir),
            public_url: self.public_url.or(base.public_url),
            trusted_origins: self.trusted_origins.or(base.trusted_origins),
            session_idle_minutes: self.session_idle_minutes.or(base.session_idle_minutes),
            session_max_hours: self.session_max_hours.or(base.session_max_hours),
            recordings_dir: self.recordings_dir.or(base.recordings_dir),
            trusted_proxies: self.trusted_proxies.or(base.trusted_proxies),
            due_warning_minutes: self.due_warning_minutes.or(base.due_warning_minutes),
            terminal_max_minutes: self.terminal_max_minutes.or(base.terminal_max_minutes),
            smtp_url: self.smtp_url.or(base.smtp_url),
            smtp_from: self.smtp_from.or(base.smtp_from),
            webhook_url: self.webhook_url.or(base.webhook_url),
            webhook_secret: self.webhook_secret.or(base.webhook_secret),
            trail_key_file: self.trail_key_file.or(base.trail_key_file),
            checkpoint_events: self.checkpoint_events.or(base.checkpoint_events),
            checkpoint_seconds: self.checkpoint_seconds.or(base.checkpoint_seconds),
            siem_syslog: self.siem_syslog.or(base.siem_syslog),
            siem_url: self.siem_url.or(base.siem_url),
            log: self.log.or(base.log),
        }
    }

    fn from_file(path: &Path) -> Result<Layer, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|error| ConfigError::File {
            path: path.to_owned(),
            message: error.message().to_owned(),
        })
    }

    fn from_env(env: &HashMap<String, String>) -> Result<Layer, ConfigError> {
        let text = |name: &str| env.get(name).filter(|value| !value.is_empty()).cloned();
        Ok(Layer {
            listen: parse_var(env, "CHANGEAUDIT_LISTEN")?,
            data_dir: text("CHANGEAUDIT_DATA_DIR").map(PathBuf::from),
            database_url: text("CHANGEAUDIT_DATABASE_URL").map(Secret::new),
            admin_password: text("CHANGEAUDIT_ADMIN_PASSWORD").map(Secret::new),
            master_key: text("CHANGEAUDIT_MASTER_KEY").map(Secret::new),
            master_key_file: text("CHANGEAUDIT_MASTER_KEY_FILE").map(PathBuf::from),
            static_dir: text("CHANGEAUDIT_STATIC_DIR").map(PathBuf::from),
            public_url: text("CHANGEAUDIT_PUBLIC_URL"),
            trusted_origins: text("CHANGEAUDIT_TRUSTED_ORIGINS").map(|list| comma_list(&list)),
            session_idle_minutes: parse_var(env, "CHANGEAUDIT_SESSION_IDLE_MINUTES")?,
            session_max_hours: parse_var(env, "CHANGEAUDIT_SESSION_MAX_HOURS")?,
            recordings_dir: text("CHANGEAUDIT_RECORDINGS_DIR").map(PathBuf::from),
            trusted_proxies: text("CHANGEAUDIT_TRUSTED_PROXIES").map(|list| comma_list(&list)),
            due_warning_minutes: parse_var(env, "CHANGEAUDIT_DUE_WARNING_MINUTES")?,
            terminal_max_minutes: parse_var(env, "CHANGEAUDIT_TERMINAL_MAX_MINUTES")?,
            smtp_url: text("CHANGEAUDIT_SMTP_URL").map(Secret::new),
            smtp_from: text("CHANGEAUDIT_SMTP_FROM"),
            webhook_url: text("CHANGEAUDIT_WEBHOOK_URL"),
            webhook_secret: text("CHANGEAUDIT_WEBHOOK_SECRET").map(Secret::new),
            trail_key_file: text("CHANGEAUDIT_TRAIL_KEY_FILE").map(PathBuf::from),
            checkpoint_events: parse_var(env, "CHANGEAUDIT_CHECKPOINT_EVENTS")?,
            checkpoint_seconds: parse_var(env, "CHANGEAUDIT_CHECKPOINT_SECONDS")?,
            siem_syslog: text("CHANGEAUDIT_SIEM_SYSLOG"),
            siem_url: text("CHANGEAUDIT_SIEM_URL"),
            log: text("CHANGEAUDIT_LOG"),
        })
    }
}

fn comma_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_var<T>(env: &HashMap<String, String>, name: &str) -> Result<Option<T>, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match env.get(name).filter(|value| !value.is_empty()) {
        None => Ok(None),
        Some(value) => value
            .parse()
            .map(Some)
            .map_err(|error| ConfigError::Invalid {
                name: name.to_owned(),
                message: format!("`{value}` is not valid: {error}"),
            }),
    }
}

impl Config {
    /// Reads the configuration file named by `file` (or by `CHANGEAUDIT_CONFIG`), then `env`.
    pub fn load(file: Option<&Path>, env: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let file = file
            .map(Path::to_owned)
            .or_else(|| env.get("CHANGEAUDIT_CONFIG").map(PathBuf::from));
        let file_layer = match file {
            Some(path) => Layer::from_file(&path)?,
            None => Layer::default(),
        };
        Layer::from_env(env)?.over(file_layer).resolve()
    }

    /// Reads the configuration from the process environment.
    pub fn from_process(file: Option<&Path>) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = std::env::vars()
            .filter(|(name, _)| name.starts_with("CHANGEAUDIT_"))
            .collect();
        Config::load(file, &env)
    }

    /// The cookie is only sent back over TLS when people reach the server over TLS.
    pub fn cookie_secure(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    }
}

impl Layer {
    fn resolve(self) -> Result<Config, ConfigError> {
        let data_dir = self.data_dir.unwrap_or_else(|| PathBuf::from("data"));
        let database_url = match self.database_url {
            Some(url) => url,
            None => Secret::new(default_sqlite_url(&data_dir)),
        };
        let master_key_file = self
            .master_key_file
            .unwrap_or_else(|| data_dir.join("master.key"));
        let idle_minutes = self.session_idle_minutes.unwrap_or(30);
        let max_hours = self.session_max_hours.unwrap_or(12);
        if idle_minutes == 0 {
            return Err(invalid("session_idle_minutes", "must be at least 1"));
        }
        if max_hours == 0 {
            return Err(invalid("session_max_hours", "must be at least 1"));
        }
        let terminal_max_minutes = self.terminal_max_minutes.unwrap_or(8 * 60);
        if terminal_max_minutes == 0 {
            return Err(invalid("terminal_max_minutes", "must be at least 1"));
        }
        let trusted_proxies = self
            .trusted_proxies
            .unwrap_or_default()
            .iter()
            .map(|text| text.parse::<IpNet>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| invalid("trusted_proxies", &error))?;
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(invalid("public_url", "must start with http:// or https://"));
        }
        if let Some(url) = &self.public_url
            && crate::passkeys::RelyingParty::new(Some(url)).is_err()
        {
            return Err(invalid(
                "public_url",
                "passkeys need a host name (such as https://changeaudit.example.com), not an IP address",
            ));
        }
        if let Some(url) = &self.smtp_url
            && !(url.expose().starts_with("smtp://") || url.expose().starts_with("smtps://"))
        {
            return Err(invalid("smtp_url", "must start with smtp:// or smtps://"));
        }
        if let Some(url) = &self.webhook_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(invalid(
                "webhook_url",
                "must start with http:// or https://",
            ));
        }
        if self.webhook_url.is_some() && self.webhook_secret.is_none() {
            return Err(invalid(
                "webhook_secret",
                "is required with webhook_url: receivers check each call's signature with it",
            ));
        }
        let trail_key_file = self
            .trail_key_file
            .unwrap_or_else(|| data_dir.join("trail.key"));
        let checkpoint_events = self.checkpoint_events.unwrap_or(1000);
        if checkpoint_events == 0 {
            return Err(invalid("checkpoint_events", "must be at least 1"));
        }
        let checkpoint_seconds = self.checkpoint_seconds.unwrap_or(60);
        if checkpoint_seconds == 0 {
            return Err(invalid("checkpoint_seconds", "must be at least 1"));
        }
        if let Some(address) = &self.siem_syslog
            && address
                .rsplit_once(':')
                .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
        {
            return Err(invalid("siem_syslog", "must be host:port"));
        }
        if let Some(url) = &self.siem_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(invalid("siem_url", "must start with http:// or https://"));
        }
        if let Some(password) = &self.admin_password
            && password.expose().chars().count() < MIN_ADMIN_PASSWORD_CHARS
        {
            return Err(invalid(
                "admin_password",
                "must be at least 12 characters long",
            ));
        }
        Ok(Config {
            recordings_dir: self
                .recordings_dir
                .unwrap_or_else(|| data_dir.join("recordings")),
            trusted_proxies,
            due_warning: Duration::from_secs(
                self.due_warning_minutes.unwrap_or(10).saturating_mul(60),
            ),
            terminal_max_length: Duration::from_secs(terminal_max_minutes.saturating_mul(60)),
            listen: self
                .listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir,
            database_url,
            admin_password: self.admin_password,
            master_key: self.master_key,
            master_key_file,
            static_dir: self
                .static_dir
                .unwrap_or_else(|| PathBuf::from("frontend/dist")),
            public_url: self
                .public_url
                .map(|url| url.trim_end_matches('/').to_owned()),
            trusted_origins: self.trusted_origins.unwrap_or_default(),
            session_idle_timeout: Duration::from_secs(idle_minutes.saturating_mul(60)),
            session_max_lifetime: Duration::from_secs(max_hours.saturating_mul(3600)),
            smtp_url: self.smtp_url,
            smtp_from: self
                .smtp_from
                .unwrap_or_else(|| "changeaudit <changeaudit@localhost>".to_owned()),
            webhook_url: self.webhook_url,
            webhook_secret: self.webhook_secret,
            trail_key_file,
            checkpoint_events,
            checkpoint_interval: Duration::from_secs(checkpoint_seconds),
            siem_syslog: self.siem_syslog,
            siem_url: self.siem_url,
            log: self.log.unwrap_or_else(|| "info".to_owned()),
        })
    }
}

pub const MIN_ADMIN_PASSWORD_CHARS: usize = 12;

fn invalid(key: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        name: format!("{key} (CHANGEAUDIT_{})", key.to_uppercase()),
        message: message.to_owned(),
    }
}

fn default_sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("changeaudit.db").display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_put_everything_under_the_data_folder() {
        let config = Config::load(None, &env(&[])).unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from("data"));
        assert_eq!(config.database_url.expose(), "sqlite://data/changeaudit.db");
        assert_eq!(config.session_idle_timeout, Duration::from_secs(30 * 60));
        assert_eq!(config.recordings_dir, PathBuf::from("data/recordings"));
        assert!(config.trusted_proxies.is_empty());
        assert!(!config.cookie_secure());
    }

    #[test]
    fn environment_overrides_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("changeaudit.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/srv/ca\"\npublic_url = \"https://ca.example/\"\n",
        )
        .unwrap();
        let config =
            Config::load(Some(&file), &env(&[("CHANGEAUDIT_LISTEN", "0.0.0.0:80")])).unwrap();
        assert_eq!(config.listen, "0.0.0.0:80".parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from("/srv/ca"));
        assert_eq!(
            config.database_url.expose(),
            "sqlite:///srv/ca/changeaudit.db"
        );
        assert_eq!(config.public_url.as_deref(), Some("https://ca.example"));
        assert!(config.cookie_secure());
    }

    #[test]
    fn errors_name_the_variable_or_key() {
        let error = Config::load(None, &env(&[("CHANGEAUDIT_LISTEN", "nowhere")])).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("CHANGEAUDIT_LISTEN: `nowhere` is not valid")
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:1\"\n").unwrap();
        let error = Config::load(Some(&file), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field `lisen`"), "{error}");

        let error = Config::load(
            None,
            &env(&[("CHANGEAUDIT_TRUSTED_PROXIES", "10.0.0.0/33")]),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("CHANGEAUDIT_TRUSTED_PROXIES"), "{error}");
        assert!(error.contains("10.0.0.0/33"), "{error}");

        let error =
            Config::load(None, &env(&[("CHANGEAUDIT_ADMIN_PASSWORD", "short")])).unwrap_err();
        assert!(
            error.to_string().contains("CHANGEAUDIT_ADMIN_PASSWORD"),
            "{error}"
        );
    }

    #[test]
    fn the_readme_lists_every_variable() {
        let readme = include_str!("../../README.md");
        for name in ENV_VARS {
            assert!(
                readme.contains(&format!("`{name}`")),
                "README.md does not list {name}"
            );
        }
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let config = Config::load(
            None,
            &env(&[
                ("CHANGEAUDIT_DATABASE_URL", "postgres://u:topsecret@db/ca"),
                ("CHANGEAUDIT_ADMIN_PASSWORD", "another-topsecret"),
            ]),
        )
        .unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("topsecret"), "{debug}");
    }
}
