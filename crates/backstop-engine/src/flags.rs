//! The flag service, rung 1 of the recovery ladder: the compiled snapshot of
//! every flag, writes through the store, and the fan-out of each change to
//! subscribers. No HTTP: how a change looks on a stream is the caller's
//! [`Frames`], built once per change and shared by every subscriber.
//!
//! Writes are serialised by one lock: validate (`backstop_flags::compile`),
//! commit to the store (flag, history row and audit entry in one
//! transaction), then read the store's change feed (`flag_changes_since`)
//! from the version served now, and for each change in order swap the
//! in-memory snapshot and broadcast it. So subscribers see versions in order,
//! never a change the store does not hold, and changes another control plane
//! wrote to the same store too ([`FlagService::catch_up`] is also called on a
//! timer).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use backstop_flags::{CompiledFlag, Flag, FlagError, Snapshot, compile};
use backstop_store::{FlagDelete, FlagHistoryEntry, FlagWrite, FlagWriteMode, Store, StoreError};
use tokio::sync::broadcast;

/// How many changes a slow subscriber may fall behind before it must resync from the snapshot.
pub const CHANNEL_CAPACITY: usize = 1024;

/// How many changes one read of the store's change feed returns at most.
const FEED_PAGE: usize = 256;

/// How often every subscriber is sent [`Broadcast::KeepAlive`].
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How the caller presents changes to its subscribers (for the server: event-stream frames).
pub trait Frames: Send + Sync + 'static {
    /// What every subscriber is sent for one change; built once per change.
    type Change: Debug + Send + Sync + 'static;
    /// Kept with each snapshot, for what the caller derives from it lazily.
    type Cache: Debug + Default + Send + Sync + 'static;

    /// The presentation of `change`, which made `current` the snapshot served.
    fn change(change: &FlagChange, current: &Current<Self>) -> Self::Change;
}

/// What the broadcast carries to every subscriber.
#[derive(Debug)]
pub enum Broadcast<F: Frames> {
    Change(Arc<Published<F>>),
    /// A keep-alive tick (one for all subscribers, not a timer each).
    KeepAlive,
    /// The service is closing: end the subscription.
    Close,
}

impl<F: Frames> Clone for Broadcast<F> {
    fn clone(&self) -> Self {
        match self {
            Broadcast::Change(p) => Broadcast::Change(p.clone()),
            Broadcast::KeepAlive => Broadcast::KeepAlive,
            Broadcast::Close => Broadcast::Close,
        }
    }
}

/// The flags as evaluated now: a snapshot at one configuration version and its ETag.
#[derive(Debug)]
pub struct Current<F: Frames + ?Sized> {
    pub snapshot: Snapshot,
    pub etag: String,
    /// Stored flags left out of the snapshot because they cannot be read or do not compile,
    /// key to why: served to nobody, but listed so that someone sees them and deletes or
    /// replaces them.
    pub unreadable: BTreeMap<String, String>,
    /// The caller's lazily built presentation of this snapshot.
    pub cache: F::Cache,
}

impl<F: Frames> Current<F> {
    fn new(snapshot: Snapshot, unreadable: BTreeMap<String, String>) -> Current<F> {
        Current { etag: snapshot.etag(), snapshot, unreadable, cache: F::Cache::default() }
    }
}

/// What one stored change does to the snapshot.
enum Applied {
    /// The flag is served as compiled (boxed: a compiled flag is large, and this is short-lived).
    Serve(Box<CompiledFlag>),
    /// The flag was deleted.
    Gone,
    /// The flag was written but does not compile (here): left out and reported, as at start.
    Unreadable(String),
}

/// One stored change as applied: the configuration version it made, the new ETag, the flag
/// (`None`: deleted).
#[derive(Debug, Clone, PartialEq)]
pub struct FlagChange {
    pub version: u64,
    pub etag: String,
    pub key: String,
    pub flag: Option<Flag>,
}

/// One change as broadcast.
#[derive(Debug)]
pub struct Published<F: Frames> {
    pub version: u64,
    pub frames: F::Change,
}

/// A change asked for through the admin API.
#[derive(Debug)]
pub enum Edit {
    Create(Flag),
    Set { flag: Flag, expected_version: Option<u64> },
    Enable(bool),
    Delete,
}

/// What a write did.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The flag as stored now (for a delete: as it was).
    pub flag: Flag,
    /// False when the flag already was in the asked state (nothing recorded).
    pub changed: bool,
    pub config_version: u64,
}

