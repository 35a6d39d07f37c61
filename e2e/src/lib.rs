//! What the browser tests drive: the real `changeaudit` binary, ChromeDriver with Debian's
//! headless Chromium, a real sshd as the device, a real SMTP receiver, a real S3-compatible
//! store (Garage), and a small W3C WebDriver client.

mod garage;
mod memory;
mod processes;
mod smtp;
mod sshd;
mod webdriver;

pub use garage::Garage;
pub use memory::{PeakMemory, resident};
pub use processes::{Browser, Server, command_env};
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
