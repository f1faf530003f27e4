//! Semantic versions for the `semver_*` operators, parsed without allocating.
//!
//! Accepted: an optional `v`/`V`, then `MAJOR[.MINOR[.PATCH]]` (missing parts are
//! 0, so `v2.4` is `2.4.0`), an optional `-PRERELEASE` and an optional `+BUILD`,
//! identifiers being non-empty runs of `0-9A-Za-z-`. Apps report versions like
//! `v2.4.0` or `2.4` as often as strict SemVer, hence the leniency. Precedence is
//! SemVer 2.0.0 §11: numbers compare numerically, a pre-release sorts before its
//! release, pre-release identifiers compare one by one (numeric below
//! alphanumeric, numeric by value, alphanumeric in ASCII order, fewer identifiers
//! first), and build metadata is ignored.

//!
//! Why not the `semver` crate: evaluation must not allocate (`CompiledCondition::matches`), and
//! `semver::Version::parse` puts pre-release identifiers longer than 8 bytes on the heap; it is
//! also strict where apps are not (`v2.4`). The crate is the oracle instead: a test checks that
//! both order every strict version of a generated set alike.

use std::cmp::Ordering;

/// A version borrowing its pre-release from the parsed text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Version<'a> {
    major: u64,
    minor: u64,
    patch: u64,
    /// Empty when there is none.
    pre: &'a str,
}

/// A version owned by a compiled condition.
#[derive(Debug, Clone)]
pub(crate) struct OwnedVersion {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
}

pub(crate) fn parse(text: &str) -> Option<Version<'_>> {
    let s = text.strip_prefix(['v', 'V']).unwrap_or(text);
    let s = match s.split_once('+') {
        Some((rest, build)) => {
            if !identifiers_ok(build) {
                return None;
            }
            rest
        }
        None => s,
    };
    let (core, pre) = match s.split_once('-') {
        Some((core, pre)) => {
            if !identifiers_ok(pre) {
                return None;
            }
            (core, pre)
        }
        None => (s, ""),
    };
    let mut parts = core.split('.');
    let major = number(parts.next()?)?;
    let minor = parts.next().map_or(Some(0), number)?;
    let patch = parts.next().map_or(Some(0), number)?;
    if parts.next().is_some() {
        return None;
    }
    Some(Version { major, minor, patch, pre })
}

fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn identifiers_ok(s: &str) -> bool {
    s.split('.').all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

impl Version<'_> {
    pub(crate) fn to_owned_version(self) -> OwnedVersion {
        OwnedVersion { major: self.major, minor: self.minor, patch: self.patch, pre: self.pre.to_owned() }
    }
}

impl OwnedVersion {
    pub(crate) fn as_version(&self) -> Version<'_> {
        Version { major: self.major, minor: self.minor, patch: self.patch, pre: &self.pre }
    }
}

impl Ord for Version<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| compare_pre(self.pre, other.pre))
    }
}

impl PartialOrd for Version<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version<'_> {}

fn compare_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => {}
    }
    let (mut a, mut b) = (a.split('.'), b.split('.'));
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => match compare_identifier(x, y) {
                Ordering::Equal => {}
                other => return other,
            },
        }
    }
}

fn compare_identifier(x: &str, y: &str) -> Ordering {
    let numeric = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    match (numeric(x), numeric(y)) {
        // Compare digit strings by value without parsing, so any length works.
        (true, true) => {
            let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
            x.len().cmp(&y.len()).then_with(|| x.cmp(y))
        }
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => x.cmp(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        type Parts = (u64, u64, u64, &'static str);
        let cases: &[(&str, Option<Parts>)] = &[
            ("1.2.3", Some((1, 2, 3, ""))),
            ("v2.4.0", Some((2, 4, 0, ""))),
            ("V2.4.0", Some((2, 4, 0, ""))),
            ("2.4", Some((2, 4, 0, ""))),
            ("3", Some((3, 0, 0, ""))),
            ("1.0.0-rc.1", Some((1, 0, 0, "rc.1"))),
            ("1.0.0-alpha-beta.2+build.5", Some((1, 0, 0, "alpha-beta.2"))),
            ("1.0.0+20240101", Some((1, 0, 0, ""))),
            ("", None),
            ("v", None),
            ("1.2.3.4", None),
            ("1..3", None),
            ("1.2.x", None),
            ("1.2.3-", None),
            ("1.2.3-rc..1", None),
            ("1.2.3+", None),
            ("1.2.3-rc_1", None),
            (" 1.2.3", None),
            ("-1.2.3", None),
            ("99999999999999999999.0.0", None),
        ];
        for &(text, expected) in cases {
            let got = parse(text).map(|v| (v.major, v.minor, v.patch, v.pre));
            assert_eq!(got, expected, "{text:?}");
        }
    }

    #[test]
    fn precedence_follows_semver_spec() {
        // SemVer 2.0.0 §11 example chain, plus core-number cases.
        let ascending = [
            "0.9.9",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.2.0",
            "1.10.0",
            "2.0.0",
        ];
        for pair in ascending.windows(2) {
            let (a, b) = (parse(pair[0]).unwrap(), parse(pair[1]).unwrap());
            assert_eq!(a.cmp(&b), Ordering::Less, "{} < {}", pair[0], pair[1]);
            assert_eq!(b.cmp(&a), Ordering::Greater, "{} > {}", pair[1], pair[0]);
        }
    }

    #[test]
    fn equal_versions() {
        let cases = [("1.2.0", "v1.2"), ("1.0.0+a", "1.0.0+b"), ("1.0.0-rc.01", "1.0.0-rc.1"), ("2", "2.0.0")];
        for (a, b) in cases {
            assert_eq!(parse(a).unwrap(), parse(b).unwrap(), "{a} == {b}");
        }
    }

    /// Every pair of a generated set of strict versions orders as the `semver` crate orders it.
    #[test]
    fn precedence_agrees_with_the_semver_crate() {
        let pres = [
            "",
            "alpha",
            "alpha.1",
            "alpha.beta",
            "beta.2",
            "beta.11",
            "rc.1",
            "rc.1.x-y",
            "1",
            "2a",
            "a-very-long-identifier.7",
        ];
        let mut texts = Vec::new();
        for (major, minor, patch) in [(0, 0, 1), (0, 9, 9), (1, 0, 0), (1, 2, 0), (1, 10, 0), (10, 0, 3)] {
            for pre in pres {
                let pre = if pre.is_empty() { String::new() } else { format!("-{pre}") };
                texts.push(format!("{major}.{minor}.{patch}{pre}+build.{major}"));
            }
        }
        for a in &texts {
            for b in &texts {
                let ours = parse(a).unwrap().cmp(&parse(b).unwrap());
                let (x, y) = (::semver::Version::parse(a).unwrap(), ::semver::Version::parse(b).unwrap());
                // The crate breaks ties on build metadata; precedence ignores it.
                let theirs = x.cmp_precedence(&y);
                assert_eq!(ours, theirs, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn owned_round_trip() {
        let v = parse("1.0.0-rc.1").unwrap();
        assert_eq!(v.to_owned_version().as_version(), v);
    }
}