/// Why a write was not made.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error(transparent)]
    Invalid(#[from] FlagError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct FlagService<F: Frames> {
    current: RwLock<Arc<Current<F>>>,
    write: tokio::sync::Mutex<()>,
    events: broadcast::Sender<Broadcast<F>>,
    closed: AtomicBool,
}

impl<F: Frames> FlagService<F> {
    /// Load every stored flag. A stored flag that no longer reads or compiles is logged, left
    /// out and kept in [`Current::unreadable`] rather than stopping the control plane.
    pub async fn load(store: &dyn Store) -> Result<FlagService<F>, StoreError> {
        let set = store.flags().await?;
        let mut unreadable = BTreeMap::new();
        for bad in set.unreadable {
            tracing::error!(flag = %bad.key, error = %bad.error, "stored flag cannot be read");
            unreadable.insert(bad.key, bad.error);
        }
        let mut compiled = Vec::with_capacity(set.flags.len());
        for flag in set.flags {
            let key = flag.key.clone();
            match compile(flag) {
                Ok(c) => compiled.push(c),
                Err(e) => {
                    tracing::error!(flag = %key, error = %e, "stored flag does not compile");
                    unreadable.insert(key, format!("does not compile: {e}"));
                }
            }
        }
        let snapshot = Snapshot::new(set.version, compiled);
        let (events, _) = broadcast::channel(CHANNEL_CAPACITY);
        let ticker = events.downgrade();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(KEEP_ALIVE);
            tick.tick().await;
            loop {
                tick.tick().await;
                // Ends with the service.
                let Some(events) = ticker.upgrade() else { return };
                let _ = events.send(Broadcast::KeepAlive);
            }
        });
        Ok(FlagService {
            current: RwLock::new(Arc::new(Current::new(snapshot, unreadable))),
            write: tokio::sync::Mutex::new(()),
            events,
            closed: AtomicBool::new(false),
        })
    }

    pub fn current(&self) -> Arc<Current<F>> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Broadcast<F>> {
        self.events.subscribe()
    }

    /// Send every subscriber a keep-alive tick now (the service also does every 15 s).
    pub fn keep_alive(&self) {
        let _ = self.events.send(Broadcast::KeepAlive);
    }

    /// End every subscription (the control plane is shutting down).
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.events.send(Broadcast::Close);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Validate and commit one change, then publish it (and anything else the feed holds).
    pub async fn edit(
        &self,
        store: &dyn Store,
        key: &str,
        edit: Edit,
        action: &str,
        actor: &str,
        reason: Option<String>,
    ) -> Result<Written, EditError> {
        let _guard = self.write.lock().await;
        let (flag, mode, expected_version) = match edit {
            Edit::Delete => {
                let delete = FlagDelete { key: key.to_owned(), actor: actor.to_owned(), reason };
                let entry = store.delete_flag(delete).await?;
                self.catch_up_locked(store).await?;
                return Ok(Written { flag: entry.flag, changed: true, config_version: entry.config_version });
            }
            Edit::Create(flag) => (flag, FlagWriteMode::Create, None),
            Edit::Set { flag, expected_version } => (flag, FlagWriteMode::Replace, expected_version),
            Edit::Enable(enabled) => {
                let mut flag = store.flag(key).await?;
                if flag.enabled == enabled {
                    return Ok(Written { flag, changed: false, config_version: self.current().snapshot.version });
                }
                let expected = flag.version;
                flag.enabled = enabled;
                (flag, FlagWriteMode::Replace, Some(expected))
            }
        };
        compile(flag.clone())?;
        let write =
            FlagWrite { flag, mode, action: action.to_owned(), actor: actor.to_owned(), reason, expected_version };
        let entry = store.write_flag(write).await?;
        self.catch_up_locked(store).await?;
        Ok(Written { flag: entry.flag, changed: true, config_version: entry.config_version })
    }

    /// Publish every change the store holds beyond the version served now (written here or by
    /// another control plane on the same store), in version order.
    pub async fn catch_up(&self, store: &dyn Store) -> Result<(), StoreError> {
        let _guard = self.write.lock().await;
        self.catch_up_locked(store).await
    }

    async fn catch_up_locked(&self, store: &dyn Store) -> Result<(), StoreError> {
        loop {
            let since = self.current().snapshot.version;
            let changes = store.flag_changes_since(since, FEED_PAGE).await?;
            let full_page = changes.len() == FEED_PAGE;
            for entry in changes {
                let applied = if entry.action == "delete" {
                    Applied::Gone
                } else {
                    match compile(entry.flag.clone()) {
                        Ok(compiled) => Applied::Serve(Box::new(compiled)),
                        Err(e) => {
                            // Left out, as at start: one bad flag never stops the others.
                            tracing::error!(flag = %entry.key, error = %e, "stored flag does not compile");
                            Applied::Unreadable(format!("does not compile: {e}"))
                        }
                    }
                };
                self.publish(&entry, applied);
            }
            if !full_page {
                return Ok(());
            }
        }
    }

    /// Swap in the snapshot with `entry` applied, then broadcast it. Any change of a key ends
    /// its being unreadable, unless the new definition does not compile either.
    fn publish(&self, entry: &FlagHistoryEntry, applied: Applied) {
        let old = self.current();
        let mut flags = old.snapshot.flags.clone();
        let mut unreadable = old.unreadable.clone();
        unreadable.remove(&entry.key);
        let flag = match applied {
            Applied::Serve(compiled) => {
                flags.insert(entry.key.clone(), *compiled);
                Some(entry.flag.clone())
            }
            Applied::Gone => {
                flags.remove(&entry.key);
                None
            }
            Applied::Unreadable(error) => {
                flags.remove(&entry.key);
                unreadable.insert(entry.key.clone(), error);
                None
            }
        };
        let snapshot = Snapshot { version: entry.config_version, flags };
        let current = Arc::new(Current::<F>::new(snapshot, unreadable));
        let change =
            FlagChange { version: entry.config_version, etag: current.etag.clone(), key: entry.key.clone(), flag };
        let published = Arc::new(Published { version: change.version, frames: F::change(&change, &current) });
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = current;
        // No subscriber is not an error.
        let _ = self.events.send(Broadcast::Change(published));
    }
}

