//! Configuration: defaults, then an optional TOML file, then `CHANGEAUDIT_*` variables, read
//! into one section per concern. A leaf: it knows nothing of the server that reads it.

mod error;
mod keys;
mod resolve;
mod sections;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use error::ConfigError;
pub use keys::ENV_VARS;
pub use resolve::parse_network;
pub use sections::{
    ClusterConfig, Config, DatabaseConfig, MIN_ADMIN_PASSWORD_CHARS, MIN_CLUSTER_SECRET_CHARS,
    NotificationsConfig, ObjectStorage, RecordingsAt, ServerConfig, SessionsConfig, SiemConfig,
    TerminalConfig, TrailConfig,
};

impl Config {
    /// Reads the configuration file named by `file` (or by `CHANGEAUDIT_CONFIG`), then `env`.
    pub fn load(file: Option<&Path>, env: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let file = file
            .map(Path::to_owned)
            .or_else(|| env.get("CHANGEAUDIT_CONFIG").map(PathBuf::from));
        keys::Keys::load(file.as_deref(), env)?.resolve()
    }

    /// Where recordings are kept by `text`: a folder, or a URL as `recordings_url` takes it,
    /// with the bucket's settings and the spool from `env` (its `CHANGEAUDIT_S3_*`,
    /// `CHANGEAUDIT_RECORDINGS_SPOOL_DIR` and `CHANGEAUDIT_DATA_DIR`); the rest of `env` is not
    /// read. For the commands that name a store besides the configured one.
    pub fn recordings_at(
        text: &str,
        env: &HashMap<String, String>,
    ) -> Result<RecordingsAt, ConfigError> {
        if !text.contains("://") {
            return Ok(RecordingsAt::Folder(PathBuf::from(text)));
        }
        let mut env: HashMap<String, String> = env
            .iter()
            .filter(|(name, _)| {
                name.starts_with("CHANGEAUDIT_S3_")
                    || *name == "CHANGEAUDIT_RECORDINGS_SPOOL_DIR"
                    || *name == "CHANGEAUDIT_DATA_DIR"
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        env.insert("CHANGEAUDIT_RECORDINGS_URL".to_owned(), text.to_owned());
        Config::load(None, &env).map(|config| config.terminal.recordings)
    }

    /// Reads the configuration from the process environment.
    pub fn from_process(file: Option<&Path>) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = std::env::vars()
            .filter(|(name, _)| name.starts_with("CHANGEAUDIT_"))
            .collect();
        Config::load(file, &env)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::ExposeSecret;

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
        assert_eq!(config.server.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.server.data_dir, PathBuf::from("data"));
        assert_eq!(
            config.database.url.expose_secret(),
            "sqlite://data/changeaudit.db"
        );
        assert_eq!(config.sessions.idle_timeout, Duration::from_secs(30 * 60));
        assert!(matches!(
            &config.terminal.recordings,
            RecordingsAt::Folder(folder) if folder == &PathBuf::from("data/recordings")
        ));
        assert!(config.server.trusted_proxies.is_empty());
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
        assert_eq!(config.server.listen, "0.0.0.0:80".parse().unwrap());
        assert_eq!(config.server.data_dir, PathBuf::from("/srv/ca"));
        assert_eq!(
            config.database.url.expose_secret(),
            "sqlite:///srv/ca/changeaudit.db"
        );
        assert_eq!(
            config.server.public_url.as_deref(),
            Some("https://ca.example")
        );
        assert!(config.cookie_secure());
    }

    #[test]
    fn lists_and_numbers_read_alike_from_the_file_and_the_variables() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("changeaudit.toml");
        std::fs::write(
            &file,
            "trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\nsession_idle_minutes = 5\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), &env(&[])).unwrap();
        assert_eq!(config.server.trusted_proxies.len(), 2);
        assert_eq!(config.sessions.idle_timeout, Duration::from_secs(5 * 60));

        let config = Config::load(
            Some(&file),
            &env(&[
                (
                    "CHANGEAUDIT_TRUSTED_ORIGINS",
                    "https://a.example, https://b.example",
                ),
                ("CHANGEAUDIT_SESSION_IDLE_MINUTES", "7"),
                ("CHANGEAUDIT_TRUSTED_PROXIES", ""),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.server.trusted_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(config.sessions.idle_timeout, Duration::from_secs(7 * 60));
        // An empty variable is unset: the file's list stands.
        assert_eq!(config.server.trusted_proxies.len(), 2);
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
    fn recordings_go_to_a_folder_or_a_bucket_named_by_url() {
        let at =
            |pairs: &[(&str, &str)]| Config::load(None, &env(pairs)).map(|c| c.terminal.recordings);
        assert!(matches!(
            at(&[("CHANGEAUDIT_RECORDINGS_URL", "file:///srv/recordings")]).unwrap(),
            RecordingsAt::Folder(folder) if folder == Path::new("/srv/recordings")
        ));
        let RecordingsAt::Objects(storage) = at(&[
            ("CHANGEAUDIT_DATA_DIR", "/srv/ca"),
            (
                "CHANGEAUDIT_RECORDINGS_URL",
                "s3://audit-bucket/site-a/recordings/",
            ),
            ("CHANGEAUDIT_S3_ENDPOINT", "http://127.0.0.1:3900"),
            ("CHANGEAUDIT_S3_REGION", "garage"),
            ("CHANGEAUDIT_S3_SECRET_ACCESS_KEY", "a-topsecret-key"),
        ])
        .unwrap() else {
            panic!("s3:// is object storage");
        };
        assert_eq!(storage.bucket, "audit-bucket");
        assert_eq!(storage.prefix, "site-a/recordings");
        assert_eq!(storage.endpoint.as_deref(), Some("http://127.0.0.1:3900"));
        assert_eq!(storage.spool_dir, Path::new("/srv/ca/spool"));
        assert!(!format!("{storage:?}").contains("topsecret"));

        for (pairs, words) in [
            (
                &[("CHANGEAUDIT_RECORDINGS_URL", "ftp://host/x")][..],
                "must be file:///folder or s3://bucket/prefix",
            ),
            (
                &[("CHANGEAUDIT_RECORDINGS_URL", "s3:///x")][..],
                "must name a bucket",
            ),
            (
                &[
                    ("CHANGEAUDIT_RECORDINGS_URL", "s3://b"),
                    ("CHANGEAUDIT_S3_ENDPOINT", "127.0.0.1:3900"),
                ][..],
                "CHANGEAUDIT_S3_ENDPOINT",
            ),
            (
                &[
                    ("CHANGEAUDIT_RECORDINGS_URL", "s3://b"),
                    ("CHANGEAUDIT_RECORDINGS_DIR", "/srv/r"),
                ][..],
                "not both",
            ),
        ] {
            let error = at(pairs).unwrap_err().to_string();
            assert!(error.contains(words), "{error}");
        }
    }

    #[test]
    fn a_replica_answers_its_peers_only_with_a_secret_and_an_address_they_can_reach() {
        const SECRET: &str = "0123456789abcdef0123456789abcdef";
        let cluster = |pairs: &[(&str, &str)]| Config::load(None, &env(pairs)).map(|c| c.cluster);
        let alone = cluster(&[]).unwrap();
        assert!(alone.listen.is_none() && alone.url.is_none() && alone.secret.is_none());
        let peer = cluster(&[
            ("CHANGEAUDIT_CLUSTER_LISTEN", "10.0.0.2:8091"),
            ("CHANGEAUDIT_CLUSTER_SECRET", SECRET),
        ])
        .unwrap();
        assert_eq!(peer.url.as_deref(), Some("http://10.0.0.2:8091"));
        let behind = cluster(&[
            ("CHANGEAUDIT_CLUSTER_LISTEN", "0.0.0.0:8091"),
            ("CHANGEAUDIT_CLUSTER_URL", "http://replica-2.internal:8091/"),
            ("CHANGEAUDIT_CLUSTER_SECRET", SECRET),
        ])
        .unwrap();
        assert_eq!(
            behind.url.as_deref(),
            Some("http://replica-2.internal:8091")
        );

        for (pairs, words) in [
            (
                &[("CHANGEAUDIT_CLUSTER_LISTEN", "10.0.0.2:8091")][..],
                "CHANGEAUDIT_CLUSTER_SECRET",
            ),
            (
                &[("CHANGEAUDIT_CLUSTER_SECRET", "too short")][..],
                "at least 32 characters",
            ),
            (
                &[
                    ("CHANGEAUDIT_CLUSTER_LISTEN", "0.0.0.0:8091"),
                    ("CHANGEAUDIT_CLUSTER_SECRET", SECRET),
                ][..],
                "CHANGEAUDIT_CLUSTER_URL",
            ),
            (
                &[
                    ("CHANGEAUDIT_CLUSTER_LISTEN", "10.0.0.2:0"),
                    ("CHANGEAUDIT_CLUSTER_SECRET", SECRET),
                ][..],
                "must name a port",
            ),
            (
                &[("CHANGEAUDIT_CLUSTER_URL", "http://10.0.0.2:8091")][..],
                "where cluster_listen is reached, which is not set",
            ),
        ] {
            let error = cluster(pairs).unwrap_err().to_string();
            assert!(error.contains(words), "{error}");
        }
        let shown = format!("{:?}", peer);
        assert!(!shown.contains(SECRET), "{shown}");
    }

    #[test]
    fn the_readme_lists_every_variable() {
        let readme = include_str!("../../../README.md");
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
