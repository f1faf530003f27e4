//! Feature flags in the store: each flag's current definition, every version
//! it ever had, and one global flag-configuration version for streaming.
//!
//! Flags belong to no app, so their audit entries carry no app (`app` is
//! `NULL` in the audit table; the hash chain covers that as for any entry).
//! A flag write, its history row and its audit entry are one transaction.
//! The global version is the highest `config_version` in `flag_history`,
//! which is append-only, so it only grows.

use async_trait::async_trait;
use backstop_flags::Flag;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::sqlite::{append_audit, parse_ts, ts, write_tx};
use crate::{NewAudit, Result, SqliteStore, StoreError};

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS flags (
    key        TEXT PRIMARY KEY,
    flag       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS flag_history (
    key            TEXT NOT NULL,
    version        INTEGER NOT NULL,
    config_version INTEGER NOT NULL UNIQUE,
    action         TEXT NOT NULL,
    flag           TEXT NOT NULL,
    actor          TEXT NOT NULL,
    reason         TEXT,
    at             TEXT NOT NULL,
    PRIMARY KEY (key, version)
);
CREATE TRIGGER IF NOT EXISTS flag_history_no_update BEFORE UPDATE ON flag_history
BEGIN SELECT RAISE(ABORT, 'flag history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS flag_history_no_delete BEFORE DELETE ON flag_history
BEGIN SELECT RAISE(ABORT, 'flag history is append-only'); END;
"#;

/// Whether a write creates a flag or replaces an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagWriteMode {
    /// Refused with [`StoreError::FlagExists`] when the key is taken.
    Create,
    /// Refused with [`StoreError::UnknownFlag`] when the key is free.
    Replace,
}

/// One change of one flag. The store assigns `flag.version` (previous + 1;
/// a key created for the first time starts at 1, a key created again after a
/// delete goes on from its last version) and the next global configuration
/// version.
#[derive(Debug, Clone)]
pub struct FlagWrite {
    pub flag: Flag,
    pub mode: FlagWriteMode,
    /// What happened, for history and audit: `create`, `set`, `on`, `off`
    /// (`delete` is [`FlagStore::delete_flag`]).
    pub action: String,
    pub actor: String,
    pub reason: Option<String>,
    /// Replace only if the stored flag is at this version
    /// ([`StoreError::FlagChanged`] otherwise): optimistic concurrency.
    pub expected_version: Option<u64>,
}

/// The removal of one flag.
#[derive(Debug, Clone)]
pub struct FlagDelete {
    pub key: String,
    pub actor: String,
    pub reason: Option<String>,
}

/// One version of a flag, as written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlagHistoryEntry {
    pub key: String,
    pub version: u64,
    pub config_version: u64,
    pub action: String,
    pub flag: Flag,
    pub actor: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// Every flag at one global configuration version.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlagSet {
    pub version: u64,
    pub flags: Vec<Flag>,
    /// Stored flags whose JSON no longer reads (written by a newer version, or damaged), in key
    /// order: left out of `flags` so that one of them never hides the others, and named here so
    /// that they can be seen and deleted.
    pub unreadable: Vec<UnreadableFlag>,
}

/// A stored flag that cannot be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableFlag {
    pub key: String,
    pub error: String,
}

/// The flag part of the store; [`crate::Store`] requires it, so every store
/// (SQLite now, PostgreSQL later) keeps flags beside the ledger.
#[async_trait]
pub trait FlagStore: Send + Sync {
    /// All flags, in key order, with the global version they make up (one read). A flag whose
    /// JSON does not read is reported in [`FlagSet::unreadable`], not an error.
    async fn flags(&self) -> Result<FlagSet>;
    /// One flag; [`StoreError::UnknownFlag`] when there is none.
    async fn flag(&self, key: &str) -> Result<Flag>;
    /// Every version of a flag, oldest first; [`StoreError::UnknownFlag`] when there is none.
    async fn flag_history(&self, key: &str) -> Result<Vec<FlagHistoryEntry>>;
    /// Write a flag, its history row and an audit entry in one transaction.
    async fn write_flag(&self, write: FlagWrite) -> Result<FlagHistoryEntry>;
    /// Remove a flag; its history row (action `delete`, holding the last
    /// definition at the next version) and an audit entry are written in the
    /// same transaction. [`StoreError::UnknownFlag`] when there is none. A flag whose JSON does
    /// not read is deleted too: its history row then holds [`unreadable_stand_in`].
    async fn delete_flag(&self, delete: FlagDelete) -> Result<FlagHistoryEntry>;
    /// The change feed: every flag change after global version `version`, in version order (at
    /// most `limit` of them). Writers on other nodes show up here too, so fan-out reads from it.
    async fn flag_changes_since(&self, version: u64, limit: usize) -> Result<Vec<FlagHistoryEntry>>;
}

