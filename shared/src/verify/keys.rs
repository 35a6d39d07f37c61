//! The trail's Ed25519 key as a verifier holds it: read from its 64 hex digits, and checked
//! against the signatures of checkpoints and bundles. Signatures are checked strictly, so one
//! signature cannot be bent into another that also verifies.

use ed25519_dalek::{Signature, VerifyingKey};

use crate::export::Checkpoint;

/// The trail's public key from its hex form, as in `trail.key.pub` or Admin → Audit trail.
pub fn public_key(text: &str) -> Result<VerifyingKey, String> {
    let refuse = || "not 64 hex digits (an Ed25519 public key)".to_owned();
    let bytes = unhex(text.trim()).ok_or_else(refuse)?;
    let bytes = <[u8; 32]>::try_from(bytes).map_err(|_| refuse())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "not an Ed25519 public key".to_owned())
}

/// Whether `signature` (hex) is `key`'s over `text`.
pub fn signed(key: &VerifyingKey, text: &str, signature: &str) -> bool {
    unhex(signature)
        .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
        .is_some_and(|bytes| {
            key.verify_strict(text.as_bytes(), &Signature::from_bytes(&bytes))
                .is_ok()
        })
}

/// Whether `checkpoint` carries `key`'s signature over what it states.
pub fn checkpoint_signed(key: &VerifyingKey, checkpoint: &Checkpoint) -> bool {
    signed(key, &checkpoint.signed_text(), &checkpoint.signature)
}

/// Bytes from hex digits, either case.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_reads_back_what_it_wrote() {
        assert_eq!(unhex("00ff7A"), Some(vec![0, 255, 122]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(
            unhex(&crate::trail::hex(&[1, 2, 254])),
            Some(vec![1, 2, 254])
        );
    }

    #[test]
    fn a_public_key_is_64_hex_digits() {
        assert!(public_key("12").is_err());
        let error = public_key(&"g".repeat(64)).unwrap_err();
        assert!(error.contains("64 hex digits"), "{error}");
    }
}
