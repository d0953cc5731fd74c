//! The wheel `RECORD` file: its hashes and its CSV, byte for byte as pip reads and writes them.

use sha2::{Digest, Sha256};

/// The RECORD hash of `data`: `sha256=` and the URL-safe base64 digest without padding.
pub fn record_hash(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    format!("sha256={}", b64url_nopad(&digest))
}

/// URL-safe base64 without `=` padding (`base64.urlsafe_b64encode(..).rstrip(b"=")`).
fn b64url_nopad(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]));
        }
    }
    out
}

/// Parse CSV text the way Python's `csv.reader(text.splitlines())` does for RECORD files:
/// comma separated, `"` quoting with `""` as an escaped quote.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut in_quotes = false;
        let mut chars = line.chars().peekable();
        let mut quoted_field = false;
        while let Some(c) = chars.next() {
            if in_quotes {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        field.push('"');
                        chars.next();
                    } else {
                        in_quotes = false;
                    }
                } else {
                    field.push(c);
                }
            } else if c == '"' && field.is_empty() && !quoted_field {
                in_quotes = true;
                quoted_field = true;
            } else if c == ',' {
                fields.push(std::mem::take(&mut field));
                quoted_field = false;
            } else {
                field.push(c);
            }
        }
        fields.push(field);
        rows.push(fields);
    }
    rows
}

/// One CSV field as Python's `csv.writer` (QUOTE_MINIMAL, excel dialect) writes it.
pub fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_like_pip() {
        assert_eq!(record_hash(b"pip\n"), "sha256=zuuue4knoyJ-UwPPXg8fezS7VCrXJQrAP7zeNuwvFQg");
        assert_eq!(record_hash(b""), "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
        assert_eq!(b64url_nopad(b"f"), "Zg");
        assert_eq!(b64url_nopad(b"fo"), "Zm8");
        assert_eq!(b64url_nopad(b"foo"), "Zm9v");
    }

    #[test]
    fn csv_round_trip() {
        let rows = parse_csv("a,b,1\r\n\"x,y\",\"q\"\"z\",\n");
        assert_eq!(rows, vec![vec!["a", "b", "1"], vec!["x,y", "q\"z", ""]]);
        assert_eq!(csv_field("x,y"), "\"x,y\"");
        assert_eq!(csv_field("q\"z"), "\"q\"\"z\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