/// Flags as the engine's own operations read and flip them (the kill switch of an incident or of a
/// failed analysis), without knowing how the caller frames changes for its subscribers.
#[async_trait::async_trait]
pub trait FlagSwitch: Send + Sync + 'static {
    /// Whether the flag is on; `None` when there is no such flag.
    fn enabled(&self, key: &str) -> Option<bool>;
    /// Turn a flag off (a no-op when it already is); an error says why it could not be.
    async fn turn_off(&self, key: &str, actor: &str, reason: &str) -> Result<bool, String>;
}

/// The flag service and its store as a [`FlagSwitch`].
pub struct ServiceSwitch<F: Frames> {
    pub service: Arc<FlagService<F>>,
    pub store: Arc<dyn Store>,
}

#[async_trait::async_trait]
impl<F: Frames> FlagSwitch for ServiceSwitch<F> {
    fn enabled(&self, key: &str) -> Option<bool> {
        self.service.current().snapshot.flags.get(key).map(|f| f.flag().enabled)
    }

    async fn turn_off(&self, key: &str, actor: &str, reason: &str) -> Result<bool, String> {
        let written = self
            .service
            .edit(self.store.as_ref(), key, Edit::Enable(false), "off", actor, Some(reason.to_owned()))
            .await
            .map_err(|e| format!("cannot turn flag `{key}` off: {e}"))?;
        Ok(written.changed)
    }
}

#[cfg(test)]
mod tests {
    use backstop_store::FlagStore;

    use super::*;

    /// Subscribers that are sent the change itself.
    struct Plain;

    impl Frames for Plain {
        type Change = FlagChange;
        type Cache = ();

        fn change(change: &FlagChange, _: &Current<Self>) -> FlagChange {
            change.clone()
        }
    }

