//! Terminal output: tables, ages, colour (off under NO_COLOR or when not a terminal).

use std::io::IsTerminal;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Write to stdout; a reader that went away (`backstop history APP | head -1`) ends the command
/// quietly with exit 0 instead of a panic: the output it wanted was taken.
pub fn write_stdout(args: std::fmt::Arguments<'_>, newline: bool) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| if newline { out.write_all(b"\n") } else { Ok(()) });
    match written.and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        // Any other failure to write the answer (a full disk behind a redirect) is reported once.
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: cannot write the output: {e}");
            std::process::exit(1);
        }
    }
}

/// `println!` for the command's answer, through [`write_stdout`].
macro_rules! out {
    () => { $crate::output::write_stdout(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::output::write_stdout(format_args!($($arg)*), true) };
}

/// `print!` for the command's answer, through [`write_stdout`].
macro_rules! out_part {
    ($($arg:tt)*) => { $crate::output::write_stdout(format_args!($($arg)*), false) };
}

pub(crate) use {out, out_part};

pub fn color_stderr() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

pub fn color_stdout() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// A value as the JSON answer spells it: a string bare (a time, a status, a
/// kind), anything else as compact JSON (`2`, `true`, `[3,2]`, `null`).
pub fn wire_text<T: Serialize + ?Sized>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// A kubectl-style age: 45s, 12m, 3h, 5d.
pub fn age(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (now - t).num_seconds().max(0);
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// `--no-headers`, set once at start.
static NO_HEADERS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn set_no_headers(on: bool) {
    NO_HEADERS.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Print a listing's table: without its header line under `--no-headers`, and then nothing at
/// all when it has no rows.
pub fn print_listing(table: String) {
    if !NO_HEADERS.load(std::sync::atomic::Ordering::Relaxed) {
        return write_stdout(format_args!("{table}"), true);
    }
    if let Some((_, rows)) = table.split_once('\n') {
        write_stdout(format_args!("{rows}"), true);
    }
}

/// A plain, borderless table like kubectl's.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING);
    t.set_content_arrangement(comfy_table::ContentArrangement::Disabled);
    t.set_header(header.iter().map(comfy_table::Cell::new));
    for row in rows {
        t.add_row(row);
    }
    for col in t.column_iter_mut() {
        col.set_padding((0, 2));
    }
    t.lines().map(|l| l.trim_end().to_owned()).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_text_is_what_the_json_says() {
        let t = DateTime::from_timestamp(1_000_000, 5_000_000).unwrap();
        assert_eq!(wire_text(&t), "1970-01-12T13:46:40.005Z");
        assert_eq!(wire_text(&backstop_core::RevisionStatus::KnownGood), "known-good");
        assert_eq!(wire_text(&vec![3u64, 2]), "[3,2]");
        assert_eq!(wire_text(&None::<u64>), "null");
        assert_eq!(wire_text(&7u64), "7");
    }

    #[test]
    fn age_table() {
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap();
        for (secs, want) in [(0, "0s"), (59, "59s"), (119, "119s"), (120, "2m"), (7200, "2h"), (172_800, "2d")] {
            let t = now - chrono::Duration::seconds(secs);
            assert_eq!(age(t, now), want, "{secs}");
        }
    }

    #[test]
    fn table_is_aligned_without_borders() {
        let out =
            table(&["REVISION", "VERSION"], vec![vec!["1".into(), "v1.0.0".into()], vec!["12".into(), "v2".into()]]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("REVISION  VERSION"), "{out}");
        assert!(lines[2].starts_with("12        v2"), "{out}");
    }
}
