//! The flag stream's Server-Sent Events. `eventsource-stream` decodes them by the WHATWG rules
//! (fields, comments, `\n`/`\r\n`/`\r` line ends, several `data:` lines, the default `message`
//! type); this module adds the bound the decoder lacks: at most [`MAX_PENDING`] bytes may arrive
//! without completing an event, so a server that never ends one cannot fill the app's memory.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures_util::{Stream, StreamExt};

/// The most bytes read while no event completes: far above any snapshot the server's own
/// bounds on flags allow.
pub(crate) const MAX_PENDING: usize = 256 << 20;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub event: String,
    pub data: String,
}

#[derive(Debug)]
enum Fault {
    Read(String),
    TooLarge(usize),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Read(e) => write!(f, "{e}"),
            Fault::TooLarge(max) => write!(f, "more than {max} bytes without completing an event"),
        }
    }
}

/// The events of a byte stream, in order; an `Err` ends the stream's use.
pub(crate) fn events<S, E>(bytes: S, max_pending: usize) -> impl Stream<Item = Result<Event, String>> + Unpin
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: fmt::Display,
{
    let pending = Arc::new(AtomicUsize::new(0));
    let counted = {
        let pending = pending.clone();
        bytes.map(move |chunk| {
            let chunk = chunk.map_err(|e| Fault::Read(e.to_string()))?;
            let now = pending.fetch_add(chunk.len(), Ordering::Relaxed) + chunk.len();
            if now > max_pending {
                return Err(Fault::TooLarge(max_pending));
            }
            Ok(chunk)
        })
    };
    let decoded = counted.eventsource().map(move |item| match item {
        Ok(e) => {
            pending.store(0, Ordering::Relaxed);
            Ok(Event { event: e.event, data: e.data })
        }
        Err(e) => Err(e.to_string()),
    });
    // The decoder keeps going after a transport error; the first one ends this stream.
    decoded.scan(false, |failed, item| {
        let out = if *failed { None } else { Some(item) };
        *failed = matches!(out, Some(Err(_)));
        std::future::ready(out)
    })
}

#[cfg(test)]
mod tests {
    use futures_util::stream;

    use super::*;

    fn ev(event: &str, data: &str) -> Event {
        Event { event: event.into(), data: data.into() }
    }

    fn decode(chunks: Vec<&[u8]>, max: usize) -> Vec<Result<Event, String>> {
        let s = stream::iter(chunks.into_iter().map(|c| Ok::<_, String>(Bytes::copy_from_slice(c))));
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(events(s, max).collect())
    }

    #[test]
    fn decodes_across_chunk_boundaries() {
        let text = "event: snapshot\nid: 1\ndata: {\"a\":1}\n\n:keep-alive\n\nevent:change\r\ndata: x\r\ndata: y\r\n\r\ndata: plain\n\n";
        let expected = vec![Ok(ev("snapshot", "{\"a\":1}")), Ok(ev("change", "x\ny")), Ok(ev("message", "plain"))];
        for split in 0..text.len() {
            let (a, b) = text.as_bytes().split_at(split);
            assert_eq!(decode(vec![a, b], MAX_PENDING), expected, "split at {split}");
        }
    }

    #[test]
    fn incomplete_event_is_held_back() {
        assert_eq!(decode(vec![b"event: change\ndata: 1\n"], MAX_PENDING), vec![]);
        assert_eq!(decode(vec![b"event: change\ndata: 1\n", b"\n"], MAX_PENDING), vec![Ok(ev("change", "1"))]);
    }

    /// A server that sends bytes forever without ending an event made the hand-written decoder
    /// buffer all of them.
    #[test]
    fn an_event_that_never_ends_is_cut_at_the_bound() {
        let line = [b'x'; 1000];
        let mut chunks: Vec<&[u8]> = vec![b"data: "];
        chunks.extend(std::iter::repeat_n(&line[..], 20));
        let got = decode(chunks, 10_000);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].as_ref().unwrap_err().contains("more than 10000 bytes"), "{got:?}");
        // Completed events reset the count.
        let event = b"data: 0123456789\n\n";
        let got = decode(std::iter::repeat_n(&event[..], 100).collect(), 100);
        assert_eq!(got.len(), 100);
        assert!(got.iter().all(Result::is_ok));
    }
}
