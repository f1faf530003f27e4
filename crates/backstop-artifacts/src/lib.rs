//! The content-addressed artifact store.
//!
//! An artifact is either one executable file, whose digest is the SHA-256 of
//! its bytes (what `sha256sum` prints), or a directory with an executable
//! `run` at its top, whose digest is the SHA-256 of its *tree manifest*: one
//! line per entry, sorted by path, `dir PATH`, or `file X SHA256 PATH` with X
//! `x` for an executable file and `-` otherwise. Symbolic links are refused,
//! so a digest always covers every byte that can run.
//!
//! Layout under the root: `sha256/<hex>` (the file or directory, read-only)
//! and `tmp/` for uploads in progress; an upload becomes visible only by an
//! atomic rename once its digest has been checked, so a crash never leaves a
//! half-written artifact under its digest.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use backstop_core::Digest;
use sha2::{Digest as _, Sha256};

/// The entrypoint file name of a directory artifact.
pub const ENTRYPOINT: &str = "run";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    File,
    Dir,
}

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("artifact {path} does not exist")]
    NotFound { path: PathBuf },
    #[error("artifact {path} is not executable")]
    NotExecutable { path: PathBuf },
    #[error("artifact directory {path} has no executable `run` entrypoint")]
    NoEntrypoint { path: PathBuf },
    #[error("artifact {path} contains a symbolic link or special file at {entry}")]
    Unsupported { path: PathBuf, entry: String },
    #[error("artifact {digest} is not in the store")]
    Missing { digest: Digest },
    #[error("artifact in the store no longer matches its digest: expected {expected}, found {actual}")]
    Tampered { expected: Digest, actual: Digest },
    #[error("uploaded artifact does not match its digest: expected {expected}, received {actual}")]
    UploadMismatch { expected: Digest, actual: Digest },
    #[error("uploaded archive is not a readable tar stream: {reason}")]
    BadArchive { reason: String },
    #[error("artifact store i/o error at {path}")]
    Io { path: PathBuf, source: io::Error },
}

type Result<T, E = ArtifactError> = std::result::Result<T, E>;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ArtifactError + '_ {
    move |source| ArtifactError::Io { path: path.to_owned(), source }
}

/// The innermost cause of a tar error, whose message names no path of ours.
fn innermost(e: &io::Error) -> &(dyn std::error::Error + 'static) {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur
}

/// Whether the operating system refused something (disk full, permissions):
/// the store's fault, not the archive's.
fn os_error(e: &io::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.downcast_ref::<io::Error>().is_some_and(|io| io.raw_os_error().is_some()) {
            return true;
        }
        cur = err.source();
    }
    false
}

fn bad_archive(e: io::Error) -> ArtifactError {
    ArtifactError::BadArchive { reason: innermost(&e).to_string() }
}

/// Give every unpacked entry a plain mode: directories 0755, files 0555 when
/// the archive marked them executable and 0444 otherwise. setuid, setgid,
/// sticky and group/world-write bits from the archive are dropped; the digest
/// covers only the executable bit, so it is unchanged.
fn normalise_modes(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        let meta = fs::symlink_metadata(&path).map_err(io_err(&path))?;
        let mode = if meta.is_dir() {
            normalise_modes(&path)?;
            0o755
        } else if is_executable(&meta) {
            0o555
        } else {
            0o444
        };
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(io_err(&path))?;
    }
    Ok(())
}

fn is_executable(meta: &fs::Metadata) -> bool {
    meta.permissions().mode() & 0o111 != 0
}

