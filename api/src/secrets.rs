//! Secrets the embedded default generates for itself on first start.

use rand::RngCore;
use secrecy::SecretString;
use std::io::Write;
use std::path::Path;

use infrastructure::{InfraError, Settings};

const JWT_SECRET_FILE: &str = "jwt-secret";

/// The configured token secret, or (embedded default) the one kept in the
/// data directory, generated on first start.
pub fn jwt_secret(settings: &Settings) -> Result<SecretString, InfraError> {
    if let Some(secret) = &settings.jwt_secret {
        return Ok(secret.clone());
    }
    read_or_generate(&settings.data_dir.join(JWT_SECRET_FILE)).map(SecretString::from)
}

fn read_or_generate(path: &Path) -> Result<String, InfraError> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        return Ok(existing.trim().to_string());
    }
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    write_private(path, &secret)?;
    tracing::warn!(path = %path.display(), "generated a token secret; set SWITCHBOARD_JWT_SECRET in production");
    Ok(secret)
}

/// Writes a file only its owner can read.
pub fn write_private(path: &Path, contents: &str) -> Result<(), InfraError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())?;
    Ok(())
}
