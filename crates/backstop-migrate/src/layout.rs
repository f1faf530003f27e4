//! Ordering migration files of the layouts people already have, from their names alone.
//!
//! - numbered: `0001_create_users.sql`, `20240101120000_add_name.sql` (plain, dbmate, goose);
//! - up/down pairs: `000001_create_users.up.sql` + `.down.sql` (golang-migrate, sqlx): only `.up` is forward;
//! - Flyway: `V1__init.sql`, `V1.1__index.sql`, `V2_1__x.sql` (versions compare numerically, part by
//!   part), `U1__init.sql` undo files as downs, `R__views.sql` repeatables after every versioned one.
//!
//! Anything else is returned in `ignored` with the reason, so a caller can warn instead of guessing.

use std::cmp::Ordering;

use serde::Serialize;

/// The naming scheme a migration file follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    Numbered,
    UpDown,
    Flyway,
}

/// One forward migration, in run order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Migration {
    /// The name as given by the caller (may include a directory).
    pub file: String,
    /// The version as written (`"0001"`, `"1.1"`); `None` for a Flyway repeatable migration.
    pub version: Option<String>,
    /// The description part of the name (`"create_users"`).
    pub name: String,
    pub layout: Layout,
    /// The matching `.down.sql` (or Flyway `U` undo) file, if any.
    pub down: Option<String>,
}

/// A file that is not a forward migration, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IgnoredFile {
    pub file: String,
    pub reason: String,
}

/// The forward migrations of a directory in run order, and the files left out.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct MigrationSet {
    pub migrations: Vec<Migration>,
    pub ignored: Vec<IgnoredFile>,
}

/// What one file name says.
#[derive(Debug)]
enum Name<'a> {
    Forward { version: &'a str, name: &'a str, layout: Layout },
    Repeatable { name: &'a str },
    Down { version: &'a str, layout: Layout },
    Ignored(String),
}

fn read(base: &str) -> Name<'_> {
    let Some(stem) = base.strip_suffix(".sql") else {
        return Name::Ignored("not a .sql file".into());
    };
    for (suffix, down) in [(".up", false), (".down", true)] {
        if let Some(inner) = stem.strip_suffix(suffix) {
            return match numbered(inner) {
                Some((version, _)) if down => Name::Down { version, layout: Layout::UpDown },
                Some((version, name)) => Name::Forward { version, name, layout: Layout::UpDown },
                None => Name::Ignored(format!("a {suffix}.sql file must be named VERSION_name{suffix}.sql")),
            };
        }
    }
    if let Some(name) = stem.strip_prefix("R__") {
        return Name::Repeatable { name };
    }
    let flyway_prefix = match stem.as_bytes() {
        [prefix @ (b'V' | b'U' | b'B'), second, ..] if second.is_ascii_digit() => Some(*prefix),
        _ => None,
    };
    if let Some(prefix) = flyway_prefix {
        let Some((version, name)) = stem[1..].split_once("__") else {
            return Name::Ignored("a Flyway migration must be named V<version>__<description>.sql".into());
        };
        if !version.split(['.', '_']).all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
            return Name::Ignored(format!("`{version}` is not a Flyway version (digits separated by . or _)"));
        }
        return match prefix {
            b'V' => Name::Forward { version, name, layout: Layout::Flyway },
            b'U' => Name::Down { version, layout: Layout::Flyway },
            _ => Name::Ignored("Flyway baseline migrations are not supported; they only run on empty databases".into()),
        };
    }
    match numbered(stem) {
        Some((version, name)) => Name::Forward { version, name, layout: Layout::Numbered },
        None => Name::Ignored(
            "the name matches no known layout (0001_name.sql, 0001_name.up.sql, V1__name.sql, R__name.sql)".into(),
        ),
    }
}

/// `0001_name` or `0001` → (`"0001"`, `"name"`).
fn numbered(stem: &str) -> Option<(&str, &str)> {
    let digits = stem.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let (version, rest) = stem.split_at(digits);
    match rest.strip_prefix('_') {
        Some(name) => Some((version, name)),
        None if rest.is_empty() => Some((version, "")),
        None => None,
    }
}

/// Numeric parts of a version without leading zeros or trailing zero parts: `"1.01.0"` → `["1", "1"]`.
fn version_key(version: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = version
        .split(['.', '_'])
        .map(|p| {
            let trimmed = p.trim_start_matches('0');
            if trimmed.is_empty() { "0" } else { trimmed }
        })
        .collect();
    while parts.len() > 1 && parts.last() == Some(&"0") {
        parts.pop();
    }
    parts
}

