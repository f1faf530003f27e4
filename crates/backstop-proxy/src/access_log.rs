//! An app's access log: one line per request, written by a thread of its own.
//!
//! The request path never waits for the log: a request hands its entry to a
//! bounded queue, and when the queue is full (the disk is slower than the
//! traffic) the entry is dropped and counted instead. The writer notes each
//! run of dropped lines in the log itself (`# N lines dropped ...`), and
//! [`AccessLog::dropped`] counts them all.
//!
//! Line format, one per request, when its response head was sent (or the proxy
//! answered itself):
//!
//! ```text
//! 127.0.0.1 [2026-12-04T04:31:00.123Z] "GET /cart?id=7 HTTP/1.1" 200 0.412ms
//! ```
//!
//! The client address, the time the request arrived (UTC), the request line,
//! the status sent, and the time to the response head.

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, SystemTime};

use http::{HeaderValue, Method, Uri, Version};

/// Entries waiting for the writer before new ones are dropped.
pub const ACCESS_LOG_QUEUE: usize = 8192;

/// An open access log file and its writer thread; the thread ends when the log is dropped.
pub struct AccessLog {
    queue: SyncSender<Entry>,
    dropped: Arc<AtomicU64>,
}

/// One request, as the request path hands it over; formatted on the writer thread.
pub(crate) struct Entry {
    pub(crate) at: SystemTime,
    pub(crate) client: Option<HeaderValue>,
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) version: Version,
    pub(crate) status: u16,
    pub(crate) latency: Duration,
}

impl AccessLog {
    /// Opens (creating, appending to) `path` and starts its writer thread.
    pub fn open(path: &Path) -> io::Result<AccessLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        AccessLog::start(file, ACCESS_LOG_QUEUE, path.display().to_string())
    }

    /// A log written to `out` by a thread of its own, with room for `capacity` waiting entries.
    fn start(out: impl Write + Send + 'static, capacity: usize, name: String) -> io::Result<AccessLog> {
        let (queue, entries) = sync_channel(capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let counted = dropped.clone();
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_entries(entries, BufWriter::new(out), &counted, &name))?;
        Ok(AccessLog { queue, dropped })
    }

    /// Lines dropped so far because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Queues an entry, or counts it dropped; never waits.
    pub(crate) fn record(&self, entry: Entry) {
        match self.queue.try_send(entry) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog").field("dropped", &self.dropped()).finish_non_exhaustive()
    }
}

/// The writer thread: writes what is queued, flushing whenever the queue runs empty.
fn write_entries(entries: Receiver<Entry>, mut out: BufWriter<impl Write>, dropped: &AtomicU64, name: &str) {
    let mut noted = 0;
    let mut failing = false;
    while let Ok(first) = entries.recv() {
        let mut written = line(&mut out, &first);
        while let Ok(entry) = entries.try_recv() {
            written = written.and_then(|()| line(&mut out, &entry));
        }
        let now = dropped.load(Ordering::Relaxed);
        if now > noted {
            written = written.and_then(|()| {
                writeln!(out, "# {} lines dropped: the access log could not keep up with the requests", now - noted)
            });
            noted = now;
        }
        match written.and_then(|()| out.flush()) {
            Ok(()) => failing = false,
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(path = name, error = %e, "cannot write the access log");
            }
            Err(_) => {}
        }
    }
}

fn line(out: &mut impl Write, entry: &Entry) -> io::Result<()> {
    let client = entry.client.as_ref().and_then(|ip| ip.to_str().ok()).unwrap_or("-");
    let target = entry.uri.path_and_query().map_or("/", |p| p.as_str());
    writeln!(
        out,
        "{client} [{}] \"{} {target} {:?}\" {} {:.3}ms",
        humantime::format_rfc3339_millis(entry.at),
        entry.method,
        entry.version,
        entry.status,
        entry.latency.as_secs_f64() * 1000.0,
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::mpsc::{Sender, channel};

    use super::*;

    fn entry(status: u16) -> Entry {
        Entry {
            at: SystemTime::UNIX_EPOCH,
            client: None,
            method: Method::GET,
            uri: Uri::from_static("/"),
            version: Version::HTTP_11,
            status,
            latency: Duration::ZERO,
        }
    }

    /// A file that takes writes only as the test allows, and says when a write is waiting.
    struct Gated {
        waiting: Sender<()>,
        allowed: Receiver<()>,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Gated {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let _ = self.waiting.send(());
            let _ = self.allowed.recv();
            self.written.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A stuck disk does not hold requests up: what does not fit in the queue is dropped,
    /// counted, and noted in the log once it moves again.
    #[test]
    fn a_full_queue_drops_and_counts_lines_instead_of_waiting() {
        let (waiting_tx, waiting) = channel();
        let (allow, allowed) = channel();
        let written = Arc::new(Mutex::new(Vec::new()));
        let out = Gated { waiting: waiting_tx, allowed, written: written.clone() };
        let log = AccessLog::start(out, 4, "test".into()).unwrap();
        log.record(entry(200));
        // The writer holds the first line and is stuck writing it.
        waiting.recv_timeout(Duration::from_secs(30)).unwrap();
        for _ in 0..4 + 3 {
            log.record(entry(201));
        }
        assert_eq!(log.dropped(), 3);
        drop(waiting);
        for _ in 0..16 {
            let _ = allow.send(());
        }
        drop(log);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
            if text.contains("lines dropped") {
                assert_eq!(text.lines().filter(|l| l.contains("\" 201 ")).count(), 4, "{text}");
                assert!(text.contains("# 3 lines dropped"), "{text}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the log was not written: {text}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_line_says_who_what_when_and_how_it_went() {
        let entry = Entry {
            at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_358_660_123),
            client: Some(HeaderValue::from_static("127.0.0.1")),
            method: Method::GET,
            uri: Uri::from_static("/cart?id=7"),
            version: Version::HTTP_11,
            status: 200,
            latency: Duration::from_micros(412),
        };
        let mut out = Vec::new();
        line(&mut out, &entry).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "127.0.0.1 [2026-12-04T04:31:00.123Z] \"GET /cart?id=7 HTTP/1.1\" 200 0.412ms\n"
        );
    }
}
