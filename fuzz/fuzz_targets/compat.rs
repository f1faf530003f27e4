//! The compatibility gate: two contract documents (split at the first NUL byte) read as an
//! OpenAPI description and as message schemas, then compared in every direction. Reading must
//! refuse or accept without panicking, and comparing what was accepted must end.
//!
//! Each input runs on a thread with the 2 MiB stack of a tokio worker, where the control plane
//! reads and compares what a release ships.
#![no_main]

use backstop_compat::{Contracts, MessageDocument, RevisionContracts, Role, compare};
use libfuzzer_sys::fuzz_target;

const WORKER_STACK: usize = 2 * 1024 * 1024;

fn read(text: &str) -> Vec<Contracts> {
    let mut out = Vec::new();
    if let Ok(c) = Contracts::parse(Some(("api.yaml", text)), &[]) {
        out.push(c);
    }
    let messages = [
        MessageDocument { role: Role::Produces, name: "order", text },
        MessageDocument { role: Role::Consumes, name: "order", text },
    ];
    if let Ok(c) = Contracts::parse(None, &messages) {
        out.push(c);
    }
    out
}

fn check(old: &str, new: &str) {
    for old in read(old) {
        for new in read(new) {
            let o = RevisionContracts { revision: 1, contracts: &old };
            let n = RevisionContracts { revision: 2, contracts: &new };
            for f in compare(o, n).iter().chain(compare(n, o).iter()) {
                assert!(!f.rule.is_empty() && f.old_revision != f.new_revision);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (old, new) = text.split_once('\0').unwrap_or((text, text));
    std::thread::scope(|scope| {
        let run = std::thread::Builder::new().stack_size(WORKER_STACK).spawn_scoped(scope, || check(old, new));
        run.expect("a thread for the comparison").join().expect("the comparison does not panic");
    });
});
