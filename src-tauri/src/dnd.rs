//! Do not disturb survives a restart: kept as the presence of a file in the config
//! directory. While on, the call manager declines invitations as busy without ringing.

use std::path::Path;

const FILE: &str = "do-not-disturb";

pub fn is_on(dir: &Path) -> bool {
    dir.join(FILE).exists()
}

pub fn set(dir: &Path, on: bool) -> std::io::Result<()> {
    let path = dir.join(FILE);
    if on {
        std::fs::create_dir_all(dir)?;
        std::fs::write(path, b"")
    } else {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_across_starts() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_on(dir.path()));
        set(dir.path(), true).unwrap();
        assert!(is_on(dir.path()));
        set(dir.path(), false).unwrap();
        set(dir.path(), false).unwrap();
        assert!(!is_on(dir.path()));
    }
}
