//! RFC 6962's published Merkle tree test vectors (from certificate-transparency), and the
//! verifier's check of itself against them: a verifier that cannot reproduce them is not to
//! be trusted with a trail. The Verify a bundle page runs it in the browser before anything.

use crate::merkle::{Hash, leaf_hash, parse_hash, root, verify_consistency, verify_inclusion};
use crate::trail::hex;

/// The leaves of the reference tree of RFC 6962's test vectors (certificate-transparency).
pub const LEAVES: [&[u8]; 8] = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
];

/// The published roots of the first 0 to 8 leaves.
pub const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// Published inclusion proofs: (leaf index, tree size, path).
pub const INCLUSION: [(u64, u64, &[&str]); 4] = [
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// Published consistency proofs: (old size, new size, proof).
pub const CONSISTENCY: [(u64, u64, &[&str]); 4] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// Reproduces the published roots and verifies the published inclusion and consistency
/// proofs; says which vector fails.
pub fn self_check() -> Result<(), String> {
    check(&ROOTS, &INCLUSION, &CONSISTENCY)
}

type Proofs<'a> = [(u64, u64, &'a [&'a str])];

fn check(roots: &[&str], inclusion: &Proofs<'_>, consistency: &Proofs<'_>) -> Result<(), String> {
    let leaves: Vec<Hash> = LEAVES.iter().map(|data| leaf_hash(data)).collect();
    let hash = |text: &str| parse_hash(text).ok_or_else(|| format!("vector {text} is not hex"));
    let proof = |texts: &[&str]| {
        texts
            .iter()
            .map(|text| hash(text))
            .collect::<Result<Vec<_>, _>>()
    };
    for (size, expected) in roots.iter().enumerate() {
        if hex(&root(&leaves[..size])) != *expected {
            return Err(format!("the root of the first {size} leaves"));
        }
    }
    for &(index, size, path) in inclusion {
        let leaf = &leaves[usize::try_from(index)
            .unwrap_or(usize::MAX)
            .min(leaves.len() - 1)];
        let signed = hash(roots[usize::try_from(size).unwrap_or(0)])?;
        verify_inclusion(index, size, leaf, &proof(path)?, &signed)
            .map_err(|error| format!("the inclusion of leaf {index} of {size}: {error}"))?;
    }
    for &(old, new, path) in consistency {
        let old_root = hash(roots[usize::try_from(old).unwrap_or(0)])?;
        let new_root = hash(roots[usize::try_from(new).unwrap_or(0)])?;
        verify_consistency(old, new, &proof(path)?, &old_root, &new_root)
            .map_err(|error| format!("the consistency of {old} with {new}: {error}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verifier_reproduces_the_published_vectors_and_notices_a_wrong_one() {
        assert_eq!(self_check(), Ok(()));
        let mut roots = ROOTS;
        roots[5] = ROOTS[4];
        let error = check(&roots, &INCLUSION, &CONSISTENCY).unwrap_err();
        assert!(error.contains("first 5 leaves"), "{error}");
        let mut proofs = INCLUSION;
        proofs[1].2 = &[];
        let error = check(&ROOTS, &proofs, &CONSISTENCY).unwrap_err();
        assert!(error.contains("inclusion of leaf 5 of 8"), "{error}");
    }
}
