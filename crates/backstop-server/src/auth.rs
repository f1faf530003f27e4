//! The admin token: written once at first start to `STATE/admin.token`
//! (mode 0600) and required as a bearer token on every mutating call.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rand::RngCore;

pub const TOKEN_FILE: &str = "admin.token";

/// Read the admin token, creating it on first start.
pub fn load_or_create_token(state: &Path) -> std::io::Result<String> {
    load_or_create_secret(state, TOKEN_FILE)
}

/// Read a token file under the state directory, creating it with 32 random
/// bytes (hex) and mode 0600 on first start; written to a temporary file and
/// renamed, so a crash never leaves a half-written token.
pub fn load_or_create_secret(state: &Path, file: &str) -> std::io::Result<String> {
    let path = state.join(file);
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => return Ok(t.trim().to_owned()),
        Ok(_) => std::fs::remove_file(&path)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = hex::encode(raw);
    let tmp = state.join(format!("{file}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    f.write_all(format!("{token}\n").as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(token)
}

/// The token a request presents: `Authorization: Bearer TOKEN` (the scheme
/// is case-insensitive, RFC 7235) or `X-API-Key: TOKEN`. Both routes of the
/// API read it the same way, so a token is judged by what it is, never by the
/// header that carried it.
pub fn presented(headers: &axum::http::HeaderMap) -> Option<&str> {
    let bearer = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
        let (scheme, token) = v.trim_start().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then_some(token)
    });
    let api_key = || headers.get("x-api-key").and_then(|v| v.to_str().ok());
    bearer.or_else(api_key).map(str::trim).filter(|t| !t.is_empty())
}

/// Compare a presented token with the real one in time independent of where they differ.
pub fn token_matches(presented: &str, real: &str) -> bool {
    // `subtle` keeps the comparison's time independent of where the bytes differ, with the
    // optimisation barriers a plain fold lacks. Only the length may show, and it is public.
    bool::from(subtle::ConstantTimeEq::ct_eq(presented.as_bytes(), real.as_bytes()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn token_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let t1 = load_or_create_token(dir.path()).unwrap();
        let t2 = load_or_create_token(dir.path()).unwrap();
        assert_eq!(t1, t2);
        assert_eq!(t1.len(), 64);
        let mode = std::fs::metadata(dir.path().join(TOKEN_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn presented_token_table() {
        type Headers = &'static [(&'static str, &'static str)];
        let cases: &[(Headers, Option<&str>)] = &[
            (&[("authorization", "Bearer abc")], Some("abc")),
            (&[("authorization", "bearer abc")], Some("abc")),
            (&[("authorization", "BEARER  abc ")], Some("abc")),
            (&[("authorization", "Basic abc")], None),
            (&[("authorization", "Bearer")], None),
            (&[("authorization", "Bearer  ")], None),
            (&[("x-api-key", "k")], Some("k")),
            (&[("authorization", "Bearer a"), ("x-api-key", "k")], Some("a")),
            (&[], None),
        ];
        for (headers, want) in cases {
            let mut map = axum::http::HeaderMap::new();
            for (k, v) in *headers {
                map.insert(*k, v.parse().unwrap());
            }
            assert_eq!(presented(&map), *want, "{headers:?}");
        }
    }

    #[test]
    fn matching_table() {
        for (presented, real, ok) in
            [("abc", "abc", true), ("abd", "abc", false), ("ab", "abc", false), ("", "abc", false)]
        {
            assert_eq!(token_matches(presented, real), ok, "{presented}");
        }
    }
}