fn sha256_file(path: &Path) -> Result<[u8; 32]> {
    let mut f = fs::File::open(path).map_err(io_err(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

/// The tree manifest of a directory, as described in the module docs.
pub fn tree_manifest(root: &Path) -> Result<String> {
    let mut entries = Vec::new();
    collect(root, root, &mut entries)?;
    entries.sort();
    let mut manifest = String::new();
    for (_, line) in entries {
        manifest.push_str(&line);
        manifest.push('\n');
    }
    Ok(manifest)
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .map_err(|_| ArtifactError::Unsupported { path: root.to_owned(), entry: path.display().to_string() })?
            .to_str()
            .ok_or_else(|| ArtifactError::Unsupported { path: root.to_owned(), entry: path.display().to_string() })?
            .to_owned();
        let meta = fs::symlink_metadata(&path).map_err(io_err(&path))?;
        if meta.is_dir() {
            out.push((rel.clone(), format!("dir {rel}")));
            collect(root, &path, out)?;
        } else if meta.is_file() {
            let x = if is_executable(&meta) { "x" } else { "-" };
            out.push((rel.clone(), format!("file {x} {} {rel}", hex::encode(sha256_file(&path)?))));
        } else {
            return Err(ArtifactError::Unsupported { path: root.to_owned(), entry: rel });
        }
    }
    Ok(())
}

/// Digest and kind of an artifact on disk, checking that it can run: a file
/// must be executable, a directory must hold an executable `run`.
pub fn digest_path(path: &Path) -> Result<(Digest, ArtifactKind)> {
    let meta = fs::metadata(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ArtifactError::NotFound { path: path.to_owned() },
        _ => ArtifactError::Io { path: path.to_owned(), source: e },
    })?;
    if meta.is_dir() {
        let run = path.join(ENTRYPOINT);
        match fs::symlink_metadata(&run) {
            Ok(m) if m.is_file() && is_executable(&m) => {}
            _ => return Err(ArtifactError::NoEntrypoint { path: path.to_owned() }),
        }
        let manifest = tree_manifest(path)?;
        Ok((Digest::of_bytes(manifest.as_bytes()), ArtifactKind::Dir))
    } else {
        if !is_executable(&meta) {
            return Err(ArtifactError::NotExecutable { path: path.to_owned() });
        }
        Ok((Digest::from_sha256(sha256_file(path)?), ArtifactKind::File))
    }
}

/// Artifacts stored under one root directory, addressed by digest.
#[derive(Debug, Clone)]
pub struct ArtifactStore {
    root: PathBuf,
}

impl ArtifactStore {
    /// Open the store, creating its folders and clearing uploads a crash left behind.
    pub fn open(root: &Path) -> Result<ArtifactStore> {
        let store = ArtifactStore { root: root.to_owned() };
        let tmp = store.tmp_dir();
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
        }
        for dir in [root.join("sha256"), tmp] {
            fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        }
        Ok(store)
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// A fresh file for an upload in progress. It lives in the staging folder,
    /// which every start clears, so a crash mid-upload leaves nothing behind.
    pub fn spool(&self) -> io::Result<tempfile::NamedTempFile> {
        tempfile::Builder::new().prefix(".upload-").tempfile_in(self.tmp_dir())
    }

    /// Where the artifact with this digest lives (whether or not it exists).
    pub fn path_of(&self, digest: &Digest) -> PathBuf {
        self.root.join("sha256").join(digest.hex())
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        fs::symlink_metadata(self.path_of(digest)).is_ok()
    }

    /// The program to execute for this artifact.
    pub fn entrypoint(&self, digest: &Digest) -> PathBuf {
        let path = self.path_of(digest);
        if path.is_dir() { path.join(ENTRYPOINT) } else { path }
    }

    /// Re-hash a stored artifact and refuse it if it changed; returns its entrypoint.
    pub fn verify(&self, digest: &Digest) -> Result<PathBuf> {
        let path = self.path_of(digest);
        if !self.contains(digest) {
            return Err(ArtifactError::Missing { digest: digest.clone() });
        }
        let actual = match digest_path(&path) {
            Ok((actual, _)) => actual,
            // A store file that lost its exec bit or entrypoint was tampered with too.
            Err(ArtifactError::NotExecutable { .. } | ArtifactError::NoEntrypoint { .. }) => {
                Digest::of_bytes(b"unrunnable")
            }
            Err(e) => return Err(e),
        };
        if &actual != digest {
            return Err(ArtifactError::Tampered { expected: digest.clone(), actual });
        }
        Ok(self.entrypoint(digest))
    }

    fn staging(&self) -> Result<PathBuf> {
        let name = format!("upload-{}-{}", std::process::id(), rand_suffix());
        Ok(self.tmp_dir().join(name))
    }

    /// Store a single-file artifact read from `body`, refusing it unless its
    /// bytes hash to `expected`. Idempotent: an artifact already stored is kept.
    pub fn ingest_file(&self, mut body: impl Read, expected: &Digest) -> Result<ArtifactKind> {
        let tmp = self.staging()?;
        let result = (|| {
            let mut f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
            let mut h = Sha256::new();
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = body.read(&mut buf).map_err(io_err(&tmp))?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
                f.write_all(&buf[..n]).map_err(io_err(&tmp))?;
            }
            f.sync_all().map_err(io_err(&tmp))?;
            let actual = Digest::from_sha256(h.finalize().into());
            if &actual != expected {
                return Err(ArtifactError::UploadMismatch { expected: expected.clone(), actual });
            }
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o555)).map_err(io_err(&tmp))?;
            self.publish(&tmp, expected)?;
            Ok(ArtifactKind::File)
        })();
        let _ = fs::remove_file(&tmp);
        result
    }

    /// Store a directory artifact sent as a tar stream, refusing it unless
    /// its tree manifest hashes to `expected`.
    pub fn ingest_tar(&self, body: impl Read, expected: &Digest) -> Result<ArtifactKind> {
        let tmp = self.staging()?;
        let result = (|| {
            fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
            let mut archive = tar::Archive::new(body);
            for entry in archive.entries().map_err(bad_archive)? {
                let mut entry = entry.map_err(bad_archive)?;
                let kind = entry.header().entry_type();
                if !(kind.is_file() || kind.is_dir()) {
                    let name = entry.path().map(|p| p.display().to_string()).unwrap_or_default();
                    return Err(ArtifactError::Unsupported { path: tmp.clone(), entry: name });
                }
                // unpack_in refuses paths that would escape the staging folder.
                entry.unpack_in(&tmp).map_err(|e| {
                    if os_error(&e) { ArtifactError::Io { path: tmp.clone(), source: e } } else { bad_archive(e) }
                })?;
            }
            normalise_modes(&tmp)?;
            let (actual, _) = digest_path(&tmp).map_err(|e| match e {
                ArtifactError::NoEntrypoint { .. } => ArtifactError::NoEntrypoint { path: PathBuf::from("(upload)") },
                other => other,
            })?;
            if &actual != expected {
                return Err(ArtifactError::UploadMismatch { expected: expected.clone(), actual });
            }
            self.publish(&tmp, expected)?;
            Ok(ArtifactKind::Dir)
        })();
        if tmp.exists() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result
    }

    fn publish(&self, tmp: &Path, digest: &Digest) -> Result<()> {
        let dest = self.path_of(digest);
        if self.contains(digest) {
            return Ok(());
        }
        fs::rename(tmp, &dest).map_err(io_err(&dest))?;
        if let Some(parent) = dest.parent() {
            fs::File::open(parent).and_then(|d| d.sync_all()).map_err(io_err(parent))?;
        }
        Ok(())
    }

    /// Every digest in the store.
    pub fn list(&self) -> Result<Vec<Digest>> {
        let dir = self.root.join("sha256");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            if let Some(d) = entry.file_name().to_str().and_then(|n| format!("sha256:{n}").parse::<Digest>().ok()) {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }

    /// The bytes an artifact takes on disk (0 when it is absent).
    pub fn size(&self, digest: &Digest) -> u64 {
        disk_size(&self.path_of(digest))
    }

    /// Delete an artifact; returns the bytes freed.
    pub fn remove(&self, digest: &Digest) -> Result<u64> {
        let path = self.path_of(digest);
        let size = disk_size(&path);
        let meta = fs::symlink_metadata(&path).map_err(io_err(&path))?;
        if meta.is_dir() {
            make_writable(&path);
            fs::remove_dir_all(&path).map_err(io_err(&path))?;
        } else {
            fs::remove_file(&path).map_err(io_err(&path))?;
        }
        Ok(size)
    }
}

