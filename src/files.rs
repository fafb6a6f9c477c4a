//! Replacing files safely: a temporary file beside the target, written and synced, then moved
//! into place, and the directory synced so the move itself survives a crash.

use std::path::{Path, PathBuf};

/// The directory of `target` and a temporary path in it (`.NAME.PID.SUFFIX`). A leftover of an
/// earlier attempt by a process that had our id (a crash between create and rename; in a
/// container the CLI is often pid 1) is removed, so it never blocks this one.
pub fn temp_beside(target: &Path, fallback_name: &str, suffix: &str) -> (PathBuf, PathBuf) {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| fallback_name.to_string());
    let temp = dir.join(format!(".{name}.{}.{suffix}", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    (dir, temp)
}

/// Makes a rename or link in `dir` durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leftover_temporary_file_is_removed() {
        let dir = tempfile::tempdir().expect("dir");
        let target = dir.path().join("feeds.toml");
        let (first_dir, temp) = temp_beside(&target, "x", "tmp");
        assert_eq!(first_dir, dir.path());
        std::fs::write(&temp, "half written").expect("leftover");
        let (_, again) = temp_beside(&target, "x", "tmp");
        assert_eq!(again, temp);
        assert!(!temp.exists(), "the leftover blocks create_new");
        assert!(
            temp.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".feeds.toml."))
        );
    }
}
