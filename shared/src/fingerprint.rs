//! SHA-256 fingerprints of certificates and hashes of secrets.
//!
//! Operators copy a CA fingerprint from the server's console into an
//! enrollment command, so parsing is lenient about case, colons and a
//! `sha256:` prefix, and strict about length.

use ring::digest::{SHA256, digest};

/// The SHA-256 of `bytes` (a certificate's DER, a token), lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest(&SHA256, bytes))
}

/// Parses a fingerprint as an operator may paste it: `sha256:AB:CD...`,
/// `abcd...`, upper or lower case. Returns the canonical lower-case hex.
pub fn parse_fingerprint(text: &str) -> Result<String, String> {
    let t = text.trim();
    let t = t
        .strip_prefix("sha256:")
        .or_else(|| t.strip_prefix("SHA256:"))
        .unwrap_or(t);
    let hex: String = t
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_lowercase();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "`{text}` is not a SHA-256 fingerprint: expected 64 hex digits, as printed by `deskhand tokens create`"
        ));
    }
    Ok(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_in_every_pasted_form() {
        let fp = sha256_hex(b"ca");
        assert_eq!(fp.len(), 64);
        let colons: Vec<String> = fp
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).to_uppercase())
            .collect();
        for form in [fp.clone(), format!("sha256:{fp}"), colons.join(":")] {
            assert_eq!(
                parse_fingerprint(&form).as_deref(),
                Ok(fp.as_str()),
                "{form}"
            );
        }
        assert!(parse_fingerprint("abc").is_err());
        assert!(parse_fingerprint(&"zz".repeat(32)).is_err());
    }
}
