//! A changeaudit replica run as `contrib/deploy/changeaudit.service` runs it: the unit's
//! `ExecStart` (with the binary the tests built) and its `Environment`, the configuration file
//! its `CHANGEAUDIT_CONFIG` names being the test's own. It can be killed with SIGKILL and
//! started again on the same configuration; a PostgreSQL database of its own is made from the
//! test command's server.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::garage::random_hex;
use crate::processes::wait_for_line;
use crate::{E2eError, Result};

const UNIT: &str = include_str!("../../contrib/deploy/changeaudit.service");

pub struct Replica {
    /// `http://127.0.0.1:PORT`, its `listen`.
    pub url: String,
    binary: PathBuf,
    config: PathBuf,
    child: Child,
}

/// What the unit runs: the arguments after the binary, and the environment.
struct Unit {
    args: Vec<String>,
    env: Vec<(String, String)>,
}

fn unit() -> Result<Unit> {
    let mut args = None;
    let mut env = Vec::new();
    for line in UNIT.lines() {
        if let Some(command) = line.strip_prefix("ExecStart=") {
            args = Some(
                command
                    .split_whitespace()
                    .skip(1)
                    .map(str::to_owned)
                    .collect(),
            );
        }
        if let Some((name, value)) = line
            .strip_prefix("Environment=")
            .and_then(|pair| pair.split_once('='))
        {
            env.push((name.to_owned(), value.to_owned()));
        }
    }
    let args = args.ok_or_else(|| E2eError("the unit has no ExecStart".into()))?;
    Ok(Unit { args, env })
}

impl Replica {
    /// `binary` as the unit runs it, on the configuration file `config`.
    pub async fn start(binary: &Path, config: &Path) -> Result<Replica> {
        let Unit { args, env } = unit()?;
        if !env.iter().any(|(name, _)| name == "CHANGEAUDIT_CONFIG") {
            return Err(E2eError("the unit sets no CHANGEAUDIT_CONFIG".into()));
        }
        let mut child = Command::new(binary)
            .args(&args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(name, value)| match name.as_str() {
                "CHANGEAUDIT_CONFIG" => (name.clone(), config.display().to_string()),
                _ => (name.clone(), value.clone()),
            }))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| E2eError::context("starting a replica", e))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| E2eError("no stdout from the replica".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let address =
            wait_for_line(&mut lines, "changeaudit listening on http://", "a replica").await?;
        let port = address
            .rsplit_once(':')
            .map(|(_, port)| port.to_owned())
            .ok_or_else(|| E2eError(format!("no port in {address}")))?;
        // What it prints later goes nowhere, and it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Replica {
            url: format!("http://127.0.0.1:{port}"),
            binary: binary.to_owned(),
            config: config.to_owned(),
            child,
        })
    }

    /// Kills it with SIGKILL, as a machine lost would stop it, and waits until it is gone.
    pub async fn kill(&mut self) -> Result<()> {
        self.child
            .kill()
            .await
            .map_err(|e| E2eError::context("killing a replica", e))
    }

    /// Starts it again, on the same configuration.
    pub async fn restart(&mut self) -> Result<()> {
        let again = Replica::start(&self.binary, &self.config).await?;
        *self = again;
        Ok(())
    }
}

/// A new PostgreSQL database on the test command's server (`CHANGEAUDIT_TEST_POSTGRES_URL`),
/// made with `psql`; answers its URL.
pub fn fresh_postgres() -> Result<String> {
    let admin = std::env::var("CHANGEAUDIT_TEST_POSTGRES_URL").map_err(|_| {
        E2eError(
            "CHANGEAUDIT_TEST_POSTGRES_URL is not set: `scripts/dev test` starts PostgreSQL".into(),
        )
    })?;
    let name = format!("replicas_{}", random_hex(6)?);
    psql(&admin, &format!("CREATE DATABASE {name}"))?;
    let (base, _) = admin
        .rsplit_once('/')
        .ok_or_else(|| E2eError(format!("no database in {admin}")))?;
    Ok(format!("{base}/{name}"))
}

/// What `psql` answers to `sql` on the database at `url`, unaligned, without headers.
pub fn psql(url: &str, sql: &str) -> Result<String> {
    let output = std::process::Command::new("psql")
        .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .output()
        .map_err(|e| E2eError::context("running psql", e))?;
    if !output.status.success() {
        return Err(E2eError(format!(
            "psql {sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
