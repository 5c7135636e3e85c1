//! Server-sent events: turns the bytes of a `text/event-stream` body into events.
//!
//! Body frames end anywhere, in the middle of a line or of a UTF-8 character, so the parser
//! keeps the unfinished line as bytes and only decodes complete lines.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The last `id:` seen so far; a reconnect sends it as `Last-Event-ID` to resume after it.
    pub id: Option<String>,
    /// The `event:` field, `message` when the server sent none.
    pub event: String,
    /// The `data:` lines, joined with newlines.
    pub data: String,
}

/// Incremental parser; feed it body frames with [`Parser::push`].
#[derive(Debug, Default)]
pub struct Parser {
    /// Bytes after the last newline: the start of a line whose end has not arrived yet.
    partial_line: Vec<u8>,
    event_type: Option<String>,
    data_lines: Vec<String>,
    /// As in the EventSource specification, the id carries over to later events that do not
    /// set one, so it always names the last position the client has seen.
    last_id: Option<String>,
}

impl Parser {
    /// Takes the next chunk of the body and returns the events it completes.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Event> {
        self.partial_line.extend_from_slice(chunk);
        let mut events = Vec::new();
        let mut line_start = 0;
        while let Some(offset) = self.partial_line[line_start..]
            .iter()
            .position(|&byte| byte == b'\n')
        {
            let line_end = line_start + offset;
            let mut line = &self.partial_line[line_start..line_end];
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            let line = String::from_utf8_lossy(line).into_owned();
            if let Some(event) = self.take_line(&line) {
                events.push(event);
            }
            line_start = line_end + 1;
        }
        self.partial_line.drain(..line_start);
        events
    }

    fn take_line(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            // A comment: servers send these as keep-alives.
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event_type = Some(value.to_string()),
            "data" => self.data_lines.push(value.to_string()),
            "id" if !value.contains('\0') => self.last_id = Some(value.to_string()),
            // `retry:` and unknown fields: the CLI reconnects on its own schedule.
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<Event> {
        let event_type = self.event_type.take();
        // The specification drops events without data; Keel's `event: closed` may carry
        // none, so an event with only a type is dispatched too.
        if self.data_lines.is_empty() && event_type.is_none() {
            return None;
        }
        Some(Event {
            id: self.last_id.clone(),
            event: event_type.unwrap_or_else(|| "message".to_string()),
            data: std::mem::take(&mut self.data_lines).join("\n"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: Option<&str>, event: &str, data: &str) -> Event {
        Event {
            id: id.map(str::to_string),
            event: event.to_string(),
            data: data.to_string(),
        }
    }

    #[test]
    fn events_split_across_chunks_come_out_whole() {
        let stream = "id: 1\nevent: history\ndata: {\"event_id\": 1}\n\n: keep-alive\n\nid: 2\nevent: log\ndata: {\"message\": \"h\u{e9}llo\"}\n\nevent: closed\n\n";
        let bytes = stream.as_bytes();
        // Every split point, including inside the two-byte `é`.
        for split in 0..=bytes.len() {
            let mut parser = Parser::default();
            let mut events = parser.push(&bytes[..split]);
            events.extend(parser.push(&bytes[split..]));
            assert_eq!(
                events,
                vec![
                    event(Some("1"), "history", "{\"event_id\": 1}"),
                    event(Some("2"), "log", "{\"message\": \"h\u{e9}llo\"}"),
                    event(Some("2"), "closed", ""),
                ],
                "split at byte {split}"
            );
        }
    }

    #[test]
    fn byte_by_byte_with_crlf_and_multiline_data() {
        let mut parser = Parser::default();
        let mut events = Vec::new();
        for byte in b"data: a\r\ndata:b\r\nretry: 10\r\n\r\ndata: c\n" {
            events.extend(parser.push(&[*byte]));
        }
        assert_eq!(events, vec![event(None, "message", "a\nb")]);
        // The last event is not finished until its blank line arrives.
        assert_eq!(parser.push(b"\n"), vec![event(None, "message", "c")]);
    }

    #[test]
    fn comments_and_blank_lines_alone_produce_nothing() {
        let mut parser = Parser::default();
        assert!(parser.push(b": ping\n\n\n: ping\n\n").is_empty());
    }
}
