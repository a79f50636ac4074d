//! PostgreSQL array literals (`{…}`) for the bulk paths: sqlx's `Any` driver binds no arrays,
//! so a column of many rows goes as one text parameter, cast by the query (`$1::text::bytea[]`)
//! and `unnest`ed by the server.

use std::fmt::Write;

/// `{"a","b",…}`: every element quoted, `"` and `\` escaped.
pub(crate) fn text<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from("{");
    for (i, s) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in s.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push('}');
    out
}

/// `{"\\x0a0b",…}`: each element in bytea's hex input form (`\x…`), its backslash escaped
/// for the array.
pub(crate) fn bytea<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Bytes, not `write!` per byte (a formatter call per byte was ~12 % of a PostgreSQL
    // import's own CPU).
    let mut out = Vec::from(&b"{"[..]);
    for (i, b) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"\"\\\\x");
        out.reserve(2 * b.len() + 1);
        for &byte in b {
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 15)]);
        }
        out.push(b'"');
    }
    out.push(b'}');
    String::from_utf8(out).expect("ASCII")
}

/// `{1,2,…}`.
pub(crate) fn bigint(items: impl IntoIterator<Item = i64>) -> String {
    let mut out = String::from("{");
    for (i, v) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{v}");
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(text(["a", "b\"c", "d\\e"]), r#"{"a","b\"c","d\\e"}"#);
        assert_eq!(text([]), "{}");
        assert_eq!(bytea([&[0x0a, 0xff][..], &[][..]]), r#"{"\\x0aff","\\x"}"#);
        assert_eq!(bigint([1, -2, 30]), "{1,-2,30}");
    }
}
