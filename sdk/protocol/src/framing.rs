//! Line framing: one JSON-RPC message per line (NDJSON, UTF-8).
//!
//! A message is a single JSON object followed by `\n` (a preceding `\r` is tolerated). Messages
//! never contain a raw newline, since JSON escapes newlines inside strings. Empty lines are
//! ignored by readers. A line longer than [`MAX_LINE`] is an error: it protects the reader from
//! a peer that writes without ever ending a line.

use std::io::{self, BufRead, Write};

use serde::Deserialize;
use serde_json::Value;

use crate::error::ErrorObject;
use crate::message::{Id, JSONRPC, Message, Notification, Request, Response};

/// The longest line a reader accepts, in bytes (16 MiB).
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// Why a line is not a protocol message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not UTF-8.
    #[error("the line is not valid UTF-8")]
    NotUtf8,
    /// The text is not a JSON object.
    #[error("the line is not a JSON object: {0}")]
    NotJson(String),
    /// A JSON object that is not a JSON-RPC 2.0 message. `id` is the request id when one could
    /// be read, so that the receiver can answer with an error.
    #[error("not a JSON-RPC 2.0 message: {reason}")]
    Invalid {
        /// What is wrong with it.
        reason: String,
        /// The id, if the object carried a usable one.
        id: Option<Id>,
    },
}

impl DecodeError {
    /// The request id the offending message carried, if any.
    pub fn id(&self) -> Option<&Id> {
        match self {
            DecodeError::Invalid { id, .. } => id.as_ref(),
            _ => None,
        }
    }
}

/// Turn a message into its line, including the final `\n`.
pub fn encode(message: &Message) -> Vec<u8> {
    let mut line = serde_json::to_vec(message).expect("messages always serialize");
    line.push(b'\n');
    line
}

/// Write one message as a line and flush it.
pub fn write_message(writer: &mut impl Write, message: &Message) -> io::Result<()> {
    writer.write_all(&encode(message))?;
    writer.flush()
}

/// Decode one line (with or without its line ending) into a message.
pub fn decode(line: &[u8]) -> Result<Message, DecodeError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = std::str::from_utf8(line).map_err(|_| DecodeError::NotUtf8)?;
    let value: Value = serde_json::from_str(text).map_err(|e| DecodeError::NotJson(e.to_string()))?;
    from_json(value)
}

/// Classify a parsed JSON value as a message.
pub fn from_json(value: Value) -> Result<Message, DecodeError> {
    let Value::Object(mut obj) = value else {
        return Err(DecodeError::NotJson(format!("expected an object, found {}", kind_of(&value))));
    };
    // Read the id first, so that every later complaint can carry it.
    let id_value = obj.remove("id");
    let id = match &id_value {
        Some(Value::Number(n)) => n.as_i64().map(Id::Number),
        Some(Value::String(s)) => Some(Id::String(s.clone())),
        _ => None,
    };
    let invalid = |reason: String| DecodeError::Invalid { reason, id: id.clone() };

    match obj.remove("jsonrpc") {
        Some(Value::String(v)) if v == JSONRPC => {}
        Some(mut other) => {
            crate::sort_keys(&mut other);
            return Err(invalid(format!("`jsonrpc` must be \"2.0\", found {other}")));
        }
        None => return Err(invalid("the `jsonrpc` member is missing".into())),
    }

    let method = match obj.remove("method") {
        None => None,
        Some(Value::String(m)) => Some(m),
        Some(other) => return Err(invalid(format!("`method` must be a string, found {}", kind_of(&other)))),
    };
    let params = match obj.remove("params") {
        None | Some(Value::Null) => Value::Null,
        Some(p @ (Value::Object(_) | Value::Array(_))) => p,
        Some(other) => {
            return Err(invalid(format!("`params` must be an object or an array, found {}", kind_of(&other))));
        }
    };
    let result = obj.remove("result");
    let error = obj.remove("error");

    if let Some(method) = method {
        if result.is_some() || error.is_some() {
            return Err(invalid("a message cannot have both `method` and `result`/`error`".into()));
        }
        return match id_value {
            None => Ok(Message::Notification(Notification { method, params })),
            Some(_) => match id {
                Some(id) => Ok(Message::Request(Request { id, method, params })),
                None => Err(invalid("a request `id` must be an integer or a string".into())),
            },
        };
    }

    let id = match id_value {
        None => {
            return Err(invalid("a message needs `method` (a request or notification) or `id` (a response)".into()));
        }
        Some(Value::Null) => None,
        Some(_) if id.is_some() => id.clone(),
        Some(_) => return Err(invalid("a response `id` must be an integer, a string or null".into())),
    };
    let outcome = match (result, error) {
        (Some(r), None) => Ok(r),
        (None, Some(e)) => Err(ErrorObject::deserialize(e)
            .map_err(|e| DecodeError::Invalid { reason: format!("malformed `error`: {e}"), id: id.clone() })?),
        (Some(_), Some(_)) => return Err(invalid("a response cannot have both `result` and `error`".into())),
        (None, None) => return Err(invalid("a response needs `result` or `error`".into())),
    };
    Ok(Message::Response(Response { id, outcome }))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads lines of at most [`MAX_LINE`] bytes, skipping empty ones.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    max: usize,
}

impl<R: BufRead> LineReader<R> {
    /// A reader with the default limit.
    pub fn new(inner: R) -> Self {
        Self::with_limit(inner, MAX_LINE)
    }

