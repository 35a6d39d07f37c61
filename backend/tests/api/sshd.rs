//! A real OpenSSH server as the device: `sshd -i` started for each connection accepted on a
//! listener bound to `127.0.0.1:0`, with a throwaway host key. No port is guessed, no daemon
//! outlives the test.

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Stdio;

use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::task::JoinHandle;

const SSHD: &str = "/usr/sbin/sshd";

pub struct Sshd {
    pub address: SocketAddr,
    /// The host key's public half, as `ssh-ed25519 AAAA… comment`.
    pub host_key: String,
    /// What `ssh-keygen -lf` says of it.
    pub fingerprint: String,
    accepting: JoinHandle<()>,
    _dir: TempDir,
}

impl Sshd {
    pub async fn start() -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install openssh-server (`scripts/dev test` does)"
        );
        std::fs::create_dir_all("/run/sshd").expect("sshd's privilege-separation folder");
        let dir = tempfile::tempdir().expect("a folder for sshd");
        let key = dir.path().join("host_ed25519");
        run(
            "ssh-keygen",
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "test-device",
                "-f",
                key.to_str().unwrap(),
            ],
        )
        .await;
        let host_key = std::fs::read_to_string(key.with_extension("pub"))
            .unwrap()
            .trim()
            .to_owned();
        let listing = run(
            "ssh-keygen",
            &["-l", "-f", key.with_extension("pub").to_str().unwrap()],
        )
        .await;
        let fingerprint = listing.split_whitespace().nth(1).unwrap().to_owned();
        let config = dir.path().join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "HostKey {}\nUsePAM no\nStrictModes no\nPidFile none\nLogLevel ERROR\nAllowUsers nobody-in-particular\n",
                key.display()
            ),
        )
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let accepting = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let stream = stream.into_std().unwrap();
                stream.set_nonblocking(false).unwrap();
                let input = OwnedFd::from(stream.try_clone().unwrap());
                let child = Command::new(SSHD)
                    .arg("-i")
                    .arg("-f")
                    .arg(&config)
                    .stdin(Stdio::from(input))
                    .stdout(Stdio::from(OwnedFd::from(stream)))
                    .stderr(Stdio::inherit())
                    .kill_on_drop(true)
                    .spawn()
                    .expect("starting sshd -i");
                tokio::spawn(async move {
                    let mut child = child;
                    child.wait().await.ok();
                });
            }
        });
        Sshd {
            address,
            host_key,
            fingerprint,
            accepting,
            _dir: dir,
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .await
        .expect(program);
    assert!(
        output.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}
