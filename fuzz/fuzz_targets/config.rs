//! The configuration file parser (`backstop.toml`): any text is a config or a
//! `ConfigError`, never a crash (`backstop_engine::Config::parse`).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = backstop_engine::Config::parse(Path::new("/fuzz/backstop.toml"), text);
});