    /// A reader with a chosen limit.
    pub fn with_limit(inner: R, max: usize) -> Self {
        LineReader { inner, buf: Vec::new(), max }
    }

    /// The next non-empty line without its ending, or `None` at end of input. A final line
    /// without `\n` is returned as a line. A line over the limit is an `InvalidData` error.
    pub fn next_line(&mut self) -> io::Result<Option<&[u8]>> {
        loop {
            self.buf.clear();
            let mut limited = io::Read::take(&mut self.inner, self.max as u64 + 1);
            let n = limited.read_until(b'\n', &mut self.buf)?;
            if n == 0 {
                return Ok(None);
            }
            if self.buf.last() != Some(&b'\n') && self.buf.len() > self.max {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a line is longer than {} bytes", self.max),
                ));
            }
            let mut end = self.buf.len();
            while end > 0 && matches!(self.buf[end - 1], b'\n' | b'\r') {
                end -= 1;
            }
            if end > 0 {
                return Ok(Some(&self.buf[..end]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dec(s: &str) -> Result<Message, DecodeError> {
        decode(s.as_bytes())
    }

    #[test]
    fn classifies_the_three_kinds() {
        assert!(matches!(dec(r#"{"jsonrpc":"2.0","id":1,"method":"a"}"#), Ok(Message::Request(_))));
        assert!(matches!(dec(r#"{"jsonrpc":"2.0","method":"a"}"#), Ok(Message::Notification(_))));
        assert!(matches!(dec(r#"{"jsonrpc":"2.0","id":"x","result":null}"#), Ok(Message::Response(_))));
        assert!(matches!(
            dec(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad"}}"#),
            Ok(Message::Response(Response { id: None, outcome: Err(_) }))
        ));
    }

    #[test]
    fn null_result_is_a_result() {
        let Ok(Message::Response(r)) = dec(r#"{"jsonrpc":"2.0","id":3,"result":null}"#) else { panic!() };
        assert_eq!(r.outcome, Ok(Value::Null));
        assert_eq!(r.id, Some(Id::Number(3)));
    }

    #[test]
    fn unknown_members_are_ignored() {
        let m = dec(r#"{"jsonrpc":"2.0","id":1,"method":"a","params":{},"extra":[1,2]}"#).unwrap();
        assert_eq!(m, Message::Request(Request { id: Id::Number(1), method: "a".into(), params: json!({}) }));
    }

    #[test]
    fn rejections_say_why_and_keep_the_id() {
        let cases = [
            ("", "not a JSON object"),
            ("hello", "not a JSON object"),
            ("[1]", "expected an object"),
            (r#"{"id":1,"method":"a"}"#, "`jsonrpc` member is missing"),
            (r#"{"jsonrpc":"1.0","id":1,"method":"a"}"#, "must be \"2.0\""),
            (r#"{"jsonrpc":"2.0","id":1,"method":7}"#, "`method` must be a string"),
            (r#"{"jsonrpc":"2.0","id":1,"method":"a","params":3}"#, "`params` must be"),
            (r#"{"jsonrpc":"2.0","id":1,"method":"a","result":3}"#, "both `method`"),
            (r#"{"jsonrpc":"2.0","id":1.5,"method":"a"}"#, "integer or a string"),
            (r#"{"jsonrpc":"2.0","id":[],"result":1}"#, "integer, a string or null"),
            (r#"{"jsonrpc":"2.0"}"#, "needs `method`"),
            (r#"{"jsonrpc":"2.0","id":1}"#, "needs `result` or `error`"),
            (r#"{"jsonrpc":"2.0","id":1,"result":1,"error":{}}"#, "both `result` and `error`"),
            (r#"{"jsonrpc":"2.0","id":1,"error":"boom"}"#, "malformed `error`"),
        ];
        for (line, want) in cases {
            let err = dec(line).expect_err(line).to_string();
            assert!(err.contains(want), "{line}: {err} does not contain {want}");
        }
        assert_eq!(dec(r#"{"jsonrpc":"1","id":9,"method":"a"}"#).unwrap_err().id(), Some(&Id::Number(9)));
        assert_eq!(decode(b"\xff\xfe"), Err(DecodeError::NotUtf8));
    }

    #[test]
    fn line_endings_are_stripped() {
        let m = decode(b"{\"jsonrpc\":\"2.0\",\"method\":\"a\"}\r\n").unwrap();
        assert_eq!(encode(&m), b"{\"jsonrpc\":\"2.0\",\"method\":\"a\"}\n");
    }

    #[test]
    fn reader_skips_empty_lines_and_limits_length() {
        let input = b"\n\r\nabc\r\n\nlast".to_vec();
        let mut r = LineReader::new(&input[..]);
        assert_eq!(r.next_line().unwrap(), Some(&b"abc"[..]));
        assert_eq!(r.next_line().unwrap(), Some(&b"last"[..]));
        assert_eq!(r.next_line().unwrap(), None);

        let long = [b'x'; 100];
        let mut r = LineReader::with_limit(&long[..], 10);
        assert_eq!(r.next_line().unwrap_err().kind(), io::ErrorKind::InvalidData);
        let mut exact = vec![b'x'; 10];
        exact.push(b'\n');
        let mut r = LineReader::with_limit(&exact[..], 10);
        assert_eq!(r.next_line().unwrap().map(<[u8]>::len), Some(10));
    }
}
