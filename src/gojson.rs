//! Compact JSON written byte-for-byte as Go's `encoding/json` `Marshal` writes it.
//!
//! Docker and containerd generate `index.json` and `manifest.json` with `json.Marshal`, and peers
//! compare digests of what we generate against what they generate, so "valid JSON" is not enough:
//! field order, escaping (`<` as `\u003c`, U+2028 as `\u2028`) and the absence of whitespace must
//! all match. serde_json escapes differently, hence this small writer. Only generated documents go
//! through it; stored documents are always kept as the bytes that arrived.

/// Appends `s` as a JSON string literal, escaped as Go's `encodeState.string` with HTML escaping on.
fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            // Control characters and the HTML-significant bytes become \u00XX, lowercase hex.
            c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => {
                let b = c as u8;
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
            // JavaScript line terminators, escaped by Go so the output is safe in <script>.
            '\u{2028}' => out.extend_from_slice(b"\\u2028"),
            '\u{2029}' => out.extend_from_slice(b"\\u2029"),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Writes a JSON object one field at a time, in the order the fields are given (Go's struct
/// declaration order); maps must be passed in sorted key order, as Go sorts map keys.
pub struct ObjectWriter<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> ObjectWriter<'a> {
    pub fn begin(out: &'a mut Vec<u8>) -> ObjectWriter<'a> {
        out.push(b'{');
        ObjectWriter { out, first: true }
    }

    /// Starts a field and returns the buffer to write its value into.
    pub fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        write_string(self.out, key);
        self.out.push(b':');
        self.out
    }

    pub fn string(&mut self, key: &str, value: &str) {
        let out = self.key(key);
        write_string(out, value);
    }

    pub fn number(&mut self, key: &str, value: u64) {
        let out = self.key(key);
        out.extend_from_slice(value.to_string().as_bytes());
    }

    /// A `[]string` field; `None` is written as `null`, as Go writes a nil slice.
    pub fn string_array(&mut self, key: &str, values: Option<&[String]>) {
        let out = self.key(key);
        write_string_array(out, values);
    }

    pub fn end(self) {
        self.out.push(b'}');
    }
}

/// Writes `["a","b"]`, or `null` for `None`.
fn write_string_array(out: &mut Vec<u8>, values: Option<&[String]>) {
    let Some(values) = values else {
        out.extend_from_slice(b"null");
        return;
    };
    out.push(b'[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, v);
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(s: &str) -> String {
        let mut out = Vec::new();
        write_string(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn write_string_escapes_like_go_json_marshal() {
        // Expected values are what Go 1.22+ json.Marshal prints for the same strings.
        assert_eq!(encoded("plain"), r#""plain""#);
        assert_eq!(encoded("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(encoded("<a&b>"), r#""\u003ca\u0026b\u003e""#);
        assert_eq!(encoded("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(encoded("\u{1}\u{1f}"), r#""\u0001\u001f""#);
        assert_eq!(encoded("\u{2028}\u{2029}"), r#""\u2028\u2029""#);
        assert_eq!(encoded("é✓"), "\"é✓\"");
        assert_eq!(encoded("/"), r#""/""#);
    }

    #[test]
    fn object_writer_keeps_field_order_and_writes_nil_slices_as_null() {
        let mut out = Vec::new();
        let mut o = ObjectWriter::begin(&mut out);
        o.string("b", "x");
        o.number("a", 7);
        o.string_array("RepoTags", None);
        o.string_array("Layers", Some(&["l1".to_string(), "l2".to_string()]));
        o.end();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"b":"x","a":7,"RepoTags":null,"Layers":["l1","l2"]}"#
        );
    }
}
