//! The keys a configuration file and the `CHANGEAUDIT_*` variables may set, read through
//! figment: the file first, then the variables over it. Every key is optional here; defaults
//! and checks come after (`resolve`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};

use super::ConfigError;

/// The variables read, in the order the README lists them.
pub const ENV_VARS: [&str; 43] = [
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
    "CHANGEAUDIT_RECORDINGS_URL",
    "CHANGEAUDIT_RECORDINGS_SPOOL_DIR",
    "CHANGEAUDIT_S3_ENDPOINT",
    "CHANGEAUDIT_S3_REGION",
    "CHANGEAUDIT_S3_PATH_STYLE",
    "CHANGEAUDIT_S3_ACCESS_KEY_ID",
    "CHANGEAUDIT_S3_SECRET_ACCESS_KEY",
    "CHANGEAUDIT_TRUSTED_PROXIES",
    "CHANGEAUDIT_TRUST_FORWARDED_PROTO",
    "CHANGEAUDIT_ANSWER_DEADLINE_SECONDS",
    "CHANGEAUDIT_CLUSTER_LISTEN",
    "CHANGEAUDIT_CLUSTER_URL",
    "CHANGEAUDIT_CLUSTER_SECRET",
    "CHANGEAUDIT_DUE_WARNING_MINUTES",
    "CHANGEAUDIT_TERMINAL_MAX_MINUTES",
    "CHANGEAUDIT_RECORDING_MAX_MIB",
    "CHANGEAUDIT_RECORDINGS_MIN_FREE_MIB",
    "CHANGEAUDIT_TERMINALS_PER_PERSON",
    "CHANGEAUDIT_STREAMS_PER_PERSON",
    "CHANGEAUDIT_SMTP_URL",
    "CHANGEAUDIT_SMTP_FROM",
    "CHANGEAUDIT_WEBHOOK_URL",
    "CHANGEAUDIT_WEBHOOK_SECRET",
    "CHANGEAUDIT_TRAIL_KEY_FILE",
    "CHANGEAUDIT_CHECKPOINT_EVENTS",
    "CHANGEAUDIT_CHECKPOINT_SECONDS",
    "CHANGEAUDIT_SIEM_SYSLOG",
    "CHANGEAUDIT_SIEM_URL",
    "CHANGEAUDIT_SIEM_AUTHORIZATION",
    "CHANGEAUDIT_LOG",
];

/// One file key per variable: `CHANGEAUDIT_` and the key in capitals.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Keys {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<SecretString>,
    pub admin_password: Option<SecretString>,
    pub master_key: Option<SecretString>,
    pub master_key_file: Option<PathBuf>,
    pub static_dir: Option<PathBuf>,
    pub public_url: Option<String>,
    #[serde(default, deserialize_with = "list")]
    pub trusted_origins: Option<Vec<String>>,
    pub session_idle_minutes: Option<u64>,
    pub session_max_hours: Option<u64>,
    pub recordings_dir: Option<PathBuf>,
    pub recordings_url: Option<String>,
    pub recordings_spool_dir: Option<PathBuf>,
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub s3_path_style: Option<bool>,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<SecretString>,
    #[serde(default, deserialize_with = "list")]
    pub trusted_proxies: Option<Vec<String>>,
    pub trust_forwarded_proto: Option<bool>,
    pub answer_deadline_seconds: Option<u64>,
    pub cluster_listen: Option<SocketAddr>,
    pub cluster_url: Option<String>,
    pub cluster_secret: Option<SecretString>,
    pub due_warning_minutes: Option<u64>,
    pub terminal_max_minutes: Option<u64>,
    pub recording_max_mib: Option<u64>,
    pub recordings_min_free_mib: Option<u64>,
    pub terminals_per_person: Option<u64>,
    pub streams_per_person: Option<u64>,
    pub smtp_url: Option<SecretString>,
    pub smtp_from: Option<String>,
    pub webhook_url: Option<SecretString>,
    pub webhook_secret: Option<SecretString>,
    pub trail_key_file: Option<PathBuf>,
    pub checkpoint_events: Option<u64>,
    pub checkpoint_seconds: Option<u64>,
    pub siem_syslog: Option<String>,
    pub siem_url: Option<SecretString>,
    pub siem_authorization: Option<SecretString>,
    pub log: Option<String>,
}

impl Keys {
    /// The file's keys (when there is a file), with the variables over them.
    pub fn load(file: Option<&Path>, env: &HashMap<String, String>) -> Result<Keys, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            figment = figment.merge(Toml::string(&text));
        }
        // Lossy: a variable is text, so `30` must be read as the number a key wants.
        figment
            .merge(Variables(env))
            .extract_lossy()
            .map_err(|error| explain(error, file, env))
    }
}

/// The `CHANGEAUDIT_*` variables the README lists; empty ones count as unset.
struct Variables<'a>(&'a HashMap<String, String>);

const VARIABLES: &str = "environment variable";

impl Provider for Variables<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::named(VARIABLES).interpolater(|_, keys| variable(&keys.join("_")))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict = ENV_VARS
            .iter()
            .filter(|name| **name != "CHANGEAUDIT_CONFIG")
            .filter_map(|name| {
                let value = self.0.get(*name).filter(|value| !value.is_empty())?;
                let key = name.trim_start_matches("CHANGEAUDIT_").to_ascii_lowercase();
                Some((key, Value::from(value.clone())))
            })
            .collect();
        Ok(Profile::Default.collect(dict))
    }
}

pub(super) fn variable(key: &str) -> String {
    format!("CHANGEAUDIT_{}", key.to_ascii_uppercase())
}

/// Names the variable or the file a bad value came from, as people wrote it.
fn explain(
    error: figment::Error,
    file: Option<&Path>,
    env: &HashMap<String, String>,
) -> ConfigError {
    let key = error.path.join(".");
    let from_variables = error
        .metadata
        .as_ref()
        .is_some_and(|metadata| metadata.name == VARIABLES);
    if from_variables {
        let name = variable(&key);
        let value = env.get(&name).cloned().unwrap_or_default();
        return ConfigError::Invalid {
            message: format!("`{value}` is not valid: {}", error.kind),
            name,
        };
    }
    let message = match &error.kind {
        figment::error::Kind::UnknownField(field, _) => format!("unknown field `{field}`"),
        kind if key.is_empty() => kind.to_string(),
        kind => format!("{key}: {kind}"),
    };
    ConfigError::File {
        path: file.map(Path::to_owned).unwrap_or_default(),
        message,
    }
}

/// A list: an array in the file, comma-separated in a variable.
fn list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Items(Vec<String>),
        Commas(String),
    }
    Ok(match Option::<Written>::deserialize(deserializer)? {
        None => None,
        Some(Written::Items(items)) => Some(items),
        Some(Written::Commas(text)) => Some(
            text.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
    })
}
