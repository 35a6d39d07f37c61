//! A passkey's public key as the trail records it (a COSE key in webauthn-rs's JSON form), and
//! the check of a signature with it. The algorithms are those a relying party asks passkeys
//! for: ES256, ES384 and RS256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

#[derive(Deserialize)]
struct CoseKey {
    type_: String,
    key: KeyType,
}

#[derive(Deserialize)]
#[allow(non_camel_case_types)] // the names as written
enum KeyType {
    EC_EC2(Ec2),
    EC_RSA(Rsa),
    EC_OKP(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct Ec2 {
    curve: String,
    x: String,
    y: String,
}

#[derive(Deserialize)]
struct Rsa {
    n: String,
    e: Vec<u8>,
}

/// Whether `signature` over `message` verifies with `public_key`; says why not.
pub fn verify(public_key: &Value, message: &[u8], signature: &[u8]) -> Result<(), String> {
    let key = CoseKey::deserialize(public_key)
        .map_err(|_| "the passkey's public key is not a COSE key".to_owned())?;
    let verified = match (key.type_.as_str(), &key.key) {
        ("ES256", KeyType::EC_EC2(ec2)) if ec2.curve == "SECP256R1" => {
            let point = sec1_point(ec2)?;
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                .map_err(|_| "the P-256 key is not a point of the curve".to_owned())?;
            p256::ecdsa::Signature::from_der(signature)
                .is_ok_and(|signature| p256_verify(&key, message, &signature))
        }
        ("ES384", KeyType::EC_EC2(ec2)) if ec2.curve == "SECP384R1" => {
            let point = sec1_point(ec2)?;
            let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                .map_err(|_| "the P-384 key is not a point of the curve".to_owned())?;
            p384::ecdsa::Signature::from_der(signature)
                .is_ok_and(|signature| p384_verify(&key, message, &signature))
        }
        ("RS256", KeyType::EC_RSA(rsa)) => rs256_verify(rsa, message, signature)?,
        (algorithm, _) => {
            return Err(format!(
                "passkeys of algorithm {algorithm} are not supported"
            ));
        }
    };
    if verified {
        Ok(())
    } else {
        Err("the signature does not verify with the passkey's public key".to_owned())
    }
}

/// The uncompressed SEC1 encoding of an EC2 key: `04 ‖ x ‖ y`.
fn sec1_point(key: &Ec2) -> Result<Vec<u8>, String> {
    let decode = |text: &str| {
        URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| "the passkey's public key is not base64url".to_owned())
    };
    let mut point = vec![0x04];
    point.extend(decode(&key.x)?);
    point.extend(decode(&key.y)?);
    Ok(point)
}

fn p256_verify(
    key: &p256::ecdsa::VerifyingKey,
    message: &[u8],
    signature: &p256::ecdsa::Signature,
) -> bool {
    use p256::ecdsa::signature::Verifier;
    key.verify(message, signature).is_ok()
}

fn p384_verify(
    key: &p384::ecdsa::VerifyingKey,
    message: &[u8],
    signature: &p384::ecdsa::Signature,
) -> bool {
    use p384::ecdsa::signature::Verifier;
    key.verify(message, signature).is_ok()
}

/// RSASSA-PKCS1-v1_5 with SHA-256.
fn rs256_verify(key: &Rsa, message: &[u8], signature: &[u8]) -> Result<bool, String> {
    use rsa::signature::Verifier;
    let malformed = || "the passkey's RSA key is malformed".to_owned();
    let modulus = URL_SAFE_NO_PAD.decode(&key.n).map_err(|_| malformed())?;
    let bits = u32::try_from(modulus.len() * 8).map_err(|_| malformed())?;
    let n = rsa::BoxedUint::from_be_slice(&modulus, bits).map_err(|_| malformed())?;
    let e = rsa::BoxedUint::from_be_slice(&key.e, 32).map_err(|_| malformed())?;
    let public = rsa::RsaPublicKey::new(n, e).map_err(|_| malformed())?;
    let verifier = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public);
    Ok(rsa::pkcs1v15::Signature::try_from(signature)
        .is_ok_and(|signature| verifier.verify(message, &signature).is_ok()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const MESSAGE: &[u8] = b"changeaudit cose test";

    fn signature(text: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(text).unwrap()
    }

    /// Keys and signatures made by OpenSSL (`openssl dgst -sign`), in the JSON form webauthn-rs
    /// stores: a signature from another implementation, and a P-256 one whose `s` is high, as
    /// OpenSSL-based authenticators make them.
    #[test]
    fn signatures_of_each_algorithm_verify_and_a_changed_message_does_not() {
        let cases = [
            (
                json!({"type_": "ES256", "key": {"EC_EC2": {"curve": "SECP256R1",
                    "x": "W0KWIGi2-1asKp99Lvio7O4JqSGzv_vkdzgnN8x3Z08",
                    "y": "k3LOnPwU665lCkvB5dhQRSE6khCpB1MskgGYgsb3F_s"}}}),
                "MEUCIA6k1WV4WwwZWWgpmBSEuCiU2dtDPWj5p4oSg0gflkriAiEApTzAczcfp18pviLI43HKhAu1t2kx6l8fhvn16SkgoS4",
            ),
            (
                json!({"type_": "ES384", "key": {"EC_EC2": {"curve": "SECP384R1",
                    "x": "0vGLPEOjWyT1loIcKEFM4MtP3X0q8V3Gvv9rIN7OzbIN_RB_-buexfKRpMVtCeni",
                    "y": "Kt6ogxwMYCRopSQjMMzONU5sCWPpxe5DCVbEhf6DapyU7iVqLxR_YdtLldrvQs1A"}}}),
                "MGYCMQCmTC5wR-gL5GUtOkfRoRFRwyFLkfYoAMRnkJlij_LCrgMImasP1w7Iqzscph07BkYCMQDmi3DvKsqlZa9M8fvfxD33QG33F31kcTvMbOy22xjmQbqlZ5YVvqKf7sIM7xthkag",
            ),
            (
                json!({"type_": "RS256", "key": {"EC_RSA": {
                    "n": "mj46GXC8LQMIj97NGGgtCbwFa2Vg_IFjgIvaQk_Lq9LyxVze_hqs_qqNYUIlR_XUp00EiYiA0Vlo-nnBayhDl521Pw4I_NIemkiOQM6od3XH8G7Ryi5IV369lcmzfrZ6wgPFaC_HM-RXOS9SgFSaeImgORSZCFpquauvRbZ0cGn5LcODlimnbOj7ZAuIqUMUQ9sIyHv3mxm9KfLefEVuC0amTJ0g3arfaNIjndjGX05FqM9YQhfmwiQJa_rV4UD63FVVG1b8Kuqlj059_WlwV4HWiOe1_hopcjo2vxcLO0-xmHy0tqzqywCJtiXKldUGwFRvJ0bUA-eGLF7e5n80rQ",
                    "e": [1, 0, 1]}}}),
                "ZtNw_IH_19ZX5dJVIYZhnnVnWUyphV2UKN2NBwhWwUAX2kgcjZty08sOK0E6Om5jCuCtYu2mBeii5J90nYxqBXtz0yQFjJWvZKM1XQ03EcMKrUmOPEMpBROhamCQDzRvrmTI_yN9r3zsDXGkUKZd82R6UzexFIK9YOfYd__qE6uDaxjp5H0iSMhg02y1jI5iMxGmA7IfTnpja8_T5Lx0fciacFs9hIUjq56M-D2c2W76HwKRGtRRBv6HuU06o7K2GYLmBxDW_rwiQnr1HkeX91cpTcyY91xm2ZIW33g4yBH__SrS3FPz0cVVk_hE9P9zcTma7B-FsvD7alDqMWJXHg",
            ),
        ];
        for (key, signed) in cases {
            let algorithm = key["type_"].clone();
            assert_eq!(
                verify(&key, MESSAGE, &signature(signed)),
                Ok(()),
                "{algorithm}"
            );
            let error = verify(&key, b"changeaudit cose tesT", &signature(signed)).unwrap_err();
            assert!(error.contains("does not verify"), "{algorithm}: {error}");
        }
    }

    #[test]
    fn keys_that_are_not_what_they_say_are_refused_by_name() {
        let okp = json!({"type_": "EDDSA", "key": {"EC_OKP": {"curve": "ED25519", "x": "AA"}}});
        let error = verify(&okp, MESSAGE, &[0; 64]).unwrap_err();
        assert!(error.contains("EDDSA are not supported"), "{error}");
        let error = verify(&json!({"type_": "ES256"}), MESSAGE, &[]).unwrap_err();
        assert!(error.contains("not a COSE key"), "{error}");
        let off_curve = json!({"type_": "ES256", "key": {"EC_EC2": {"curve": "SECP256R1",
            "x": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE", "y": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"}}});
        let error = verify(&off_curve, MESSAGE, &[0; 8]).unwrap_err();
        assert!(error.contains("not a point"), "{error}");
    }
}
