//! Files under the data directory: attachments, content-addressed by SHA-256
//! (`attachments/ab/abcdef…`), and raw messages, gzip-compressed
//! (`raw/ab/abcdef….eml.gz`). Writing the same content twice is a no-op, so a file
//! written before a crash and written again on the retry is harmless.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::mail::inbound::parse::hex;

/// Where files live.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    /// A store rooted at the data directory.
    pub fn new(data_dir: &Path) -> FileStore {
        FileStore {
            root: data_dir.to_path_buf(),
        }
    }

    /// Saves attachment bytes; returns their SHA-256 (hex), which names the file.
    pub fn put_attachment(&self, bytes: &[u8]) -> std::io::Result<String> {
        let sha = hex(&Sha256::digest(bytes));
        let path = self.attachment_path(&sha);
        if !path.exists() {
            write_atomic(&path, bytes, true)?;
        }
        Ok(sha)
    }

    /// Reads attachment bytes by SHA-256.
    pub fn get_attachment(&self, sha256: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.attachment_path(sha256))
    }

    fn attachment_path(&self, sha: &str) -> PathBuf {
        let sha: String = sha.chars().filter(char::is_ascii_hexdigit).collect();
        self.root
            .join("attachments")
            .join(sha.get(..2).unwrap_or("00"))
            .join(&sha)
    }

    /// Saves a raw message compressed; returns its path relative to the data directory.
    pub fn put_raw(&self, raw: &[u8]) -> std::io::Result<String> {
        let sha = hex(&Sha256::digest(raw));
        let rel = format!("raw/{}/{sha}.eml.gz", &sha[..2]);
        let path = self.root.join(&rel);
        if !path.exists() {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(raw)?;
            write_atomic(&path, &gz.finish()?, false)?;
        }
        Ok(rel)
    }

    /// Reads a raw message saved by [`FileStore::put_raw`].
    pub fn get_raw(&self, rel: &str) -> std::io::Result<Vec<u8>> {
        if !rel.starts_with("raw/") || rel.contains("..") {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a raw message path",
            ));
        }
        let file = std::fs::File::open(self.root.join(rel))?;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(file).read_to_end(&mut out)?;
        Ok(out)
    }
}

/// Writes a file under a temporary name, then renames it into place. `durable` also
/// flushes it to disk first (attachments: the only copy of their bytes); raw copies skip
/// that per-message fsync, which would otherwise cap fetching at a few hundred messages a
/// second: the parsed message is already in the database by then.
fn write_atomic(path: &Path, bytes: &[u8], durable: bool) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        if durable {
            f.sync_data()?;
        }
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_content_addressed_and_raw_is_compressed() {
        let dir = tempfile::tempdir().expect("dir");
        let store = FileStore::new(dir.path());
        let a = store.put_attachment(b"hello").expect("put");
        assert_eq!(a, store.put_attachment(b"hello").expect("again"));
        assert_eq!(store.get_attachment(&a).expect("get"), b"hello");
        let raw = b"Subject: x\r\n\r\nbody\r\n".repeat(100);
        let rel = store.put_raw(&raw).expect("raw");
        assert!(
            std::fs::metadata(dir.path().join(&rel))
                .expect("meta")
                .len()
                < raw.len() as u64
        );
        assert_eq!(store.get_raw(&rel).expect("read"), raw);
        assert!(store.get_raw("../etc/passwd").is_err());
    }
}
