//! Bearer secrets: enrollment tokens and operator API tokens.
//!
//! A token is 256 random bits, hex, with a prefix that says what it is
//! for. Only its SHA-256 is stored; with that much entropy a plain hash
//! is as good as a slow one, and lookups stay one index probe.

use anyhow::{Result, anyhow};
use deskhand_shared::fingerprint::sha256_hex;
use ring::rand::{SecureRandom, SystemRandom};

/// Prefix of enrollment tokens.
pub const ENROLLMENT_PREFIX: &str = "dhe_";
/// Prefix of operator API tokens.
pub const OPERATOR_PREFIX: &str = "dho_";

/// A new random token with the given prefix.
pub fn new_token(prefix: &str) -> Result<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow!("the system random number generator failed"))?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    sha256_hex(token.trim().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_prefixed_and_hash_stably() {
        let a = new_token(OPERATOR_PREFIX).expect("token");
        let b = new_token(OPERATOR_PREFIX).expect("token");
        assert_ne!(a, b);
        assert!(a.starts_with(OPERATOR_PREFIX) && a.len() == 4 + 64);
        assert_eq!(hash_token(&a), hash_token(&format!(" {a}\n")));
        assert_ne!(hash_token(&a), hash_token(&b));
    }
}
