//! Unpredictable values from the operating system's generator.

use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use rand::{Rng, RngExt};

/// The operating system's generator; it failing is not something the product can work around.
fn system() -> UnwrapErr<SysRng> {
    UnwrapErr(SysRng)
}

pub fn bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    system().fill_bytes(&mut bytes);
    bytes
}

/// Letters and digits that cannot be mistaken for one another when read off a screen.
const READABLE: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A password to be read and typed by a person: four groups of five, about 115 bits.
pub fn readable_password() -> String {
    (0..4)
        .map(|_| {
            (0..5)
                .map(|_| char::from(READABLE[system().random_range(0..READABLE.len())]))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_passwords_have_the_promised_shape_and_differ() {
        let password = readable_password();
        assert_eq!(password.len(), 23);
        assert!(
            password
                .split('-')
                .all(|group| group.len() == 5 && group.bytes().all(|b| READABLE.contains(&b)))
        );
        assert_ne!(password, readable_password());
        assert_ne!(bytes::<32>(), bytes::<32>());
    }
}
