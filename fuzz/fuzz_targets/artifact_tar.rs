//! Unpacking an uploaded directory artifact (a tar stream) into the artifact
//! store (`backstop_artifacts::ArtifactStore`): any bytes are stored or
//! refused, never a crash.
#![no_main]

use std::sync::OnceLock;

use backstop_artifacts::ArtifactStore;
use backstop_core::Digest;
use libfuzzer_sys::fuzz_target;

fn store() -> &'static ArtifactStore {
    static STORE: OnceLock<ArtifactStore> = OnceLock::new();
    STORE.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("backstop-fuzz-artifacts-{}", std::process::id()));
        ArtifactStore::open(&root).expect("a store in the temporary folder")
    })
}

fuzz_target!(|data: &[u8]| {
    let store = store();
    // Any digest: the unpacking runs before the digest is compared.
    let _ = store.ingest_tar(data, &Digest::of_bytes(b"fuzz"));
});
