//! The protocol decoder on arbitrary bytes: it must never panic, and whatever it accepts must
//! survive encode -> decode unchanged. The line reader must split arbitrary input without
//! panicking or returning a line over its limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyve_protocol::framing::{self, LineReader};

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = framing::decode(data) {
        let line = framing::encode(&message);
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1, "one message, one line");
        let again = framing::decode(&line).expect("an encoded message decodes");
        assert_eq!(again, message, "round trip");
    }
    let mut reader = LineReader::with_limit(data, 64);
    while let Ok(Some(line)) = reader.next_line() {
        assert!(line.len() <= 64);
        assert!(!line.is_empty());
        let _ = framing::decode(line);
    }
});
