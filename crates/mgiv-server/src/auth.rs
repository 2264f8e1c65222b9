//! Accounts: argon2id password hashes, session tokens (stored only as their SHA-256), CSRF tokens
//! (double submit: the token is returned at sign-in and must come back in `X-CSRF-Token` or the
//! form's `csrf` field on every state-changing request), sign-in rate limiting, roles.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

use crate::util::hex;

/// The roles. Clinicians and pharmacists see and change their team's patients; administrators
/// manage accounts, the audit log and exports and see no patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Clinician,
    Pharmacist,
    Admin,
}

pub const ALL_ROLES: [Role; 3] = [Role::Clinician, Role::Pharmacist, Role::Admin];
pub const CLINICAL: &[Role] = &[Role::Clinician, Role::Pharmacist];
pub const ADMIN: &[Role] = &[Role::Admin];
pub const ANY_ROLE: &[Role] = &ALL_ROLES;

impl Role {
    pub fn parse(s: &str) -> Result<Role, crate::db::StoreError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "clinician" => Ok(Role::Clinician),
            "pharmacist" => Ok(Role::Pharmacist),
            "admin" => Ok(Role::Admin),
            _ => Err(crate::db::invalid(
                "role",
                s,
                "clinician, pharmacist or admin",
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clinician => "clinician",
            Role::Pharmacist => "pharmacist",
            Role::Admin => "admin",
        }
    }
}

/// Passwords shorter than this are refused.
pub const MIN_PASSWORD_CHARS: usize = 10;

pub fn hash_password(password: &str) -> Result<String, crate::db::StoreError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(crate::db::invalid(
            "password",
            format!("{} characters", password.chars().count()),
            &format!("at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("operating-system random source");
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| crate::db::invalid("salt", e, "16 bytes"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| crate::db::invalid("password", e, "a password argon2 can hash"))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so both cases take the same time.
pub fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("not-a-real-password-at-all").unwrap_or_default())
}

pub fn token_sha256(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Constant-time comparison of two tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Failed sign-ins per user name: after `MAX_FAILURES` within `WINDOW`, sign-in is refused (429)
/// until the window has passed.
pub struct RateLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
    pub max_failures: u32,
    pub window: Duration,
}

pub const MAX_FAILURES: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter {
            failures: Mutex::new(HashMap::new()),
            max_failures: MAX_FAILURES,
            window: WINDOW,
        }
    }
}

impl RateLimiter {
    /// Seconds to wait, when the name is locked out.
    pub fn locked(&self, key: &str) -> Option<u64> {
        let m = self.failures.lock().ok()?;
        let (n, since) = m.get(key)?;
        let el = since.elapsed();
        (*n >= self.max_failures && el < self.window).then(|| (self.window - el).as_secs().max(1))
    }
    pub fn failed(&self, key: &str) {
        if let Ok(mut m) = self.failures.lock() {
            let e = m.entry(key.to_string()).or_insert((0, Instant::now()));
            if e.1.elapsed() >= self.window {
                *e = (0, Instant::now());
            }
            e.0 += 1;
        }
    }
    pub fn succeeded(&self, key: &str) {
        if let Ok(mut m) = self.failures.lock() {
            m.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_hash_verifies_only_the_right_password() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains("correct horse"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("x", "not a hash"));
        let e = hash_password("short").unwrap_err().to_string();
        assert!(e.contains("password") && e.contains("at least 10"), "{e}");
    }

    #[test]
    fn rate_limiter_locks_after_max_failures() {
        let r = RateLimiter::default();
        for _ in 0..MAX_FAILURES - 1 {
            r.failed("ann");
        }
        assert!(r.locked("ann").is_none());
        r.failed("ann");
        assert!(r.locked("ann").is_some());
        assert!(r.locked("bob").is_none());
        r.succeeded("ann");
        assert!(r.locked("ann").is_none());
    }
}