    fn kill_flag() -> Flag {
        serde_json::from_value(serde_json::json!({
            "key": "kill", "enabled": true, "variants": {"on": true, "off": false},
            "default_variant": "on", "off_variant": "off", "version": 0
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn a_change_another_control_plane_wrote_is_fanned_out_from_the_change_feed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backstop.db");
        let (a, b) =
            (backstop_store::SqliteStore::open(&path).unwrap(), backstop_store::SqliteStore::open(&path).unwrap());
        let (fa, fb) = (FlagService::<Plain>::load(&a).await.unwrap(), FlagService::<Plain>::load(&b).await.unwrap());
        let mut rx = fb.subscribe();
        fa.edit(&a, "kill", Edit::Create(kill_flag()), "create", "tester", None).await.unwrap();
        fa.edit(&a, "kill", Edit::Enable(false), "off", "tester", Some("incident".into())).await.unwrap();
        assert_eq!(fb.current().snapshot.version, 0, "b has not read the feed yet");
        fb.catch_up(&b).await.unwrap();
        assert_eq!(fb.current().snapshot.version, 2);
        assert!(!fb.current().snapshot.flags["kill"].flag().enabled);
        let mut versions = Vec::new();
        while versions.len() < 2 {
            if let Broadcast::Change(p) = rx.recv().await.unwrap() {
                assert_eq!(p.frames.version, p.version);
                versions.push(p.version);
            }
        }
        assert_eq!(versions, [1, 2], "in version order, each once");
        fb.catch_up(&b).await.unwrap();
        assert!(rx.try_recv().is_err(), "nothing is published twice");
    }

    #[tokio::test]
    async fn an_invalid_flag_is_refused_and_nothing_is_written() {
        let store = backstop_store::SqliteStore::in_memory().unwrap();
        let flags = FlagService::<Plain>::load(&store).await.unwrap();
        let mut flag = kill_flag();
        flag.default_variant = "missing".into();
        let err = flags.edit(&store, "kill", Edit::Create(flag), "create", "tester", None).await.unwrap_err();
        assert!(matches!(err, EditError::Invalid(FlagError::UnknownDefaultVariant { .. })), "{err:?}");
        assert_eq!(flags.current().snapshot.version, 0);
        assert!(store.flags().await.unwrap().flags.is_empty());
    }

    #[tokio::test]
    async fn enabling_a_flag_already_enabled_records_nothing() {
        let store = backstop_store::SqliteStore::in_memory().unwrap();
        let flags = FlagService::<Plain>::load(&store).await.unwrap();
        flags.edit(&store, "kill", Edit::Create(kill_flag()), "create", "tester", None).await.unwrap();
        let written = flags.edit(&store, "kill", Edit::Enable(true), "on", "tester", None).await.unwrap();
        assert_eq!((written.changed, written.config_version), (false, 1));
        assert_eq!(store.flag_history("kill").await.unwrap().len(), 1);
    }

    /// A stored flag this version cannot compile, written past the service (as an older or
    /// newer control plane on the same store might have).
    async fn store_uncompilable(store: &backstop_store::SqliteStore, key: &str, mode: FlagWriteMode) {
        let mut flag = kill_flag();
        flag.key = key.to_owned();
        flag.default_variant = "missing".into();
        let write = FlagWrite {
            flag,
            mode,
            action: "create".into(),
            actor: "elsewhere".into(),
            reason: None,
            expected_version: None,
        };
        store.write_flag(write).await.unwrap();
    }

    #[tokio::test]
    async fn a_flag_that_does_not_compile_is_left_out_and_reported_until_replaced_or_deleted() {
        let store = backstop_store::SqliteStore::in_memory().unwrap();
        store_uncompilable(&store, "broken", FlagWriteMode::Create).await;
        let flags = FlagService::<Plain>::load(&store).await.unwrap();
        flags.edit(&store, "kill", Edit::Create(kill_flag()), "create", "tester", None).await.unwrap();
        let current = flags.current();
        assert_eq!(current.snapshot.flags.keys().collect::<Vec<_>>(), ["kill"]);
        assert_eq!(current.unreadable.keys().collect::<Vec<_>>(), ["broken"], "still reported after a change");
        assert!(current.unreadable["broken"].contains("missing"), "{:?}", current.unreadable);

        let mut fixed = kill_flag();
        fixed.key = "broken".into();
        let set = Edit::Set { flag: fixed, expected_version: None };
        flags.edit(&store, "broken", set, "set", "tester", None).await.unwrap();
        assert!(flags.current().unreadable.is_empty());
        assert!(flags.current().snapshot.flags.contains_key("broken"));

        // One arriving through the change feed is reported the same way, and a delete ends it.
        store_uncompilable(&store, "broken", FlagWriteMode::Replace).await;
        flags.catch_up(&store).await.unwrap();
        assert!(!flags.current().snapshot.flags.contains_key("broken"));
        assert!(flags.current().unreadable.contains_key("broken"));
        flags.edit(&store, "broken", Edit::Delete, "delete", "tester", Some("gone".into())).await.unwrap();
        assert!(flags.current().unreadable.is_empty());
        assert_eq!(flags.current().snapshot.flags.keys().collect::<Vec<_>>(), ["kill"]);
    }
}
