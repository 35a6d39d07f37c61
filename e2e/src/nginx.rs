//! nginx from Debian in front of changeaudit replicas, as `contrib/deploy/nginx` has it: the
//! upstream and the upgrade map of `changeaudit.conf`, on a free loopback port instead of TLS,
//! and its `changeaudit-proxy.conf` included as it is. It stops, and its folder goes, with the
//! value.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;
use tokio::process::{Child, Command};

use crate::garage::free_port;
use crate::{E2eError, Result};

const READY_WITHIN: Duration = Duration::from_secs(20);

pub struct Nginx {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _process: Child,
    _dir: TempDir,
}

impl Nginx {
    /// nginx spreading requests over `replicas` (`host:port`, each one's `listen`).
    pub async fn start(replicas: &[String]) -> Result<Nginx> {
        let dir = tempfile::tempdir().map_err(|e| E2eError::context("temporary folder", e))?;
        let port = free_port()?;
        let proxy = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../contrib/deploy/nginx/changeaudit-proxy.conf");
        let servers: String = replicas
            .iter()
            .map(|address| format!("        server {address};\n"))
            .collect();
        let folder = dir.path().display();
        let config = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {folder}/nginx.pid;\n\
             error_log {folder}/error.log warn;\nevents {{ worker_connections 1024; }}\n\
             http {{\n    access_log off;\n    client_body_temp_path {folder}/body;\n\
             proxy_temp_path {folder}/proxy;\n    fastcgi_temp_path {folder}/fastcgi;\n\
             uwsgi_temp_path {folder}/uwsgi;\n    scgi_temp_path {folder}/scgi;\n\
             upstream changeaudit {{\n{servers}        keepalive 16;\n    }}\n\
             map $http_upgrade $connection_upgrade {{\n        default upgrade;\n        '' '';\n    }}\n\
             server {{\n        listen 127.0.0.1:{port};\n        include {proxy};\n    }}\n}}\n",
            proxy = proxy.display(),
        );
        let file = dir.path().join("nginx.conf");
        std::fs::write(&file, config).map_err(|e| E2eError::context("writing nginx.conf", e))?;
        let mut process = Command::new("nginx")
            .arg("-c")
            .arg(&file)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| E2eError::context("starting nginx (Debian's nginx package)", e))?;
        let deadline = tokio::time::Instant::now() + READY_WITHIN;
        let mut every = tokio::time::interval(Duration::from_millis(50));
        loop {
            every.tick().await;
            if let Ok(Some(status)) = process.try_wait() {
                let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
                return Err(E2eError(format!("nginx exited at start ({status}): {log}")));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(E2eError(format!(
                    "nginx did not listen within {READY_WITHIN:?}"
                )));
            }
        }
        Ok(Nginx {
            url: format!("http://127.0.0.1:{port}"),
            _process: process,
            _dir: dir,
        })
    }
}
