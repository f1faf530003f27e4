//! Migration analysis of any text, in both dialects: an error is fine, a crash
//! (panic, stack overflow) is not. Long inputs reach deep nesting.
#![no_main]

use backstop_migrate::{Dialect, analyze};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for dialect in [Dialect::Postgres, Dialect::Sqlite] {
        let _ = analyze("fuzz.sql", text, dialect);
    }
});
