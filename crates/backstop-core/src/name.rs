//! App names: the key of an app in config, URLs and the ledger.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A validated app name: 1 to 63 characters of `a-z`, `0-9`, `-` and `_`,
/// starting with a letter or digit, so it is safe in URLs, paths and SQL.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AppName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid app name (1-63 of a-z, 0-9, `-`, `_`, starting with a letter or digit)")]
pub struct AppNameError {
    pub input: String,
}

impl AppName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AppName {
    type Err = AppNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok { Ok(AppName(s.to_owned())) } else { Err(AppNameError { input: s.to_owned() }) }
    }
}

impl TryFrom<String> for AppName {
    type Error = AppNameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<AppName> for String {
    fn from(n: AppName) -> String {
        n.0
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AppName({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases = [
            ("shop", true),
            ("shop-api_2", true),
            ("9lives", true),
            ("", false),
            ("-shop", false),
            ("Shop", false),
            ("shop/../etc", false),
            ("a b", false),
            (&"a".repeat(63), true),
            (&"a".repeat(64), false),
        ];
        for (input, ok) in cases {
            assert_eq!(input.parse::<AppName>().is_ok(), ok, "{input:?}");
        }
    }
}
