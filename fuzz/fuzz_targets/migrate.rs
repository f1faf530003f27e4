//! Migration analysis of any text, in both dialects: an error is fine, a crash
//! (panic, stack overflow) is not. Long inputs reach deep nesting.
//!
//! Each input is analysed on a thread with the 2 MiB stack of a tokio worker,
//! where the control plane analyses what it is sent, so a nesting that would
//! overflow there crashes here too (the fuzzer's main thread has 8 MiB).
#![no_main]

use backstop_migrate::{Dialect, analyze};
use libfuzzer_sys::fuzz_target;

const WORKER_STACK: usize = 2 * 1024 * 1024;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    std::thread::scope(|scope| {
        let analysis = std::thread::Builder::new().stack_size(WORKER_STACK).spawn_scoped(scope, || {
            for dialect in [Dialect::Postgres, Dialect::Sqlite] {
                let _ = analyze("fuzz.sql", text, dialect);
            }
        });
        analysis.expect("a thread for the analysis").join().expect("the analysis does not panic");
    });
});
