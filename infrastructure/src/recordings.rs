//! Call recordings kept by content under `<data_dir>/recordings`, as
//! attachments are, and described: format, size, channels and length
//! (read from a WAV header; an MP3's are left unknown).

use std::path::{Path, PathBuf};

use application::calls::RecordingFiles;
use domain::call::RecordingFile;

use crate::mail::attachments::{AttachmentStore, sha256_hex};

/// The recordings directory.
#[derive(Debug, Clone)]
pub struct RecordingStore(AttachmentStore);

impl RecordingStore {
    pub fn new(data_dir: &Path) -> Self {
        Self(AttachmentStore::under(data_dir.join("recordings")))
    }
}

/// What the bytes are: a WAV (with its channels and length), an MP3, or
/// something else.
pub fn describe(bytes: &[u8]) -> RecordingFile {
    let wav = bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE";
    let mp3 = bytes.starts_with(b"ID3") || (bytes.len() >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0);
    let (format, content_type) = match (wav, mp3) {
        (true, _) => ("wav", "audio/wav"),
        (false, true) => ("mp3", "audio/mpeg"),
        _ => ("unknown", "application/octet-stream"),
    };
    let header = wav
        .then(|| hound::WavReader::new(std::io::Cursor::new(bytes)).ok())
        .flatten()
        .map(|reader| {
            let spec = reader.spec();
            let seconds = u64::from(reader.duration()).div_ceil(u64::from(spec.sample_rate.max(1)));
            (spec.channels, seconds)
        });
    RecordingFile {
        sha256: sha256_hex(bytes),
        format: format.into(),
        content_type: content_type.into(),
        size_bytes: bytes.len() as u64,
        channels: header.and_then(|(c, _)| u8::try_from(c).ok()),
        duration_secs: header.and_then(|(_, s)| u32::try_from(s).ok()),
    }
}

impl RecordingFiles for RecordingStore {
    fn keep(&self, bytes: &[u8]) -> std::io::Result<RecordingFile> {
        let file = describe(bytes);
        self.0.put(&file.sha256, bytes)?;
        Ok(file)
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

    fn wav(channels: u16, seconds: u32) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels,
            sample_rate: 8_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut bytes = std::io::Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut bytes, spec).unwrap();
        for _ in 0..(8_000 * seconds * u32::from(channels)) {
            writer.write_sample(0i16).unwrap();
        }
        writer.finalize().unwrap();
        bytes.into_inner()
    }

    #[test]
    fn a_wav_is_described_by_its_header_and_kept_under_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordingStore::new(dir.path());
        let bytes = wav(2, 3);
        let kept = store.keep(&bytes).unwrap();
        assert_eq!((kept.format.as_str(), kept.content_type.as_str()), ("wav", "audio/wav"));
        assert_eq!((kept.channels, kept.duration_secs), (Some(2), Some(3)));
        assert_eq!(kept.size_bytes, bytes.len() as u64);
        let path = store.find(&kept.sha256).unwrap();
        assert_eq!(std::fs::read(path).unwrap(), bytes);
        assert_eq!(store.find(&"0".repeat(64)), None);
        assert_eq!(store.find("../../etc/passwd"), None);
    }

    #[test]
    fn an_mp3_or_anything_else_is_kept_with_what_is_known_of_it() {
        let mp3 = describe(b"ID3\x04\x00rest");
        assert_eq!(
            (mp3.format.as_str(), mp3.channels, mp3.duration_secs),
            ("mp3", None, None)
        );
        let other = describe(b"hello");
        assert_eq!(other.content_type, "application/octet-stream");
    }
}
