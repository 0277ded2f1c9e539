//! Files under the data directory: attachments, content-addressed by SHA-256
//! (`attachments/ab/abcdef…`; writing the same content twice is a no-op), and raw
//! messages, each gzip-compressed and appended to a segment file of its day and process
//! (`raw/2026-11-25/<pid>-<random>.seg`), named in the database as
//! `raw/…seg:<offset>:<length>`. One file per message made ext4's inode allocation the
//! largest cost of fetching (docs/BENCHMARKS.md). A record half-written before a crash is
//! never referenced (the database transaction did not commit) and is skipped.

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
            write_atomic(&path, bytes)?;
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

    /// Saves a raw message compressed; returns where it is, relative to the data directory.
    pub fn put_raw(&self, raw: &[u8]) -> std::io::Result<String> {
        use std::sync::{Mutex, OnceLock};
        static APPEND: Mutex<()> = Mutex::new(());
        static PROCESS: OnceLock<String> = OnceLock::new();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(raw)?;
        let record = gz.finish()?;
        let process = PROCESS.get_or_init(|| {
            format!(
                "{}-{}",
                std::process::id(),
                crate::crypto::Secrets::random_hex(4)
            )
        });
        let rel_file = format!(
            "raw/{}/{process}.seg",
            chrono::Utc::now().format("%Y-%m-%d")
        );
        let path = self.root.join(&rel_file);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // One appender at a time in this process; other processes use their own segments.
        let _guard = APPEND
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let offset = file.metadata()?.len();
        file.write_all(&record)?;
        Ok(format!("{rel_file}:{offset}:{}", record.len()))
    }

    /// Reads a raw message saved by [`FileStore::put_raw`] (or a whole `.eml.gz` file).
    pub fn get_raw(&self, rel: &str) -> std::io::Result<Vec<u8>> {
        let invalid = || {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a raw message reference",
            )
        };
        if !rel.starts_with("raw/") || rel.contains("..") {
            return Err(invalid());
        }
        let compressed = match rel.split_once(".seg:") {
            Some((file, range)) => {
                let (offset, len) = range.split_once(':').ok_or_else(invalid)?;
                let offset: u64 = offset.parse().map_err(|_| invalid())?;
                let len: usize = len.parse().map_err(|_| invalid())?;
                let mut f = std::fs::File::open(self.root.join(format!("{file}.seg")))?;
                std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(offset))?;
                let mut buf = vec![0u8; len];
                f.read_exact(&mut buf)?;
                buf
            }
            None => std::fs::read(self.root.join(rel))?,
        };
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(compressed.as_slice()).read_to_end(&mut out)?;
        Ok(out)
    }
}

/// Writes a file under a temporary name, flushes it to disk and renames it into place.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_are_content_addressed_and_raw_copies_are_compressed_records() {
        let dir = tempfile::tempdir().expect("dir");
        let store = FileStore::new(dir.path());
        let a = store.put_attachment(b"hello").expect("put");
        assert_eq!(a, store.put_attachment(b"hello").expect("again"));
        assert_eq!(store.get_attachment(&a).expect("get"), b"hello");
        let raw = b"Subject: x\r\n\r\nbody\r\n".repeat(100);
        let first = store.put_raw(&raw).expect("raw");
        let second = store.put_raw(b"Subject: y\r\n\r\nother\r\n").expect("raw");
        let len: usize = first
            .rsplit(':')
            .next()
            .and_then(|l| l.parse().ok())
            .expect("length");
        assert!(len < raw.len(), "compressed: {first}");
        assert_eq!(store.get_raw(&first).expect("read"), raw);
        assert_eq!(
            store.get_raw(&second).expect("read"),
            b"Subject: y\r\n\r\nother\r\n"
        );
        assert!(store.get_raw("../etc/passwd").is_err());
        assert!(store.get_raw("raw/x.seg:notanumber:1").is_err());
        assert!(
            store.get_raw("raw/x.seg:0:99999").is_err(),
            "a missing segment is an error, not a panic"
        );
    }
}
