//! argon2id password hashes and the password strength rule (one place for both).

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 10;

/// Passwords too common to accept whatever their length.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password123",
    "1234567890",
    "12345678910",
    "qwertyuiop",
    "qwerty1234",
    "iloveyou12",
    "letmein123",
    "welcome123",
    "administrator",
    "postdesk123",
    "changeme123",
    "0987654321",
    "1q2w3e4r5t",
    "abcdefghij",
];

/// Why a password was refused; [`Weakness::message_key`] names the i18n message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weakness {
    /// Fewer than [`MIN_LENGTH`] characters.
    TooShort,
    /// Too few different characters, a well-known password, or the email itself.
    TooGuessable,
}

impl Weakness {
    /// The i18n key of the message shown to the user.
    pub fn message_key(self) -> &'static str {
        match self {
            Weakness::TooShort => "password_too_short",
            Weakness::TooGuessable => "password_too_guessable",
        }
    }
}

/// Checks a new password: at least [`MIN_LENGTH`] characters, at least 5 different ones,
/// not a well-known password and not the account's email or its local part.
pub fn check_strength(password: &str, email: &str) -> Result<(), Weakness> {
    if password.chars().count() < MIN_LENGTH {
        return Err(Weakness::TooShort);
    }
    let lower = password.to_lowercase();
    let mut distinct: Vec<char> = lower.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    let email = email.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    if distinct.len() < 5
        || COMMON.contains(&lower.as_str())
        || lower == email
        || (!local.is_empty() && lower == local)
    {
        return Err(Weakness::TooGuessable);
    }
    Ok(())
}

/// Hashes a password with argon2id and a fresh random salt (PHC string).
pub fn hash(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("password hashing failed: {e}"))
}

/// True when `password` matches the stored PHC hash. An empty or malformed hash (an
/// invited account that has not set a password yet) never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    !stored.is_empty()
        && Argon2::default()
            .verify_password(password.as_bytes(), stored)
            .is_ok()
}

/// A hash that matches nothing, checked against when the email is unknown so that an
/// unknown account costs the same time as a wrong password.
pub fn dummy_verify(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("postdesk-dummy-password").unwrap_or_default());
    let _ = verify(password, stored);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash("correct horse battery").expect("hash");
        let b = hash("correct horse battery").expect("hash");
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b);
        assert!(verify("correct horse battery", &a));
        assert!(!verify("wrong horse battery", &a));
        assert!(!verify("anything", ""));
    }

    #[test]
    fn strength_rule() {
        assert_eq!(check_strength("short1", "a@b.c"), Err(Weakness::TooShort));
        assert_eq!(
            check_strength("aaaaaaaaaaaa", "a@b.c"),
            Err(Weakness::TooGuessable)
        );
        assert_eq!(
            check_strength("password123", "a@b.c"),
            Err(Weakness::TooGuessable)
        );
        assert_eq!(
            check_strength("anna.smith1", "anna.smith1@x.org"),
            Err(Weakness::TooGuessable)
        );
        assert_eq!(check_strength("violet-kettle-42", "a@b.c"), Ok(()));
    }
}
