//! Passwords, session tokens and other secrets.
//!
//! Passwords are bcrypt hashes; session tokens and one-time codes are random and stored only
//! as SHA-256 hashes (they are long and random, so a fast hash is enough). These functions
//! block (bcrypt on purpose), so callers run them through `Db::blocking`.

use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};

/// Hashes a password with bcrypt at the given cost.
pub fn hash_password(password: &str, cost: u32) -> ApiResult<String> {
    bcrypt::hash(password, cost)
        .map_err(|error| ApiError::Internal(anyhow::anyhow!("bcrypt hash: {error}")))
}

/// Checks a password against a bcrypt hash; a malformed hash counts as a mismatch.
pub fn verify_password(password: &str, hash: &str) -> bool {
    bcrypt::verify(password, hash).unwrap_or(false)
}

/// A new session token: 256 random bits, URL-safe.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The form in which a token or code is stored and looked up.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A random password for accounts whose password the server picks.
pub fn generate_password() -> String {
    rand::rng().sample_iter(&Alphanumeric).take(20).map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let hash = hash_password("correct horse", 4).unwrap();
        assert!(hash.starts_with("$2"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), a);
        assert_eq!(generate_password().len(), 20);
    }
}
