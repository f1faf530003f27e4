//! A minimal Server-Sent Events decoder: bytes in, `(event, data)` out.
//!
//! Enough of the WHATWG rules for the backstop stream: `event:` and `data:`
//! fields (several `data:` lines join with `\n`), comments (`:` keep-alives)
//! ignored, `\n` or `\r\n` line ends, an event ends at a blank line.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub event: String,
    pub data: String,
}

#[derive(Debug, Default)]
pub(crate) struct Decoder {
    buf: Vec<u8>,
    event: String,
    data: Option<String>,
}

impl Decoder {
    /// Feed bytes; returns the events completed by them, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches('\n').trim_end_matches('\r');
            if line.is_empty() {
                if let Some(data) = self.data.take() {
                    let event =
                        if self.event.is_empty() { "message".to_owned() } else { std::mem::take(&mut self.event) };
                    out.push(Event { event, data });
                }
                self.event.clear();
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => self.event = value.to_owned(),
                "data" => match &mut self.data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                    None => self.data = Some(value.to_owned()),
                },
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: &str, data: &str) -> Event {
        Event { event: event.into(), data: data.into() }
    }

    #[test]
    fn decodes_across_chunk_boundaries() {
        let text = "event: snapshot\nid: 1\ndata: {\"a\":1}\n\n:keep-alive\n\nevent:change\r\ndata: x\r\ndata: y\r\n\r\ndata: plain\n\n";
        let expected = vec![ev("snapshot", "{\"a\":1}"), ev("change", "x\ny"), ev("message", "plain")];
        for split in 0..text.len() {
            let mut d = Decoder::default();
            let mut got = d.push(&text.as_bytes()[..split]);
            got.extend(d.push(&text.as_bytes()[split..]));
            assert_eq!(got, expected, "split at {split}");
        }
    }

    #[test]
    fn incomplete_event_is_held_back() {
        let mut d = Decoder::default();
        assert!(d.push(b"event: change\ndata: 1\n").is_empty());
        assert_eq!(d.push(b"\n"), vec![ev("change", "1")]);
    }
}
