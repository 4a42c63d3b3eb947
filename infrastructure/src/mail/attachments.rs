//! Attachments stored by content: `<data_dir>/attachments/<first two hex
//! digits of the SHA-256>/<SHA-256>`. The same content is stored once
//! however many messages carry it; a file appears whole or not at all
//! (written aside, then renamed).

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The directory attachments live in.
#[derive(Debug, Clone)]
pub struct AttachmentStore {
    root: PathBuf,
}

/// The SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl AttachmentStore {
    /// Attachments under `data_dir/attachments`.
    pub fn new(data_dir: &Path) -> Self {
        Self::under(data_dir.join("attachments"))
    }

    /// Content stored under `root`, the same way.
    pub fn under(root: PathBuf) -> Self {
        Self { root }
    }

    /// Where content with this SHA-256 is (or would be) stored.
    pub fn path_of(&self, sha256: &str) -> PathBuf {
        let prefix = sha256.get(..2).unwrap_or("00");
        self.root.join(prefix).join(sha256)
    }

    /// Stores `bytes` whose SHA-256 is `sha256`, unless stored already.
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path_of(sha256);
        if path.exists() {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(&self.root);
        crate::files::private_dir(dir)?;
        let aside = dir.join(format!(".{sha256}.{}.part", uuid::Uuid::new_v4().simple()));
        let written = write_synced(&aside, bytes).and_then(|()| std::fs::rename(&aside, &path));
        if written.is_err() {
            let _ = std::fs::remove_file(&aside);
        }
        written
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = crate::files::create_private(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_stored_under_its_hash_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = AttachmentStore::new(dir.path());
        let sha = sha256_hex(b"invoice");
        store.put(&sha, b"invoice").unwrap();
        store.put(&sha, b"invoice").unwrap();
        let path = store.path_of(&sha);
        assert_eq!(path, dir.path().join("attachments").join(&sha[..2]).join(&sha));
        assert_eq!(std::fs::read(&path).unwrap(), b"invoice");
        let entries = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(entries, 1, "no partial files are left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600, "the file is the owner's alone");
            assert_eq!(mode(path.parent().unwrap()), 0o700);
            assert_eq!(mode(&dir.path().join("attachments")), 0o700);
        }
    }
}
