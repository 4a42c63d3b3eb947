//! Customers' media files kept by content under `<data_dir>/media`, as
//! attachments and recordings are.

use std::path::{Path, PathBuf};

use application::messages::MediaFiles;
use domain::inbound_message::MediaFile;

use crate::mail::attachments::{AttachmentStore, sha256_hex};

/// The media directory.
#[derive(Debug, Clone)]
pub struct MediaStore(AttachmentStore);

impl MediaStore {
    pub fn new(data_dir: &Path) -> Self {
        Self(AttachmentStore::under(data_dir.join("media")))
    }
}

impl MediaFiles for MediaStore {
    fn keep(&self, bytes: &[u8], content_type: &str) -> std::io::Result<MediaFile> {
        let sha256 = sha256_hex(bytes);
        self.0.put(&sha256, bytes)?;
        Ok(MediaFile {
            sha256,
            content_type: content_type.to_string(),
            size_bytes: bytes.len() as u64,
        })
    }

    fn find(&self, sha256: &str) -> Option<PathBuf> {
        let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        let path = self.0.path_of(sha256);
        (valid && path.is_file()).then_some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_kept_once_by_its_content_and_found_by_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let store = MediaStore::new(dir.path());
        let kept = store.keep(b"jpeg bytes", "image/jpeg").unwrap();
        assert_eq!(kept.size_bytes, 10);
        assert_eq!(kept.content_type, "image/jpeg");
        assert_eq!(kept.sha256, sha256_hex(b"jpeg bytes"));
        let again = store.keep(b"jpeg bytes", "image/jpeg").unwrap();
        assert_eq!(again, kept);
        let path = store.find(&kept.sha256).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"jpeg bytes");
        assert!(path.starts_with(dir.path().join("media")));
        assert_eq!(store.find(&"0".repeat(64)), None);
        assert_eq!(store.find("../etc/passwd"), None);
    }
}