fn parse_flag(what: &'static str, json: &str) -> Result<Flag> {
    serde_json::from_str(json).map_err(|_| StoreError::Corrupt { what, value: json.to_owned() })
}

fn config_version(tx: &rusqlite::Connection) -> Result<u64> {
    let v: i64 = tx.query_row("SELECT COALESCE(MAX(config_version), 0) FROM flag_history", [], |r| r.get(0))?;
    Ok(v as u64)
}

#[async_trait]
impl FlagStore for SqliteStore {
    async fn flags(&self) -> Result<FlagSet> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let version = config_version(&tx)?;
        let rows = {
            let mut stmt = tx.prepare("SELECT key, flag FROM flags ORDER BY key")?;
            stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        tx.commit()?;
        let mut set = FlagSet { version, ..FlagSet::default() };
        for (key, json) in rows {
            match serde_json::from_str::<Flag>(&json) {
                Ok(flag) => set.flags.push(flag),
                Err(e) => set.unreadable.push(UnreadableFlag { key, error: e.to_string() }),
            }
        }
        Ok(set)
    }

    async fn flag(&self, key: &str) -> Result<Flag> {
        let json: Option<String> =
            self.lock().query_row("SELECT flag FROM flags WHERE key = ?1", [key], |r| r.get(0)).optional()?;
        let json = json.ok_or_else(|| StoreError::UnknownFlag { key: key.to_owned() })?;
        parse_flag("flags.flag", &json)
    }

