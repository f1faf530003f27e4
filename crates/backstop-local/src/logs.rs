//! Instance log rotation. An instance writes its log through a descriptor opened for appending,
//! which outlives the control plane (instances are re-adopted after a restart), so the file is
//! rotated by copy and truncate: `N.log` is copied to `N.log.1` (older copies shift up to
//! `N.log.KEEP`) and then cut to zero length, and the instance's next write lands at its start.
//! A line written between the copy and the cut can be lost; nothing else is.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The path of the `n`th rotated copy of `log` (`web/3.log.2`).
pub fn rotated_path(log: &Path, n: usize) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Rotate `log` when it has grown past `max_bytes`, keeping `keep` rotated copies (0: the content
/// is dropped). Returns whether it rotated.
pub fn rotate_if_over(log: &Path, max_bytes: u64, keep: usize) -> io::Result<bool> {
    let len = match fs::metadata(log) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if len <= max_bytes {
        return Ok(false);
    }
    if keep > 0 {
        for n in (1..keep).rev() {
            let from = rotated_path(log, n);
            if from.exists() {
                fs::rename(&from, rotated_path(log, n + 1))?;
            }
        }
        fs::copy(log, rotated_path(log, 1))?;
    }
    fs::OpenOptions::new().write(true).open(log)?.set_len(0)?;
    Ok(true)
}

/// Every instance log under `logs` (`logs/APP/REVISION.log`).
pub fn instance_logs(logs: &Path) -> Vec<PathBuf> {
    let Ok(apps) = fs::read_dir(logs) else { return Vec::new() };
    let mut out = Vec::new();
    for app in apps.flatten() {
        let Ok(files) = fs::read_dir(app.path()) else { continue };
        out.extend(files.flatten().map(|f| f.path()).filter(|p| p.extension().is_some_and(|e| e == "log")));
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_log_past_its_limit_is_copied_and_cut_while_the_writer_keeps_its_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("web").join("1.log");
        fs::create_dir_all(log.parent().unwrap()).unwrap();
        // What the instance holds: a descriptor opened for appending, never reopened.
        let mut writer = fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
        for round in 0..4 {
            writer.write_all(format!("round {round}\n").repeat(10).as_bytes()).unwrap();
            assert!(rotate_if_over(&log, 50, 2).unwrap(), "round {round}");
        }
        writer.write_all(b"after\n").unwrap();
        assert_eq!(fs::read_to_string(&log).unwrap(), "after\n", "the writer's next line lands at the start");
        assert!(fs::read_to_string(rotated_path(&log, 1)).unwrap().starts_with("round 3"));
        assert!(fs::read_to_string(rotated_path(&log, 2)).unwrap().starts_with("round 2"));
        assert!(!rotated_path(&log, 3).exists(), "only `keep` copies are kept");
        assert!(!rotate_if_over(&log, 50, 2).unwrap(), "under the limit: left alone");
        assert_eq!(instance_logs(dir.path()), vec![log.clone()]);
    }

    #[test]
    fn keep_zero_drops_the_content_and_a_missing_log_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("2.log");
        assert!(!rotate_if_over(&log, 10, 0).unwrap());
        fs::write(&log, "x".repeat(20)).unwrap();
        assert!(rotate_if_over(&log, 10, 0).unwrap());
        assert_eq!(fs::metadata(&log).unwrap().len(), 0);
        assert!(!rotated_path(&log, 1).exists());
    }
}
