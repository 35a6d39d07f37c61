//! A private key is read when it is stored, so a malformed one is refused then rather than at
//! the first session. Errors never quote the key.

use russh::keys::{Error as KeyError, decode_secret_key};

pub fn check_private_key(text: &str) -> Result<(), &'static str> {
    match decode_secret_key(text, None) {
        Ok(_) => Ok(()),
        Err(KeyError::KeyIsEncrypted) => Err(
            "is protected by a passphrase: store it without one (ssh-keygen -p -N ''); the vault encrypts it",
        ),
        Err(_) => Err(
            "is not a private key changeaudit can read: paste the whole OpenSSH or PEM key, BEGIN and END lines included",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACA4cvaCbQlRQafILuEdJytFXoDmlfRDpWRbbHZkNR+7WAAAAIiuKFSurihU\nrgAAAAtzc2gtZWQyNTUxOQAAACA4cvaCbQlRQafILuEdJytFXoDmlfRDpWRbbHZkNR+7WA\nAAAEBqoVcuLGm3uUEwKHWvTNH77qXJ978luiFijndtW3v7Hjhy9oJtCVFBp8gu4R0nK0Ve\ngOaV9EOlZFtsdmQ1H7tYAAAABHRlc3QB\n-----END OPENSSH PRIVATE KEY-----\n";

    #[test]
    fn reads_openssh_keys_and_refuses_the_rest() {
        // A throwaway key made with `ssh-keygen -t ed25519 -N ""` for this test.
        let text = TEST_KEY;
        assert_eq!(check_private_key(text), Ok(()));
        assert!(
            check_private_key(
                "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
            )
            .is_err()
        );
        assert!(check_private_key("hunter2").is_err());
    }
}
