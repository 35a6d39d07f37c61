//! SSH host-key fingerprints as OpenSSH shows them (`SHA256:` and the unpadded base64 of the
//! SHA-256 of the key's wire form), read from what an admin is likely to paste.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

const PREFIX: &str = "SHA256:";

impl Fingerprint {
    /// The fingerprint of a key given in its wire form.
    pub fn of_key_blob(blob: &[u8]) -> Fingerprint {
        Fingerprint(format!(
            "{PREFIX}{}",
            STANDARD_NO_PAD.encode(Sha256::digest(blob))
        ))
    }

    /// Reads a fingerprint (`SHA256:…`), a public key (`ssh-ed25519 AAAA… comment`) or a line of
    /// `known_hosts` / `ssh-keyscan` output (`host ssh-ed25519 AAAA…`).
    pub fn parse(text: &str) -> Result<Fingerprint, &'static str> {
        let text = text.trim();
        if let Some(encoded) = text.strip_prefix(PREFIX) {
            let encoded = encoded.trim_end_matches('=');
            return match STANDARD_NO_PAD.decode(encoded) {
                Ok(digest) if digest.len() == 32 => Ok(Fingerprint(format!("{PREFIX}{encoded}"))),
                _ => {
                    Err("is not a SHA256 fingerprint: expected SHA256: and 43 characters of base64")
                }
            };
        }
        if text.starts_with("MD5:") || text.split(':').count() == 16 {
            return Err("MD5 fingerprints are not accepted: give the SHA256 one (ssh-keygen -lf)");
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        let blob = words
            .windows(2)
            .find(|pair| is_key_type(pair[0]))
            .and_then(|pair| STANDARD.decode(pair[1]).ok())
            .filter(|blob| blob_names_its_type(blob));
        match blob {
            Some(blob) => Ok(Fingerprint::of_key_blob(&blob)),
            None => {
                Err("is neither a SHA256 fingerprint nor an OpenSSH public key (ssh-ed25519 AAAA…)")
            }
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_key_type(word: &str) -> bool {
    word.starts_with("ssh-") || word.starts_with("ecdsa-sha2-") || word.starts_with("sk-")
}

/// A key blob starts with its type as an SSH string; a stray base64 word does not.
fn blob_names_its_type(blob: &[u8]) -> bool {
    let Some((length, rest)) = blob.split_first_chunk::<4>() else {
        return false;
    };
    let length = u32::from_be_bytes(*length) as usize;
    rest.get(..length)
        .and_then(|name| std::str::from_utf8(name).ok())
        .is_some_and(is_key_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Generated with `ssh-keygen -t ed25519`; `ssh-keygen -lf` prints the fingerprint below.
    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDhy9oJtCVFBp8gu4R0nK0VegOaV9EOlZFtsdmQ1H7tY test";
    const FINGERPRINT: &str = "SHA256:wlyCfEjKDT6nuhxaeb00qgydP98Sz5tvqbFL0xRNByM";

    #[test]
    fn matches_ssh_keygen_for_every_way_of_pasting_a_key() {
        assert_eq!(Fingerprint::parse(KEY).unwrap().as_str(), FINGERPRINT);
        let known_hosts = format!("[db-1]:2222 {KEY}");
        assert_eq!(
            Fingerprint::parse(&known_hosts).unwrap().as_str(),
            FINGERPRINT
        );
        assert_eq!(
            Fingerprint::parse(&format!(" {FINGERPRINT}= "))
                .unwrap()
                .as_str(),
            FINGERPRINT
        );
    }

    #[test]
    fn refuses_what_is_not_a_key() {
        let refusal = |text: &str| Fingerprint::parse(text).unwrap_err();
        assert!(refusal("SHA256:abc").starts_with("is not a SHA256 fingerprint"));
        for md5 in [
            "MD5:8c:1f:aa:00:11:22:33:44:55:66:77:88:99:aa:bb:cc",
            "8c:1f:aa:00:11:22:33:44:55:66:77:88:99:aa:bb:cc",
        ] {
            assert!(
                refusal(md5).starts_with("MD5 fingerprints are not accepted"),
                "{md5}"
            );
        }
        for text in ["ssh-ed25519 bm90IGEga2V5", "hello"] {
            assert!(refusal(text).starts_with("is neither"), "{text}");
        }
    }
}
