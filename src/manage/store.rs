//! The configuration file on disk, written so that a power cut at any moment leaves a valid
//! file: the new text goes to a temporary file beside it, is synced, renamed over the file,
//! and the directory is synced. The version it replaces is kept as `<file>.previous` (written
//! the same way first), so a rollback always has something to go back to.
//!
//! Test hook: `SALLE_TEST_CRASH_AT=<point>` aborts the process at that point of a write (one
//! of `CRASH_POINTS`), as a power cut would stop it; the power-cut test uses it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Every point of a write at which the test hook can stop the process, in order.
pub const CRASH_POINTS: [&str; 7] = [
    "previous-half-written",
    "previous-synced",
    "previous-renamed",
    "half-written",
    "synced",
    "renamed",
    "done",
];

/// Mode of a new configuration file: it may hold secrets (TURN credentials).
const NEW_FILE_MODE: u32 = 0o640;

fn reached(point: &str) {
    if std::env::var("SALLE_TEST_CRASH_AT").is_ok_and(|at| at == point) {
        // No unwinding, no destructors, no flush: as close to a power cut as a process gets.
        std::process::abort();
    }
}

/// The configuration file and its previous version.
#[derive(Debug, Clone)]
pub struct ConfigStore {
    path: PathBuf,
}

impl ConfigStore {
    pub fn new(path: &Path) -> ConfigStore {
        ConfigStore {
            path: path.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn previous_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".previous");
        self.path.with_file_name(name)
    }

    /// The file's text; empty when there is no file yet.
    pub fn read(&self) -> std::io::Result<String> {
        read_or_empty(&self.path)
    }

    pub fn has_previous(&self) -> bool {
        self.previous_path().is_file()
    }

    /// Replaces the file with `text`, keeping what it held as the previous version.
    pub fn write(&self, text: &str) -> std::io::Result<()> {
        let mode = std::fs::metadata(&self.path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(NEW_FILE_MODE);
        if self.path.exists() {
            let current = std::fs::read_to_string(&self.path)?;
            write_atomically(&self.previous_path(), &current, mode, "previous-")?;
        }
        write_atomically(&self.path, text, mode, "")?;
        reached("done");
        Ok(())
    }

    /// Puts the previous version back (the current one becomes the previous, so a second
    /// rollback undoes the first). Returns the text now in the file.
    pub fn rollback(&self) -> std::io::Result<String> {
        let previous = std::fs::read_to_string(self.previous_path())?;
        self.write(&previous)?;
        Ok(previous)
    }
}

fn read_or_empty(path: &Path) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        other => other,
    }
}

/// Temp file, fsync, rename, fsync of the directory.
fn write_atomically(path: &Path, text: &str, mode: u32, label: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(path.file_name().unwrap_or_default());
    temp_name.push(".tmp");
    let temp = dir.join(temp_name);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temp)?;
    // The mode of a temp file left by an earlier crash is not the one asked for above.
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    let (first, rest) = text.as_bytes().split_at(text.len() / 2);
    file.write_all(first)?;
    reached(&format!("{label}half-written"));
    file.write_all(rest)?;
    file.sync_all()?;
    drop(file);
    reached(&format!("{label}synced"));
    std::fs::rename(&temp, path)?;
    reached(&format!("{label}renamed"));
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_keeps_the_previous_version_and_a_rollback_swaps_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(&dir.path().join("salle.toml"));
        assert_eq!(store.read().unwrap(), "");
        store.write("[room]\nname = \"A\"\n").unwrap();
        assert!(!store.has_previous(), "nothing to keep the first time");
        store.write("[room]\nname = \"B\"\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(store.previous_path()).unwrap(),
            "[room]\nname = \"A\"\n"
        );
        assert_eq!(store.rollback().unwrap(), "[room]\nname = \"A\"\n");
        assert_eq!(store.read().unwrap(), "[room]\nname = \"A\"\n");
        assert_eq!(
            std::fs::read_to_string(store.previous_path()).unwrap(),
            "[room]\nname = \"B\"\n"
        );
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o640);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn the_files_mode_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(&dir.path().join("salle.toml"));
        store.write("").unwrap();
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        store.write("[room]\n").unwrap();
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
}