/// Compares version keys numerically, part by part, without limits on their size.
fn compare_keys(a: &[&str], b: &[&str]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let order = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

fn base_name(file: &str) -> &str {
    file.rsplit(['/', '\\']).next().unwrap_or(file)
}

/// Orders migration files by the layout their names follow. Pure: looks at the names only.
pub fn order_migrations(names: &[String]) -> MigrationSet {
    let mut forward = Vec::new();
    let mut repeatable = Vec::new();
    let mut downs = Vec::new();
    let mut ignored = Vec::new();
    for file in names {
        match read(base_name(file)) {
            Name::Forward { version, name, layout } => {
                forward.push((version_key(version), file, version, name, layout))
            }
            Name::Repeatable { name } => repeatable.push((name, file)),
            Name::Down { version, layout } => downs.push((version_key(version), file, layout)),
            Name::Ignored(reason) => ignored.push(IgnoredFile { file: file.clone(), reason }),
        }
    }
    forward.sort_by(|a, b| compare_keys(&a.0, &b.0).then_with(|| a.1.cmp(b.1)));
    let mut keys: Vec<Vec<&str>> = Vec::new();
    let mut migrations: Vec<Migration> = Vec::new();
    for (key, file, version, name, layout) in forward {
        if keys.last() == Some(&key) {
            let first = &migrations[migrations.len() - 1].file;
            ignored.push(IgnoredFile {
                file: file.clone(),
                reason: format!("duplicate version {version}: {first} has it too"),
            });
            continue;
        }
        keys.push(key);
        migrations.push(Migration {
            file: file.clone(),
            version: Some(version.to_owned()),
            name: name.to_owned(),
            layout,
            down: None,
        });
    }
    for (key, file, layout) in downs {
        let up = keys.iter().position(|k| *k == key).filter(|&i| migrations[i].layout == layout);
        match up {
            Some(i) if migrations[i].down.is_none() => migrations[i].down = Some(file.clone()),
            Some(i) => ignored.push(IgnoredFile {
                file: file.clone(),
                reason: format!("a second down migration for {}", migrations[i].file),
            }),
            None => ignored.push(IgnoredFile {
                file: file.clone(),
                reason: "a down migration without a matching up migration".into(),
            }),
        }
    }
    repeatable.sort();
    migrations.extend(repeatable.into_iter().map(|(name, file)| Migration {
        file: file.clone(),
        version: None,
        name: name.to_owned(),
        layout: Layout::Flyway,
        down: None,
    }));
    ignored.sort_by(|a, b| a.file.cmp(&b.file));
    MigrationSet { migrations, ignored }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(names: &[&str]) -> MigrationSet {
        order_migrations(&names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
    }

    /// (file, version, down) of each migration, in order.
    fn forward(set: &MigrationSet) -> Vec<(&str, Option<&str>, Option<&str>)> {
        set.migrations.iter().map(|m| (m.file.as_str(), m.version.as_deref(), m.down.as_deref())).collect()
    }

    #[test]
    fn orders_each_layout() {
        type Expected<'a> = &'a [(&'a str, Option<&'a str>, Option<&'a str>)];
        let cases: &[(&[&str], Expected<'_>)] = &[
            (
                &["0010_c.sql", "0002_b.sql", "0001_a.sql"],
                &[
                    ("0001_a.sql", Some("0001"), None),
                    ("0002_b.sql", Some("0002"), None),
                    ("0010_c.sql", Some("0010"), None),
                ],
            ),
            (
                &["9_b.sql", "10_c.sql", "1_a.sql"],
                &[("1_a.sql", Some("1"), None), ("9_b.sql", Some("9"), None), ("10_c.sql", Some("10"), None)],
            ),
            (
                &["20240102000000_b.sql", "20231231235959_a.sql"],
                &[
                    ("20231231235959_a.sql", Some("20231231235959"), None),
                    ("20240102000000_b.sql", Some("20240102000000"), None),
                ],
            ),
            (
                &["000002_b.down.sql", "000001_a.up.sql", "000002_b.up.sql", "000001_a.down.sql"],
                &[
                    ("000001_a.up.sql", Some("000001"), Some("000001_a.down.sql")),
                    ("000002_b.up.sql", Some("000002"), Some("000002_b.down.sql")),
                ],
            ),
            (
                &[
                    "R__views.sql",
                    "V10__d.sql",
                    "V2__c.sql",
                    "V1.1__b.sql",
                    "V1__a.sql",
                    "U2__c.sql",
                    "R__functions.sql",
                ],
                &[
                    ("V1__a.sql", Some("1"), None),
                    ("V1.1__b.sql", Some("1.1"), None),
                    ("V2__c.sql", Some("2"), Some("U2__c.sql")),
                    ("V10__d.sql", Some("10"), None),
                    ("R__functions.sql", None, None),
                    ("R__views.sql", None, None),
                ],
            ),
            (
                &["V1_2__b.sql", "V1_10__c.sql", "V1_1__a.sql"],
                &[
                    ("V1_1__a.sql", Some("1_1"), None),
                    ("V1_2__b.sql", Some("1_2"), None),
                    ("V1_10__c.sql", Some("1_10"), None),
                ],
            ),
            (
                &["db/migrations/0002_b.sql", "db/migrations/0001_a.sql"],
                &[("db/migrations/0001_a.sql", Some("0001"), None), ("db/migrations/0002_b.sql", Some("0002"), None)],
            ),
        ];
        for (names, expected) in cases {
            let set = order(names);
            assert_eq!(&forward(&set), expected, "order of {names:?}");
            assert_eq!(set.ignored, [], "nothing ignored in {names:?}");
        }
    }

    #[test]
    fn names_and_layouts_are_read_from_the_file_name() {
        let set = order(&["0001_create_users.sql", "000002_add_name.up.sql", "V3__drop_full_name.sql", "R__views.sql"]);
        let read: Vec<(&str, Layout)> = set.migrations.iter().map(|m| (m.name.as_str(), m.layout)).collect();
        assert_eq!(
            read,
            [
                ("create_users", Layout::Numbered),
                ("add_name", Layout::UpDown),
                ("drop_full_name", Layout::Flyway),
                ("views", Layout::Flyway)
            ]
        );
    }

    #[test]
    fn ignores_what_is_not_a_forward_migration_and_says_why() {
        let cases: &[(&str, &str)] = &[
            ("README.md", "not a .sql file"),
            (".keep", "not a .sql file"),
            (
                "seed.sql",
                "the name matches no known layout (0001_name.sql, 0001_name.up.sql, V1__name.sql, R__name.sql)",
            ),
            (
                "0001-init.sql",
                "the name matches no known layout (0001_name.sql, 0001_name.up.sql, V1__name.sql, R__name.sql)",
            ),
            ("init.up.sql", "a .up.sql file must be named VERSION_name.up.sql"),
            ("0009_gone.down.sql", "a down migration without a matching up migration"),
            ("U9__gone.sql", "a down migration without a matching up migration"),
            ("V1.x__bad.sql", "`1.x` is not a Flyway version (digits separated by . or _)"),
            ("V1_init.sql", "a Flyway migration must be named V<version>__<description>.sql"),
            ("B5__baseline.sql", "Flyway baseline migrations are not supported; they only run on empty databases"),
        ];
        for (name, reason) in cases {
            let set = order(&[name]);
            assert_eq!(set.migrations, [], "{name} is not forward");
            assert_eq!(set.ignored, [IgnoredFile { file: (*name).into(), reason: (*reason).into() }], "{name}");
        }
    }

    #[test]
    fn duplicate_versions_keep_the_first_and_report_the_rest() {
        let set = order(&["0001_b.sql", "0001_a.sql", "1.0_x.sql", "V1__flyway.sql"]);
        assert_eq!(forward(&set), [("0001_a.sql", Some("0001"), None)]);
        let ignored: Vec<(&str, &str)> = set.ignored.iter().map(|i| (i.file.as_str(), i.reason.as_str())).collect();
        assert_eq!(
            ignored,
            [
                ("0001_b.sql", "duplicate version 0001: 0001_a.sql has it too"),
                (
                    "1.0_x.sql",
                    "the name matches no known layout (0001_name.sql, 0001_name.up.sql, V1__name.sql, R__name.sql)"
                ),
                ("V1__flyway.sql", "duplicate version 1: 0001_a.sql has it too"),
            ]
        );
    }

    #[test]
    fn a_down_pairs_only_with_an_up_of_its_own_layout() {
        let set = order(&["0001_a.sql", "0001_a.down.sql"]);
        assert_eq!(forward(&set), [("0001_a.sql", Some("0001"), None)]);
        assert_eq!(set.ignored[0].reason, "a down migration without a matching up migration");
    }

    #[test]
    fn versions_compare_numerically_beyond_u64() {
        let cases = [
            ("1", "2", Ordering::Less),
            ("10", "9", Ordering::Greater),
            ("001", "1", Ordering::Equal),
            ("1.0", "1", Ordering::Equal),
            ("1.1", "1.10", Ordering::Less),
            ("1.2.3", "1.2", Ordering::Greater),
            ("123456789012345678901234567890", "123456789012345678901234567891", Ordering::Less),
        ];
        for (a, b, expected) in cases {
            assert_eq!(compare_keys(&version_key(a), &version_key(b)), expected, "{a} vs {b}");
        }
    }
}
