//! Flag compile and evaluate. The input is a flag as JSON, then optionally a
//! NUL byte and an OFREP body for the context. Beyond "no crash": a flag that
//! compiles reads back inside a snapshot (the write-time bounds guarantee it),
//! and evaluating it twice gives the same answer.
#![no_main]

use backstop_flags::{CompiledFlag, Context, Flag, Snapshot, compile, evaluate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (flag, body) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(flag) = serde_json::from_slice::<Flag>(flag) else { return };
    let Ok(compiled) = compile(flag) else { return };
    let snapshot = Snapshot::new(1, [compiled.clone()]);
    let text = serde_json::to_string(&snapshot).expect("a compiled flag serializes");
    let back: Snapshot = serde_json::from_str(&text).expect("an accepted flag reads back inside a snapshot");
    assert_eq!(back.etag(), snapshot.etag());
    let again: CompiledFlag = serde_json::from_str(&serde_json::to_string(&compiled).unwrap()).unwrap();

    let contexts = [
        Context::from_ofrep_body(body).ok(),
        Some(Context::new()),
        Some(Context::new().with_targeting_key("user-1").with_attribute("country", "NL").with_attribute("n", 3)),
    ];
    for ctx in contexts.iter().flatten() {
        let first = evaluate(&compiled, ctx).map(|e| (e.variant.to_owned(), e.reason, e.rule));
        let second = evaluate(&again, ctx).map(|e| (e.variant.to_owned(), e.reason, e.rule));
        assert_eq!(first, second);
    }
});
