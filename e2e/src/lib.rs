//! What the browser tests drive: the real `changeaudit` binary, ChromeDriver with Debian's
//! headless Chromium, a real sshd as the device, a real SMTP receiver, a real S3-compatible
//! store (Garage), and a small W3C WebDriver client; and for several replicas, each run as the
//! systemd unit runs it, behind nginx as `contrib/deploy` configures it.

mod garage;
mod memory;
mod nginx;
mod processes;
mod replica;
mod smtp;
mod sshd;
mod webdriver;

pub use garage::{Garage, free_port, random_hex};
pub use memory::{PeakMemory, resident};
pub use nginx::Nginx;
pub use processes::{Browser, Server, command_env};
pub use replica::{Replica, fresh_postgres, psql};
pub use smtp::{Mail, SmtpReceiver};
pub use sshd::{KEY_USER, PASSWORD_USER, Sshd};
pub use webdriver::{Element, WebDriver};

/// Anything that stops a browser test, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct E2eError(pub String);

impl E2eError {
    fn context(context: &str, error: impl std::fmt::Display) -> Self {
        E2eError(format!("{context}: {error}"))
    }
}

pub type Result<T> = std::result::Result<T, E2eError>;
