//! Secrets the embedded default generates for itself on first start.

use rand::RngCore;
use secrecy::SecretString;
use std::path::Path;

use infrastructure::cipher::Keyring;
use infrastructure::{InfraError, Settings};

const JWT_SECRET_FILE: &str = "jwt-secret";
const MASTER_KEYS_FILE: &str = "master-keys";

/// The configured token secret, or (embedded default) the one kept in the
/// data directory, generated on first start.
pub fn jwt_secret(settings: &Settings) -> Result<SecretString, InfraError> {
    if let Some(secret) = &settings.jwt_secret {
        return Ok(secret.clone());
    }
    read_or_generate(&settings.data_dir.join(JWT_SECRET_FILE)).map(SecretString::from)
}

/// The configured master keys, or (embedded default) a keyring kept in the
/// data directory, generated on first start.
pub fn master_keyring(settings: &Settings) -> Result<Keyring, InfraError> {
    if let Some(keys) = &settings.master_keys {
        return Keyring::parse(keys, settings.master_key_id.as_deref());
    }
    let path = settings.data_dir.join(MASTER_KEYS_FILE);
    let spec = match std::fs::read_to_string(&path) {
        Ok(existing) => existing.trim().to_string(),
        Err(_) => {
            let entry = Keyring::generate_entry("local-1");
            write_private(&path, &entry)?;
            tracing::warn!(path = %path.display(), "generated a master key for credentials; set SWITCHBOARD_MASTER_KEYS in production and keep a copy");
            entry
        }
    };
    Keyring::parse(&SecretString::from(spec), settings.master_key_id.as_deref())
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

/// Writes a file only its owner can read, in a directory only it can open.
pub fn write_private(path: &Path, contents: &str) -> Result<(), InfraError> {
    Ok(infrastructure::files::write_private(path, contents.as_bytes())?)
}
