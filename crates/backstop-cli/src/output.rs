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

/// The `-o` given, set once at start: listings read its shape, data answers its syntax.
static FORMAT: std::sync::OnceLock<crate::Format> = std::sync::OnceLock::new();

pub fn set_format(format: crate::Format) {
    let _ = FORMAT.set(format);
}

fn format() -> crate::Format {
    FORMAT.get().copied().unwrap_or(crate::Format::Table)
}

/// A data answer as `-o` asks: pretty JSON, or YAML under `-o yaml`.
pub fn data(value: &serde_json::Value) -> String {
    if format() == crate::Format::Yaml {
        if let Ok(text) = serde_yaml::to_string(value) {
            return text.trim_end().to_owned();
        }
    }
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// A listing: the columns every shape shows, the ones `-o wide` adds after them, and per row
/// the identifier `-o name` prints.
pub struct Listing<'a> {
    pub header: &'a [&'a str],
    pub wide: &'a [&'a str],
    pub rows: Vec<Row>,
}

/// One row of a [`Listing`]: its cells, `header` then `wide` ones, and its name.
pub struct Row {
    pub name: String,
    pub cells: Vec<String>,
}

/// What a listing prints as: `-o table` (the default), `-o wide`, `-o name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Table,
    Wide,
    Name,
}

/// A listing as text in a shape; `no_headers` drops the header line (and then nothing is left
/// of a listing without rows). Pure, for the tests.
pub fn render(listing: Listing<'_>, shape: Shape, no_headers: bool) -> String {
    if shape == Shape::Name {
        return listing.rows.into_iter().map(|r| r.name).collect::<Vec<_>>().join("\n");
    }
    let (header, keep) = match shape {
        Shape::Wide => ([listing.header, listing.wide].concat(), listing.header.len() + listing.wide.len()),
        _ => (listing.header.to_vec(), listing.header.len()),
    };
    let empty = listing.rows.is_empty();
    let rows = listing
        .rows
        .into_iter()
        .map(|mut r| {
            r.cells.resize(keep, String::new());
            r.cells
        })
        .collect();
    let text = table(&header, rows);
    match (no_headers, empty) {
        (false, _) => text,
        (true, true) => String::new(),
        (true, false) => text.split_once('\n').map(|(_, rows)| rows.to_owned()).unwrap_or_default(),
    }
}

/// Print a listing in the shape `-o` asked for (`table` for the data formats' callers that
/// print tables), honouring `--no-headers`.
pub fn print_listing(listing: Listing<'_>) {
    let shape = match format() {
        crate::Format::Wide => Shape::Wide,
        crate::Format::Name => Shape::Name,
        _ => Shape::Table,
    };
    let text = render(listing, shape, NO_HEADERS.load(std::sync::atomic::Ordering::Relaxed));
    if !text.is_empty() {
        write_stdout(format_args!("{text}"), true);
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

    fn listing() -> Listing<'static> {
        let row = |name: &str, cells: &[&str]| Row {
            name: name.to_owned(),
            cells: cells.iter().map(|c| (*c).to_owned()).collect(),
        };
        Listing {
            header: &["REVISION", "VERSION"],
            wide: &["COMMIT"],
            rows: vec![row("shop/1", &["1", "v1"]), row("shop/2", &["2 *", "v2", "1a2b3c"])],
        }
    }

    #[test]
    fn listing_shapes() {
        let cases: &[(Shape, bool, &str)] = &[
            (Shape::Table, false, "REVISION  VERSION\n1         v1\n2 *       v2"),
            (Shape::Table, true, "1         v1\n2 *       v2"),
            (Shape::Wide, false, "REVISION  VERSION  COMMIT\n1         v1\n2 *       v2       1a2b3c"),
            (Shape::Name, false, "shop/1\nshop/2"),
            (Shape::Name, true, "shop/1\nshop/2"),
        ];
        for (shape, no_headers, want) in cases {
            assert_eq!(render(listing(), *shape, *no_headers), *want, "{shape:?} no_headers={no_headers}");
        }
        let empty = Listing { header: &["A"], wide: &[], rows: Vec::new() };
        assert_eq!(render(empty, Shape::Table, true), "");
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