    async fn flag_changes_since(&self, version: u64, limit: usize) -> Result<Vec<FlagHistoryEntry>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT key, version, config_version, action, flag, actor, reason, at FROM flag_history \
             WHERE config_version > ?1 ORDER BY config_version LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![version as i64, limit as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, String>(7)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(key, version, config_version, action, flag, actor, reason, at)| {
                Ok(FlagHistoryEntry {
                    key,
                    version: version as u64,
                    config_version: config_version as u64,
                    action,
                    flag: parse_flag("flag_history.flag", &flag)?,
                    actor,
                    reason,
                    at: parse_ts("flag_history.at", &at)?,
                })
            })
            .collect()
    }

    async fn flag_history(&self, key: &str) -> Result<Vec<FlagHistoryEntry>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT version, config_version, action, flag, actor, reason, at FROM flag_history \
             WHERE key = ?1 ORDER BY version",
        )?;
        let rows = stmt
            .query_map([key], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if rows.is_empty() {
            return Err(StoreError::UnknownFlag { key: key.to_owned() });
        }
        rows.into_iter()
            .map(|(version, config_version, action, flag, actor, reason, at)| {
                Ok(FlagHistoryEntry {
                    key: key.to_owned(),
                    version: version as u64,
                    config_version: config_version as u64,
                    action,
                    flag: parse_flag("flag_history.flag", &flag)?,
                    actor,
                    reason,
                    at: parse_ts("flag_history.at", &at)?,
                })
            })
            .collect()
    }

    async fn write_flag(&self, write: FlagWrite) -> Result<FlagHistoryEntry> {
        let FlagWrite { mut flag, mode, action, actor, reason, expected_version } = write;
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let current: Option<i64> =
            tx.query_row("SELECT version FROM flags WHERE key = ?1", [&flag.key], |r| r.get(0)).optional()?;
        let version = match (mode, current) {
            (FlagWriteMode::Create, Some(_)) => return Err(StoreError::FlagExists { key: flag.key }),
            (FlagWriteMode::Replace, None) => return Err(StoreError::UnknownFlag { key: flag.key }),
            (FlagWriteMode::Create, None) => last_history_version(&tx, &flag.key)? + 1,
            (FlagWriteMode::Replace, Some(found)) => {
                let found = found as u64;
                if let Some(expected) = expected_version.filter(|&e| e != found) {
                    return Err(StoreError::FlagChanged { key: flag.key, expected, found });
                }
                found + 1
            }
        };
        flag.version = version;
        let config = config_version(&tx)? + 1;
        let at = ts(Utc::now());
        let json = flag_json(&flag)?;
        tx.execute(
            "INSERT INTO flags (key, flag, version, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT(key) DO UPDATE SET flag = excluded.flag, version = excluded.version, \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            params![flag.key, json, version as i64, at, actor],
        )?;
        let entry = FlagHistoryEntry {
            key: flag.key.clone(),
            version,
            config_version: config,
            action,
            flag,
            actor,
            reason,
            at: parse_ts("flag_history.at", &at)?,
        };
        record(&tx, &entry, &json, &at, None)?;
        tx.commit()?;
        Ok(entry)
    }

    async fn delete_flag(&self, delete: FlagDelete) -> Result<FlagHistoryEntry> {
        let FlagDelete { key, actor, reason } = delete;
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let stored: Option<String> =
            tx.query_row("SELECT flag FROM flags WHERE key = ?1", [&key], |r| r.get(0)).optional()?;
        let Some(stored) = stored else {
            return Err(StoreError::UnknownFlag { key });
        };
        let (mut flag, unreadable) = match serde_json::from_str::<Flag>(&stored) {
            Ok(flag) => (flag, None),
            Err(e) => (unreadable_stand_in(&key, &e.to_string()), Some(e.to_string())),
        };
        flag.version = last_history_version(&tx, &key)? + 1;
        let config = config_version(&tx)? + 1;
        let at = ts(Utc::now());
        let json = flag_json(&flag)?;
        tx.execute("DELETE FROM flags WHERE key = ?1", [&key])?;
        let entry = FlagHistoryEntry {
            key,
            version: flag.version,
            config_version: config,
            action: "delete".into(),
            flag,
            actor,
            reason,
            at: parse_ts("flag_history.at", &at)?,
        };
        record(&tx, &entry, &json, &at, unreadable.as_deref())?;
        tx.commit()?;
        Ok(entry)
    }
}

/// What the `delete` history row of an unreadable flag holds in place of its last definition
/// (which cannot be read): switched off, no variants, and why in its description. It is never
/// served; the definitions before the damage stay in the flag's earlier history rows.
pub fn unreadable_stand_in(key: &str, error: &str) -> Flag {
    Flag {
        key: key.to_owned(),
        description: format!("unreadable when deleted: {error}"),
        enabled: false,
        variants: Default::default(),
        default_variant: String::new(),
        off_variant: String::new(),
        rules: Vec::new(),
        version: 0,
    }
}

fn flag_json(flag: &Flag) -> Result<String> {
    serde_json::to_string(flag).map_err(|e| StoreError::Corrupt { what: "flag to store", value: e.to_string() })
}

/// The highest version a key ever had (0 for a key never used): a key
/// created again after a delete goes on from there.
fn last_history_version(tx: &rusqlite::Connection, key: &str) -> Result<u64> {
    let v: i64 =
        tx.query_row("SELECT COALESCE(MAX(version), 0) FROM flag_history WHERE key = ?1", [key], |r| r.get(0))?;
    Ok(v as u64)
}