fn make_writable(path: &Path) {
    if let Ok(meta) = fs::symlink_metadata(path) {
        if meta.is_dir() {
            let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o755));
            if let Ok(rd) = fs::read_dir(path) {
                for e in rd.flatten() {
                    make_writable(&e.path());
                }
            }
        }
    }
}

fn disk_size(path: &Path) -> u64 {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            fs::read_dir(path).map(|rd| rd.flatten().map(|e| disk_size(&e.path())).sum()).unwrap_or(0)
        }
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

fn rand_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{nanos:x}-{n}")
}

/// Write a directory artifact as a tar stream (what the CLI uploads).
pub fn tar_dir(dir: &Path, out: impl Write) -> io::Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    builder.mode(tar::HeaderMode::Complete);
    builder.append_dir_all(".", dir)?;
    builder.into_inner()?.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_exec(path: &Path, body: &str) {
        fs::write(path, body).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn demo_dir(root: &Path, version: &str) -> PathBuf {
        let dir = root.join(format!("app-{version}"));
        fs::create_dir_all(dir.join("conf")).unwrap();
        write_exec(&dir.join("run"), "#!/bin/sh\nexec true\n");
        fs::write(dir.join("conf/version"), version).unwrap();
        dir
    }

    #[test]
    fn file_digest_is_sha256_of_bytes_and_needs_exec_bit() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("svc");
        fs::write(&p, b"hello").unwrap();
        assert!(matches!(digest_path(&p), Err(ArtifactError::NotExecutable { .. })));
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        let (d, kind) = digest_path(&p).unwrap();
        assert_eq!(kind, ArtifactKind::File);
        assert_eq!(d, Digest::of_bytes(b"hello"));
        assert!(matches!(digest_path(&t.path().join("nope")), Err(ArtifactError::NotFound { .. })));
    }

    #[test]
    fn dir_digest_covers_content_names_and_modes() {
        let t = tempfile::tempdir().unwrap();
        let a = demo_dir(t.path(), "v1");
        let (d1, kind) = digest_path(&a).unwrap();
        assert_eq!(kind, ArtifactKind::Dir);
        fs::write(a.join("conf/version"), "v2").unwrap();
        let (d2, _) = digest_path(&a).unwrap();
        assert_ne!(d1, d2, "content change");
        fs::set_permissions(a.join("conf/version"), fs::Permissions::from_mode(0o755)).unwrap();
        let (d3, _) = digest_path(&a).unwrap();
        assert_ne!(d2, d3, "mode change");
        fs::rename(a.join("conf/version"), a.join("conf/version2")).unwrap();
        let (d4, _) = digest_path(&a).unwrap();
        assert_ne!(d3, d4, "rename");
        std::os::unix::fs::symlink("/etc/passwd", a.join("link")).unwrap();
        assert!(matches!(digest_path(&a), Err(ArtifactError::Unsupported { .. })));
        let b = t.path().join("norun");
        fs::create_dir_all(&b).unwrap();
        assert!(matches!(digest_path(&b), Err(ArtifactError::NoEntrypoint { .. })));
    }

    #[test]
    fn ingest_verify_and_detect_tampering() {
        let t = tempfile::tempdir().unwrap();
        let store = ArtifactStore::open(&t.path().join("store")).unwrap();
        let src = t.path().join("svc");
        write_exec(&src, "#!/bin/sh\necho v1\n");
        let (d, _) = digest_path(&src).unwrap();
        store.ingest_file(fs::File::open(&src).unwrap(), &d).unwrap();
        assert_eq!(store.verify(&d).unwrap(), store.path_of(&d));
        // twice is fine
        store.ingest_file(fs::File::open(&src).unwrap(), &d).unwrap();
        // tamper: root can write a read-only file
        let stored = store.path_of(&d);
        fs::set_permissions(&stored, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(&stored, "#!/bin/sh\necho evil\n").unwrap();
        match store.verify(&d) {
            Err(ArtifactError::Tampered { expected, actual }) => {
                assert_eq!(expected, d);
                assert_eq!(actual, Digest::of_bytes(b"#!/bin/sh\necho evil\n"));
            }
            other => panic!("expected Tampered, got {other:?}"),
        }
        let missing = Digest::of_bytes(b"never stored");
        assert!(matches!(store.verify(&missing), Err(ArtifactError::Missing { .. })));
    }

    #[test]
    fn upload_with_wrong_digest_leaves_nothing_behind() {
        let t = tempfile::tempdir().unwrap();
        let store = ArtifactStore::open(&t.path().join("store")).unwrap();
        let claimed = Digest::of_bytes(b"something else");
        let err = store.ingest_file(&b"actual bytes"[..], &claimed).unwrap_err();
        assert!(matches!(err, ArtifactError::UploadMismatch { .. }));
        assert!(!store.contains(&claimed));
        assert!(store.list().unwrap().is_empty());
        assert_eq!(fs::read_dir(t.path().join("store/tmp")).unwrap().count(), 0);
    }

    #[test]
    fn directory_round_trips_through_tar() {
        let t = tempfile::tempdir().unwrap();
        let store = ArtifactStore::open(&t.path().join("store")).unwrap();
        let src = demo_dir(t.path(), "v7");
        let (d, _) = digest_path(&src).unwrap();
        let mut tar = Vec::new();
        tar_dir(&src, &mut tar).unwrap();
        assert_eq!(store.ingest_tar(&tar[..], &d).unwrap(), ArtifactKind::Dir);
        let entry = store.verify(&d).unwrap();
        assert_eq!(entry, store.path_of(&d).join("run"));
        assert_eq!(fs::read_to_string(store.path_of(&d).join("conf/version")).unwrap(), "v7");
        assert_eq!(store.list().unwrap(), vec![d.clone()]);
        assert!(store.remove(&d).unwrap() > 0);
        assert!(!store.contains(&d));
    }

    fn tar_with(entries: &[(&str, u32, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, mode, body) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(*mode);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            b.append_data(&mut h, path, *body).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn tar_upload_with_setuid_and_world_writable_bits_is_stored_with_plain_modes() {
        let t = tempfile::tempdir().unwrap();
        let store = ArtifactStore::open(&t.path().join("store")).unwrap();
        let tar = tar_with(&[("run", 0o4777, b"#!/bin/sh\n"), ("conf/data", 0o2666, b"x")]);
        // The digest of what the archive holds, computed from an unpacked copy.
        let unpacked = t.path().join("unpacked");
        tar::Archive::new(&tar[..]).unpack(&unpacked).unwrap();
        let (d, _) = digest_path(&unpacked).unwrap();
        store.ingest_tar(&tar[..], &d).unwrap();
        let mode = |p: &str| fs::metadata(store.path_of(&d).join(p)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode("run"), 0o555);
        assert_eq!(mode("conf/data"), 0o444);
        assert_eq!(mode("conf"), 0o755);
        store.verify(&d).unwrap();
    }

    #[test]
    fn garbage_or_truncated_tar_upload_is_a_bad_archive_not_a_disk_error() {
        let t = tempfile::tempdir().unwrap();
        let store = ArtifactStore::open(&t.path().join("store")).unwrap();
        let d = Digest::of_bytes(b"whatever");
        let garbage = vec![0x5au8; 4096];
        let mut truncated = tar_with(&[("run", 0o755, &[b'x'; 4000])]);
        truncated.truncate(1024);
        for body in [&garbage[..], &truncated[..]] {
            match store.ingest_tar(body, &d) {
                Err(ArtifactError::BadArchive { reason }) => assert!(!reason.contains(t.path().to_str().unwrap())),
                other => panic!("expected a bad archive, got {other:?}"),
            }
        }
        assert_eq!(fs::read_dir(store.tmp_dir()).unwrap().count(), 0, "staging left behind");
    }

    #[test]
    fn upload_spool_left_by_a_crash_is_cleared_at_open() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("store");
        let store = ArtifactStore::open(&root).unwrap();
        let spool = store.spool().unwrap();
        let (_, path) = spool.keep().unwrap();
        assert!(path.starts_with(&root));
        ArtifactStore::open(&root).unwrap();
        assert!(!path.exists());
    }
}
