//! The processes a browser test runs: the changeaudit server and ChromeDriver. Both are killed
//! when dropped; both are waited on through what they print, never by sleeping.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader, Lines};
use tokio::process::{Child, Command};

use crate::{E2eError, Result, WebDriver};

const STARTUP_LIMIT: Duration = Duration::from_secs(60);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default()
}

/// Reads lines until one starts with `prefix`, and returns the rest of that line.
pub(crate) async fn wait_for_line<R: AsyncRead + Unpin>(
    lines: &mut Lines<BufReader<R>>,
    prefix: &str,
    what: &str,
) -> Result<String> {
    let search = async {
        let mut seen = Vec::new();
        while let Some(line) = lines
            .next_line()
            .await
            .map_err(|error| E2eError::context(what, error))?
        {
            if let Some(rest) = line.strip_prefix(prefix) {
                return Ok(rest.to_owned());
            }
            seen.push(line);
        }
        Err(E2eError(format!(
            "{what} exited; it printed: {}",
            seen.join("\n")
        )))
    };
    tokio::time::timeout(STARTUP_LIMIT, search)
        .await
        .map_err(|_| E2eError(format!("{what} did not start within {STARTUP_LIMIT:?}")))?
}

/// The real `changeaudit serve`, on a free port, with its own data folder.
pub struct Server {
    /// `http://localhost:PORT`: WebAuthn needs a host name, not an IP address.
    pub url: String,
    child: Child,
    _data: TempDir,
}

impl Server {
    /// The binary the tests build (`CHANGEAUDIT_BIN`), serving the built web app's folder
    /// (`CHANGEAUDIT_STATIC_DIR`).
    pub async fn start(admin_password: &str) -> Result<Server> {
        let binary = std::env::var_os("CHANGEAUDIT_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target/debug/changeaudit"));
        let static_dir = std::env::var_os("CHANGEAUDIT_STATIC_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("frontend/dist"));
        if !static_dir.join("index.html").is_file() {
            return Err(E2eError(format!(
                "the web app is not built in {} (run `scripts/dev test`)",
                static_dir.display()
            )));
        }
        let data = tempfile::tempdir().map_err(|error| E2eError::context("data folder", error))?;
        Server::serve(&binary, Some(&static_dir), data, admin_password).await
    }

    /// `binary` alone, started in an empty folder of its own with no web app configured: what
    /// it serves, it carries.
    pub async fn start_alone(binary: &Path, admin_password: &str) -> Result<Server> {
        let folder =
            tempfile::tempdir().map_err(|error| E2eError::context("empty folder", error))?;
        Server::serve(binary, None, folder, admin_password).await
    }

    /// `binary serve` in `folder`, with nothing of this process's environment.
    async fn serve(
        binary: &Path,
        static_dir: Option<&Path>,
        folder: TempDir,
        admin_password: &str,
    ) -> Result<Server> {
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .current_dir(folder.path())
            .env_clear()
            .envs(command_env(folder.path(), admin_password));
        if let Some(static_dir) = static_dir {
            command.env("CHANGEAUDIT_STATIC_DIR", static_dir);
        }
        Server::spawned(command, folder).await
    }

    /// Stops the server and waits until it has exited.
    pub async fn stop(mut self) {
        // Killing one that has exited already fails; it is gone either way.
        self.child.kill().await.ok();
    }

    /// The server `command` starts (its output read for the address it listens on); `keep`
    /// lives as long as it does.
    pub async fn spawned(mut command: Command, keep: TempDir) -> Result<Server> {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| E2eError::context("starting changeaudit", error))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| E2eError("no stdout from changeaudit".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let address = wait_for_line(
            &mut lines,
            "changeaudit listening on http://",
            "changeaudit",
        )
        .await?;
        let port = address
            .rsplit_once(':')
            .map(|(_, port)| port.to_owned())
            .ok_or_else(|| E2eError(format!("no port in {address}")))?;
        Ok(Server {
            url: format!("http://localhost:{port}"),
            child,
            _data: keep,
        })
    }
}

/// What every test server is given: a free port, its own data folder, the first admin's
/// password, quiet logs, and a checkpoint each second (each event's proof is soon there).
pub fn command_env(data: &Path, admin_password: &str) -> Vec<(&'static str, String)> {
    vec![
        ("CHANGEAUDIT_LISTEN", "127.0.0.1:0".to_owned()),
        (
            "CHANGEAUDIT_DATA_DIR",
            data.join("data").display().to_string(),
        ),
        ("CHANGEAUDIT_ADMIN_PASSWORD", admin_password.to_owned()),
        ("CHANGEAUDIT_LOG", "warn".to_owned()),
        ("CHANGEAUDIT_CHECKPOINT_SECONDS", "1".to_owned()),
    ]
}

/// ChromeDriver on a port of its choosing, and one headless Chromium session through it.
/// ChromeDriver runs in a process group of its own with the Chromium it starts: when the test
/// ends, however it ends, the whole group is killed, so no browser outlives it.
pub struct Browser {
    pub driver: WebDriver,
    _chromedriver: Child,
    group: Option<u32>,
    _profile: TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(group) = self.group {
            // The group may be gone already; there is nothing more to do then.
            std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{group}")])
                .stderr(Stdio::null())
                .status()
                .ok();
        }
    }
}

impl Browser {
    pub async fn start() -> Result<Browser> {
        // ChromeDriver picks its own port for `--port=0`; started side by side, two may pick
        // the same one, and the loser exits saying so. It is then started again.
        let mut attempts = 0;
        loop {
            attempts += 1;
            match Browser::start_once().await {
                Err(error) if attempts < 5 && error.0.contains("port not available") => continue,
                other => return other,
            }
        }
    }

    async fn start_once() -> Result<Browser> {
        let mut chromedriver = Command::new("chromedriver")
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| {
                E2eError::context(
                    "starting chromedriver (apt-get install chromium-driver)",
                    error,
                )
            })?;
        let stdout = chromedriver
            .stdout
            .take()
            .ok_or_else(|| E2eError("no stdout from chromedriver".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let rest = wait_for_line(
            &mut lines,
            "ChromeDriver was started successfully on port ",
            "chromedriver",
        )
        .await?;
        let port = rest.trim_end_matches('.');
        // Keep draining its output so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let profile =
            tempfile::tempdir().map_err(|error| E2eError::context("browser profile", error))?;
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let driver =
            WebDriver::new_session(&format!("http://127.0.0.1:{port}"), capabilities, 10_000)
                .await?;
        Ok(Browser {
            driver,
            group: chromedriver.id(),
            _chromedriver: chromedriver,
            _profile: profile,
        })
    }
}