/// The history row and the audit entry of one change, inside its transaction; `unreadable` is
/// why the flag's stored JSON did not read (a delete of an unreadable flag), kept in the audit.
fn record(
    tx: &rusqlite::Transaction<'_>,
    entry: &FlagHistoryEntry,
    json: &str,
    at: &str,
    unreadable: Option<&str>,
) -> Result<()> {
    tx.execute(
        "INSERT INTO flag_history (key, version, config_version, action, flag, actor, reason, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            entry.key,
            entry.version as i64,
            entry.config_version as i64,
            entry.action,
            json,
            entry.actor,
            entry.reason,
            at
        ],
    )?;
    let mut detail = serde_json::json!({
        "flag": entry.key,
        "version": entry.version,
        "config_version": entry.config_version,
        "enabled": entry.flag.enabled,
        "reason": entry.reason,
    });
    if let Some(error) = unreadable {
        detail["unreadable"] = error.into();
    }
    let audit =
        NewAudit { actor: entry.actor.clone(), action: format!("flag.{}", entry.action), outcome: "ok".into(), detail };
    append_audit(tx, None, audit, at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;
    use serde_json::json;

    fn flag(key: &str, enabled: bool) -> Flag {
        serde_json::from_value(json!({
            "key": key, "enabled": enabled, "variants": {"on": true, "off": false},
            "default_variant": "on", "off_variant": "off", "version": 0
        }))
        .unwrap()
    }

    fn write(f: Flag, mode: FlagWriteMode, action: &str) -> FlagWrite {
        FlagWrite { flag: f, mode, action: action.into(), actor: "tester".into(), reason: None, expected_version: None }
    }

    #[tokio::test]
    async fn writes_are_versioned_and_audited() {
        let store = SqliteStore::in_memory().unwrap();
        assert_eq!(store.flags().await.unwrap(), FlagSet::default());
        let e = store.write_flag(write(flag("a", true), FlagWriteMode::Create, "create")).await.unwrap();
        assert_eq!((e.version, e.config_version, e.flag.version), (1, 1, 1));
        store.write_flag(write(flag("b", true), FlagWriteMode::Create, "create")).await.unwrap();
        let mut off = write(flag("a", false), FlagWriteMode::Replace, "off");
        off.reason = Some("errors".into());
        off.expected_version = Some(1);
        let e = store.write_flag(off).await.unwrap();
        assert_eq!((e.version, e.config_version), (2, 3));

        let set = store.flags().await.unwrap();
        assert_eq!(set.version, 3);
        assert_eq!(
            set.flags.iter().map(|f| (f.key.as_str(), f.enabled)).collect::<Vec<_>>(),
            [("a", false), ("b", true)]
        );
        let history = store.flag_history("a").await.unwrap();
        assert_eq!(history.iter().map(|h| h.action.as_str()).collect::<Vec<_>>(), ["create", "off"]);
        assert_eq!(history[1].reason.as_deref(), Some("errors"));

        let audit = store.audit_entries(0, 100).await.unwrap();
        assert_eq!(audit.len(), 3);
        assert_eq!(audit[2].action, "flag.off");
        assert_eq!(audit[2].app, None);
        backstop_core::audit::verify_chain(&audit).unwrap();
    }

    #[tokio::test]
    async fn refusals_write_nothing() {
        let store = SqliteStore::in_memory().unwrap();
        store.write_flag(write(flag("a", true), FlagWriteMode::Create, "create")).await.unwrap();
        let dup = store.write_flag(write(flag("a", true), FlagWriteMode::Create, "create")).await.unwrap_err();
        assert!(matches!(dup, StoreError::FlagExists { .. }), "{dup}");
        let missing = store.write_flag(write(flag("z", true), FlagWriteMode::Replace, "set")).await.unwrap_err();
        assert!(matches!(missing, StoreError::UnknownFlag { .. }), "{missing}");
        let mut stale = write(flag("a", false), FlagWriteMode::Replace, "set");
        stale.expected_version = Some(7);
        let stale = store.write_flag(stale).await.unwrap_err();
        assert!(matches!(stale, StoreError::FlagChanged { expected: 7, found: 1, .. }), "{stale}");
        assert!(matches!(store.flag("z").await.unwrap_err(), StoreError::UnknownFlag { .. }));
        assert!(matches!(store.flag_history("z").await.unwrap_err(), StoreError::UnknownFlag { .. }));
        assert_eq!(store.flags().await.unwrap().version, 1);
        assert_eq!(store.audit_entries(0, 100).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn delete_keeps_history_and_a_new_create_goes_on_from_it() {
        let store = SqliteStore::in_memory().unwrap();
        store.write_flag(write(flag("a", true), FlagWriteMode::Create, "create")).await.unwrap();
        store.write_flag(write(flag("b", true), FlagWriteMode::Create, "create")).await.unwrap();
        let del = |key: &str| FlagDelete { key: key.into(), actor: "tester".into(), reason: Some("gone".into()) };
        let e = store.delete_flag(del("a")).await.unwrap();
        assert_eq!((e.version, e.config_version, e.action.as_str()), (2, 3, "delete"));
        assert!(matches!(store.flag("a").await.unwrap_err(), StoreError::UnknownFlag { .. }));
        let set = store.flags().await.unwrap();
        assert_eq!((set.version, set.flags.len()), (3, 1));
        let missing = store.delete_flag(del("a")).await.unwrap_err();
        assert!(matches!(missing, StoreError::UnknownFlag { .. }), "{missing}");
        assert_eq!(store.flags().await.unwrap().version, 3, "a refused delete writes nothing");

        let again = store.write_flag(write(flag("a", false), FlagWriteMode::Create, "create")).await.unwrap();
        assert_eq!((again.version, again.config_version), (3, 4));
        let history = store.flag_history("a").await.unwrap();
        assert_eq!(history.iter().map(|h| h.action.as_str()).collect::<Vec<_>>(), ["create", "delete", "create"]);
        assert_eq!(history[1].reason.as_deref(), Some("gone"));
        let audit = store.audit_entries(0, 100).await.unwrap();
        assert_eq!(audit.iter().filter(|a| a.action == "flag.delete").count(), 1);
        backstop_core::audit::verify_chain(&audit).unwrap();
    }

    #[tokio::test]
    async fn flags_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backstop.db");
        {
            let store = SqliteStore::open(&path).unwrap();
            store.write_flag(write(flag("a", true), FlagWriteMode::Create, "create")).await.unwrap();
            store.write_flag(write(flag("a", false), FlagWriteMode::Replace, "off")).await.unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.flags().await.unwrap().version, 2);
        assert!(!store.flag("a").await.unwrap().enabled);
        assert_eq!(store.flag_history("a").await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn an_unreadable_flag_is_reported_not_fatal_and_can_be_deleted() {
        let store = SqliteStore::in_memory().unwrap();
        for key in ["a", "b", "c"] {
            store.write_flag(write(flag(key, true), FlagWriteMode::Create, "create")).await.unwrap();
        }
        // As a newer version or a damaged disk would leave it.
        store.lock().execute("UPDATE flags SET flag = '{\"key\": \"b\", \"shiny\": 1}' WHERE key = 'b'", []).unwrap();

        let set = store.flags().await.unwrap();
        assert_eq!(set.flags.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(set.unreadable.len(), 1);
        assert_eq!(set.unreadable[0].key, "b");
        assert!(set.unreadable[0].error.contains("shiny"), "{:?}", set.unreadable);

        let gone = FlagDelete { key: "b".into(), actor: "tester".into(), reason: Some("unreadable".into()) };
        let e = store.delete_flag(gone).await.unwrap();
        assert_eq!((e.action.as_str(), e.version, e.config_version, e.flag.enabled), ("delete", 2, 4, false));
        let set = store.flags().await.unwrap();
        assert_eq!((set.version, set.flags.len(), set.unreadable.len()), (4, 2, 0));
        let history = store.flag_history("b").await.unwrap();
        assert_eq!(history.iter().map(|h| h.action.as_str()).collect::<Vec<_>>(), ["create", "delete"]);
        assert!(history[1].flag.description.contains("shiny"), "{:?}", history[1]);
        assert_eq!(store.flag_changes_since(3, 10).await.unwrap().len(), 1, "the change feed still reads");
        let audit = store.audit_entries(0, 100).await.unwrap();
        let last = audit.last().unwrap();
        assert_eq!(last.action, "flag.delete");
        let detail: serde_json::Value = serde_json::from_str(&last.detail).unwrap();
        assert!(detail["unreadable"].as_str().is_some_and(|e| e.contains("shiny")), "{detail}");
        backstop_core::audit::verify_chain(&audit).unwrap();
    }
}
