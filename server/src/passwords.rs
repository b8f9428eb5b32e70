//! Operators' console passwords and sessions: argon2id hashes (the
//! memory-hard default of the `argon2` crate: 19 MiB, 2 passes), new
//! passwords and session secrets from the system's random source, the
//! rules a password must meet, and when a session has expired. No I/O but
//! the random source.

use anyhow::{Result, anyhow};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use ring::rand::{SecureRandom, SystemRandom};

/// The shortest password an operator may choose.
pub const MIN_LENGTH: usize = 12;
/// The longest (argon2 takes any length; a bound keeps a login cheap to
/// refuse).
pub const MAX_LENGTH: usize = 256;
/// A session ends after this long without a request.
pub const IDLE_SECS: i64 = 30 * 60;
/// A session ends this long after login, used or not.
pub const MAX_SECS: i64 = 12 * 3600;

fn random(bytes: &mut [u8]) -> Result<()> {
    SystemRandom::new()
        .fill(bytes)
        .map_err(|_| anyhow!("the system random number generator failed"))
}

/// The stored form of a password: an argon2id PHC string with its salt.
pub fn hash(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    random(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow!("salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow!("hashing the password: {e}"))?
        .to_string())
}

/// Whether `password` matches a stored hash; a damaged hash matches nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    if password.len() > MAX_LENGTH {
        return false;
    }
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checks a password an operator chose; the error says what to change.
pub fn check(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_LENGTH {
        return Err(format!(
            "the password has {n} characters: give at least {MIN_LENGTH}, or leave it out to get a generated one"
        ));
    }
    if password.len() > MAX_LENGTH {
        return Err(format!("the password is longer than {MAX_LENGTH} bytes"));
    }
    if password.trim() != password {
        return Err("the password starts or ends with a space: remove it".into());
    }
    Ok(())
}

/// A new password: 20 characters from an alphabet without look-alikes, in
/// groups of five (about 100 bits).
pub fn generate() -> Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    random(&mut bytes)?;
    let mut out = String::new();
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 5 == 0 {
            out.push('-');
        }
        // 256 is not a multiple of 56: a slight bias, of no use to a guesser
        // at 100 bits.
        out.push(ALPHABET[usize::from(*b) % ALPHABET.len()] as char);
    }
    Ok(out)
}

/// A new session secret for a cookie, and a CSRF token: 256 random bits,
/// hex.
pub fn secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    random(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// Whether a session that began at `created_at` and was last used at
/// `last_seen` is still good at `now`.
pub fn session_alive(created_at: i64, last_seen: i64, now: i64) -> bool {
    now >= created_at && now - last_seen < IDLE_SECS && now - created_at < MAX_SECS
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    // The secrets compared have a fixed length: only their bytes are
    // secret, and every byte is looked at.
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterx", &h));
        assert!(!verify("correct horse battery", "not a hash"));
        assert_ne!(h, hash("correct horse battery").expect("hash"), "salted");
    }

    #[test]
    fn chosen_passwords_are_checked() {
        assert!(check("short").expect_err("short").contains("at least 12"));
        assert!(check(" leading space ok?").is_err());
        assert!(check(&"x".repeat(300)).is_err());
        assert!(check("a long enough one").is_ok());
    }

    #[test]
    fn generated_passwords_are_long_grouped_and_pass_the_check() {
        let p = generate().expect("generate");
        assert_eq!(p.len(), 23, "{p}");
        assert_eq!(p.matches('-').count(), 3);
        assert!(check(&p).is_ok());
        assert_ne!(p, generate().expect("generate"));
        assert_eq!(secret().expect("secret").len(), 64);
    }

    #[test]
    fn sessions_end_when_idle_or_old() {
        assert!(session_alive(0, 0, IDLE_SECS - 1));
        assert!(!session_alive(0, 0, IDLE_SECS));
        assert!(session_alive(0, MAX_SECS - 10, MAX_SECS - 1));
        assert!(!session_alive(0, MAX_SECS - 10, MAX_SECS));
        assert!(!session_alive(100, 100, 99), "a session from the future");
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
