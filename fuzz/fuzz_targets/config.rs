//! The configuration file parser (`backstop.toml`): any text is a config or a
//! `ConfigError`, never a crash. It is `backstop_server::Config::parse` today;
//! when the parser moves (to `backstop-engine`), point this target there.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = backstop_server::Config::parse(Path::new("/fuzz/backstop.toml"), text);
});
