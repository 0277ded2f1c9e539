//! The instance secret (`<data>/secret.key`, created on first use, mode 0600) and what is
//! derived from it: encryption of stored mail passwords and HMAC signatures.

use std::path::Path;

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::mail::inbound::parse::hex;

/// The file holding the instance secret inside the data directory.
pub const SECRET_FILE: &str = "secret.key";

/// Problems with the secret or with data protected by it.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The key file could not be read or written.
    #[error("instance secret {path}: {cause}")]
    KeyFile {
        /// The file.
        path: String,
        /// What went wrong.
        cause: String,
    },
    /// A stored secret could not be decrypted (wrong key file, or damaged value).
    #[error(
        "a stored password cannot be decrypted: was {SECRET_FILE} replaced? Enter the password again"
    )]
    Decrypt,
}

/// The instance secret.
#[derive(Clone)]
pub struct Secrets {
    key: [u8; 32],
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(..)")
    }
}

impl Secrets {
    /// Reads `<data>/secret.key`, creating it with a random key if it does not exist.
    pub fn load_or_create(data_dir: &Path) -> Result<Secrets, CryptoError> {
        let path = data_dir.join(SECRET_FILE);
        let err = |cause: String| CryptoError::KeyFile {
            path: path.display().to_string(),
            cause,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let bytes = from_hex(text.trim())
                    .filter(|b| b.len() == 32)
                    .ok_or_else(|| {
                        err("expected 64 hex characters; restore the original file".into())
                    })?;
                let mut key = [0u8; 32];
                key.copy_from_slice(&bytes);
                Ok(Secrets { key })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(|e| err(e.to_string()))?;
                let key: [u8; 32] = ChaCha20Poly1305::generate_key(&mut OsRng).into();
                write_private(&path, hex(&key).as_bytes()).map_err(|e| err(e.to_string()))?;
                Ok(Secrets { key })
            }
            Err(e) => Err(err(e.to_string())),
        }
    }

    /// A fixed secret, for tests and benchmarks.
    pub fn from_bytes(key: [u8; 32]) -> Secrets {
        Secrets { key }
    }

    /// Encrypts a short secret (a mail password) for storage: hex of nonce + ciphertext.
    pub fn encrypt(&self, plaintext: &str) -> String {
        if plaintext.is_empty() {
            return String::new();
        }
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.key));
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        match cipher.encrypt(&nonce, plaintext.as_bytes()) {
            Ok(ct) => format!("v1:{}{}", hex(&nonce), hex(&ct)),
            // Encryption of an in-memory buffer cannot fail for this cipher.
            Err(_) => String::new(),
        }
    }

    /// Decrypts a value made by [`Secrets::encrypt`].
    pub fn decrypt(&self, stored: &str) -> Result<String, CryptoError> {
        if stored.is_empty() {
            return Ok(String::new());
        }
        let bytes = stored
            .strip_prefix("v1:")
            .and_then(from_hex)
            .ok_or(CryptoError::Decrypt)?;
        if bytes.len() < 12 {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ct) = bytes.split_at(12);
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.key));
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| CryptoError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Decrypt)
    }

    /// HMAC-SHA256 of `data` under a purpose-specific key, hex.
    pub fn sign(&self, purpose: &str, data: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .expect("HMAC accepts keys of any length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(data.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// Random bytes as hex, for tokens and ids.
    pub fn random_hex(bytes: usize) -> String {
        use chacha20poly1305::aead::rand_core::RngCore;
        let mut buf = vec![0u8; bytes];
        OsRng.fill_bytes(&mut buf);
        hex(&buf)
    }
}

/// Writes a file only the owner can read, atomically (temp file, then rename).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_and_private() {
        let dir = tempfile::tempdir().expect("dir");
        let a = Secrets::load_or_create(dir.path()).expect("create");
        let b = Secrets::load_or_create(dir.path()).expect("load");
        assert_eq!(a.key, b.key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SECRET_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn passwords_round_trip_and_tampering_is_detected() {
        let s = Secrets::from_bytes([7; 32]);
        let stored = s.encrypt("pässwörd");
        assert!(!stored.contains("pässwörd"));
        assert_ne!(stored, s.encrypt("pässwörd"), "a fresh nonce each time");
        assert_eq!(s.decrypt(&stored).expect("decrypt"), "pässwörd");
        // Change the last hex digit (to a different one: it is '0' one time in 16).
        let mut bad = stored.clone();
        let last = bad.pop();
        bad.push(if last == Some('0') { '1' } else { '0' });
        assert!(s.decrypt(&bad).is_err());
        assert!(Secrets::from_bytes([8; 32]).decrypt(&stored).is_err());
        assert!(s.decrypt("garbage").is_err());
        assert_eq!(s.decrypt("").expect("empty"), "");
    }

    #[test]
    fn broken_key_file_is_reported() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join(SECRET_FILE), "nothex").expect("write");
        let err = Secrets::load_or_create(dir.path())
            .expect_err("bad key")
            .to_string();
        assert!(err.contains(SECRET_FILE), "{err}");
    }
}
