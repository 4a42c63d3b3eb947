//! Files and directories only the server's own user may read: the data
//! directory and everything the server writes under it (the SQLite files,
//! generated keys, stored attachments) are 0700 and 0600.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Creates `path` and its missing parents as 0700, and makes `path` 0700
/// if it was there already.
pub fn private_dir(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)?;
    restrict(path, 0o700)
}

/// Creates (or truncates) a file only its owner can read and write.
pub fn create_private(path: &Path) -> io::Result<File> {
    let file = private_options().truncate(true).open(path)?;
    restrict(path, 0o600)?;
    Ok(file)
}

/// Creates the file if missing, as 0600, without touching its contents;
/// an existing one is made 0600.
pub fn touch_private(path: &Path) -> io::Result<()> {
    private_options().open(path)?;
    restrict(path, 0o600)
}

/// Writes a file only its owner can read, creating its directory as 0700.
pub fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        private_dir(dir)?;
    }
    create_private(path)?.write_all(contents)
}

/// Makes an existing file 0600; a missing one is no error.
pub fn restrict_if_present(path: &Path) -> io::Result<()> {
    match path.exists() {
        true => restrict(path, 0o600),
        false => Ok(()),
    }
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_file_written_privately_and_its_new_directories_are_the_owners_alone() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("a/b/secret");
        write_private(&path, b"s").unwrap();
        assert_eq!(
            (
                mode(&path),
                mode(&root.path().join("a/b")),
                mode(&root.path().join("a"))
            ),
            (0o600, 0o700, 0o700)
        );
    }

    #[test]
    fn an_existing_open_directory_and_file_are_made_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let file = dir.join("switchboard.db");
        std::fs::write(&file, b"keep").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        private_dir(&dir).unwrap();
        touch_private(&file).unwrap();
        restrict_if_present(&dir.join("absent")).unwrap();
        assert_eq!((mode(&dir), mode(&file)), (0o700, 0o600));
        assert_eq!(std::fs::read(&file).unwrap(), b"keep", "contents untouched");
    }
}
