//! A real S3-compatible store: a single-node Garage (`cargo install garage`, which the test
//! command does) on free loopback ports, with one bucket and one key made at start. It stops,
//! and its folders go, with the value.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;
use tokio::process::{Child, Command};

use crate::{E2eError, Result};

const BUCKET: &str = "recordings";
const REGION: &str = "garage";
const READY_WITHIN: Duration = Duration::from_secs(60);

pub struct Garage {
    /// `http://127.0.0.1:PORT`, its S3 API.
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    _process: Child,
    _dir: TempDir,
}

impl Garage {
    pub async fn start() -> Result<Garage> {
        let dir = tempfile::tempdir().map_err(|e| E2eError::context("temporary folder", e))?;
        let [s3, rpc, admin] = [free_port()?, free_port()?, free_port()?];
        let config = dir.path().join("garage.toml");
        let text = format!(
            "metadata_dir = \"{meta}\"\ndata_dir = \"{data}\"\ndb_engine = \"sqlite\"\n\
             replication_factor = 1\nrpc_bind_addr = \"127.0.0.1:{rpc}\"\n\
             rpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{secret}\"\n\n\
             [s3_api]\ns3_region = \"{REGION}\"\napi_bind_addr = \"127.0.0.1:{s3}\"\n\n\
             [admin]\napi_bind_addr = \"127.0.0.1:{admin}\"\n",
            meta = dir.path().join("meta").display(),
            data = dir.path().join("data").display(),
            secret = random_hex(32)?,
        );
        std::fs::write(&config, text).map_err(|e| E2eError::context("writing garage.toml", e))?;
        let access_key_id = format!("GK{}", random_hex(12)?);
        let secret_access_key = random_hex(32)?;
        let mut process = Command::new("garage")
            .arg("-c")
            .arg(&config)
            .args(["server", "--single-node", "--default-bucket"])
            .env("GARAGE_DEFAULT_ACCESS_KEY", &access_key_id)
            .env("GARAGE_DEFAULT_SECRET_KEY", &secret_access_key)
            .env("GARAGE_DEFAULT_BUCKET", BUCKET)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| E2eError::context("starting garage (cargo install garage)", e))?;
        let health = format!("http://127.0.0.1:{admin}/health");
        let client = reqwest::Client::new();
        // Ready once the node has its layout and the bucket, as its health says: there is no
        // line it prints for that.
        let mut every = tokio::time::interval(Duration::from_millis(100));
        let deadline = tokio::time::Instant::now() + READY_WITHIN;
        loop {
            every.tick().await;
            if let Ok(Some(status)) = process.try_wait() {
                return Err(E2eError(format!("garage exited at start: {status}")));
            }
            let answer = client.get(&health).send().await;
            if answer.is_ok_and(|answer| answer.status().is_success()) {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(E2eError(format!(
                    "garage was not ready within {READY_WITHIN:?}"
                )));
            }
        }
        Ok(Garage {
            endpoint: format!("http://127.0.0.1:{s3}"),
            bucket: BUCKET.to_owned(),
            region: REGION.to_owned(),
            access_key_id,
            secret_access_key,
            _process: process,
            _dir: dir,
        })
    }

    /// The settings that keep a changeaudit server's recordings in this store, under `prefix`.
    pub fn settings(&self, prefix: &str) -> Vec<(String, String)> {
        [
            (
                "CHANGEAUDIT_RECORDINGS_URL",
                format!("s3://{}/{prefix}", self.bucket),
            ),
            ("CHANGEAUDIT_S3_ENDPOINT", self.endpoint.clone()),
            ("CHANGEAUDIT_S3_REGION", self.region.clone()),
            ("CHANGEAUDIT_S3_ACCESS_KEY_ID", self.access_key_id.clone()),
            (
                "CHANGEAUDIT_S3_SECRET_ACCESS_KEY",
                self.secret_access_key.clone(),
            ),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }
}

/// A port the system hands out on loopback, free when this returns.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| E2eError::context("finding a free port", e))?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|e| E2eError::context("finding a free port", e))
}

/// `bytes` random bytes in hex, from the system's source.
pub fn random_hex(bytes: usize) -> Result<String> {
    use std::io::Read;
    let mut buffer = vec![0; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut source| source.read_exact(&mut buffer))
        .map_err(|e| E2eError::context("random bytes", e))?;
    Ok(buffer.iter().map(|byte| format!("{byte:02x}")).collect())
}
