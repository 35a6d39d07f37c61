//! Devices: the servers changes are made on, each with the SSH host key it must present.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{FieldErrors, check_tags};
use crate::host_key::Fingerprint;
use crate::problem::FieldError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Device {
    pub id: i64,
    pub name: String,
    pub host: String,
    pub port: u16,
    pub tags: Vec<String>,
    /// The pinned host key, as OpenSSH prints it: `SHA256:` and 43 characters of base64.
    pub host_key_fingerprint: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct DeviceInput {
    pub name: String,
    pub host: String,
    pub port: i64,
    pub tags: Vec<String>,
    /// The host key to pin: its SHA-256 fingerprint, or the public key itself (a line of
    /// `known_hosts` or `ssh-keyscan`). Required: a device is never trusted on first use.
    pub host_key: String,
}

impl Default for DeviceInput {
    fn default() -> Self {
        DeviceInput {
            name: String::new(),
            host: String::new(),
            port: 22,
            tags: Vec::new(),
            host_key: String::new(),
        }
    }
}

/// A device as checked: what is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedDevice {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub tags: Vec<String>,
    pub fingerprint: Fingerprint,
}

impl DeviceInput {
    pub fn check(&self) -> Result<CheckedDevice, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        errors.text("name", &self.name, 100);
        let host = self.host.trim();
        check_host(&mut errors, host);
        let port = check_port(&mut errors, self.port);
        let tags = check_tags(&mut errors, "tags", &self.tags);
        let fingerprint = if self.host_key.trim().is_empty() {
            errors.add(
                "host_key",
                "is required: paste the fingerprint or fetch the key from the device and confirm it",
            );
            None
        } else {
            match Fingerprint::parse(&self.host_key) {
                Ok(fingerprint) => Some(fingerprint),
                Err(rule) => {
                    errors.add("host_key", rule);
                    None
                }
            }
        };
        match (port, fingerprint) {
            (Some(port), Some(fingerprint)) if errors.is_empty() => Ok(CheckedDevice {
                name: self.name.trim().to_owned(),
                host: host.to_owned(),
                port,
                tags,
                fingerprint,
            }),
            _ => Err(errors.into_vec()),
        }
    }
}

/// A host name or an IP address; nothing that could smuggle options to a command line.
pub fn check_host(errors: &mut FieldErrors, host: &str) {
    if host.is_empty() {
        errors.add("host", "is required");
    } else if host.len() > 253
        || host.starts_with('-')
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_' | '[' | ']'))
    {
        errors.add("host", "must be a host name or an IP address");
    }
}

pub fn check_port(errors: &mut FieldErrors, port: i64) -> Option<u16> {
    let port = u16::try_from(port).ok().filter(|port| *port > 0);
    if port.is_none() {
        errors.add("port", "must be between 1 and 65535");
    }
    port
}

/// Asks the server to connect to a device and report the host key it presents, for a person to
/// confirm before it is pinned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostKeyScanRequest {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: i64,
}

fn default_port() -> i64 {
    22
}

impl HostKeyScanRequest {
    /// The host and port to reach, or the faults of each.
    pub fn check(&self) -> Result<(&str, u16), Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        let host = self.host.trim();
        check_host(&mut errors, host);
        let port = check_port(&mut errors, self.port);
        match port {
            Some(port) if errors.is_empty() => Ok((host, port)),
            _ => Err(errors.into_vec()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostKeyScan {
    pub algorithm: String,
    pub fingerprint: String,
    /// The key in OpenSSH's one-line form; sending it back as `host_key` pins it.
    pub public_key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDhy9oJtCVFBp8gu4R0nK0VegOaV9EOlZFtsdmQ1H7tY";

    fn fields(input: &DeviceInput) -> Vec<String> {
        input
            .check()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|error| error.field)
            .collect()
    }

    #[test]
    fn a_pasted_public_key_is_pinned_by_its_fingerprint() {
        let device = DeviceInput {
            name: " db-1 ".into(),
            host: "db-1.example.org".into(),
            tags: vec!["prod".into(), "prod".into(), "db".into()],
            host_key: KEY.into(),
            ..DeviceInput::default()
        }
        .check()
        .unwrap();
        assert_eq!(device.name, "db-1");
        assert_eq!(device.port, 22);
        assert_eq!(device.tags, ["prod", "db"]);
        assert_eq!(
            device.fingerprint.as_str(),
            "SHA256:wlyCfEjKDT6nuhxaeb00qgydP98Sz5tvqbFL0xRNByM"
        );
    }

    #[test]
    fn names_each_faulty_field() {
        let input = DeviceInput {
            name: String::new(),
            host: "-oProxyCommand=x".into(),
            port: 70000,
            tags: vec!["two words".into()],
            host_key: String::new(),
        };
        assert_eq!(
            fields(&input),
            ["name", "host", "port", "tags[0]", "host_key"]
        );
        let bad_key = DeviceInput {
            name: "a".into(),
            host: "a".into(),
            host_key: "SHA256:short".into(),
            ..DeviceInput::default()
        };
        assert_eq!(fields(&bad_key), ["host_key"]);
    }
}
