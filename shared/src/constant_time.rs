//! Comparing secrets (a nonce, a keyed digest, a hash) without stopping at the first
//! difference, so that how long a comparison takes says nothing of where they differ.

/// Whether `a` and `b` are the same bytes, in time that depends only on their lengths.
pub fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |differ, (x, y)| differ | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::equal;

    #[test]
    fn equal_only_when_every_byte_and_the_length_agree() {
        assert!(equal(b"nonce", b"nonce"));
        assert!(!equal(b"nonce", b"nonca"));
        assert!(!equal(b"nonce", b"nonce!"));
        assert!(equal(b"", b""));
    }
}
