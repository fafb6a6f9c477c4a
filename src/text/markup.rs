//! HTML and XML strings: escaping, the characters XML 1.0 forbids, plain text of HTML, and the
//! comparable form of sanitized HTML that content hashes are taken of. Pure; no I/O.

/// Escapes text for HTML and XML content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Whether XML 1.0 allows `c` in a document (§2.2, `Char`): every character but the C0 controls
/// other than tab, line feed and carriage return, and U+FFFE and U+FFFF (a `str` holds no
/// surrogates).
pub fn is_xml_char(c: char) -> bool {
    !matches!(c, '\0'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// The bytes of `text` at which a character XML 1.0 forbids starts, if any: C0 controls are
/// single bytes in UTF-8, and U+FFFE/U+FFFF are `EF BF BE`/`EF BF BF`.
fn has_xml_forbidden(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(i, &b)| match b {
        b'\t' | b'\n' | b'\r' => false,
        0..0x20 => true,
        0xEF => bytes.get(i + 1) == Some(&0xBF) && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)),
        _ => false,
    })
}

/// `text` without the characters XML 1.0 forbids (see [`is_xml_char`]); borrowed when it has
/// none. One source's NUL in a title would otherwise make every merged document carrying it
/// unreadable to any XML parser.
pub fn xml_chars(text: &str) -> std::borrow::Cow<'_, str> {
    if has_xml_forbidden(text.as_bytes()) {
        std::borrow::Cow::Owned(text.chars().filter(|&c| is_xml_char(c)).collect())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// [`xml_chars`] for an owned string, reusing it when it is clean.
pub fn into_xml_chars(text: String) -> String {
    match xml_chars(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(clean) => clean,
    }
}

/// Removes from a UTF-8 document, in place, the characters XML 1.0 forbids (see
/// [`is_xml_char`]); the rest stays byte for byte.
pub fn strip_xml_forbidden(document: &mut Vec<u8>) {
    if !has_xml_forbidden(document) {
        return;
    }
    let mut write = 0;
    let mut read = 0;
    while read < document.len() {
        let b = document[read];
        let skip = match b {
            b'\t' | b'\n' | b'\r' => 0,
            0..0x20 => 1,
            0xEF if document.get(read + 1) == Some(&0xBF)
                && matches!(document.get(read + 2), Some(0xBE | 0xBF)) =>
            {
                3
            }
            _ => 0,
        };
        if skip > 0 {
            read += skip;
            continue;
        }
        document[write] = b;
        write += 1;
        read += 1;
    }
    document.truncate(write);
}

/// Plain text of an HTML fragment: tags dropped (with the contents of script and style), entities
/// decoded, runs of white space folded to one space.
pub fn html_to_text(html: &str) -> String {
    if !html.contains(['<', '&']) {
        return fold_whitespace(html);
    }
    let stripped = ammonia::Builder::empty()
        .clean_content_tags(["script", "style", "title"].into_iter().collect())
        .clean(html)
        .to_string();
    fold_whitespace(&unescape_serialized(&stripped))
}

/// The escapes html5ever's serializer writes in text and attribute values (it writes no others).
pub(super) const SERIALIZER_ESCAPES: [(&str, &str); 5] = [
    ("&lt;", "<"),
    ("&gt;", ">"),
    ("&nbsp;", "\u{a0}"),
    ("&quot;", "\""),
    ("&amp;", "&"),
];

/// Undoes the escapes html5ever's serializer writes in text (it writes no others), appending to
/// `out` in one pass.
fn push_unescaped(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp..];
        let (decoded, len) = SERIALIZER_ESCAPES
            .iter()
            .find(|(escape, _)| after.starts_with(escape))
            .map_or(("&", 1), |(escape, decoded)| (*decoded, escape.len()));
        out.push_str(decoded);
        rest = &after[len..];
    }
    out.push_str(rest);
}

fn unescape_serialized(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_unescaped(&mut out, text);
    out
}

pub fn fold_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_folded(&mut out, text);
    out
}

/// The text of sanitized HTML, cheaply: tags dropped, the serializer's escapes undone. (Only for
/// the sanitizer's own output, which is well formed; use [`html_to_text`] for anything else.)
pub fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        push_unescaped(&mut out, &rest[..open]);
        out.push(' ');
        match rest[open..].find('>') {
            Some(close) => rest = &rest[open + close + 1..],
            None => return out,
        }
    }
    push_unescaped(&mut out, rest);
    out
}

/// Sanitized HTML in a form where trivial differences vanish: runs of white space become one
/// space and each tag's attributes are sorted. (The sanitizer's serializer always writes
/// attributes as `name="value"` with `"` escaped, which this relies on.)
pub fn comparable_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        push_folded(&mut out, &rest[..open]);
        let Some(close) = rest[open..].find('>').map(|c| open + c) else {
            rest = &rest[open..];
            break;
        };
        let tag = &rest[open + 1..close];
        match tag.split_once(' ') {
            // Attributes in a canonical order; a tag with one attribute is already canonical.
            Some((name, attrs)) if !name.starts_with('/') && attrs.contains("\" ") => {
                let mut parts: Vec<&str> = attrs
                    .split("\" ")
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .collect();
                parts.sort_unstable();
                out.push('<');
                out.push_str(name);
                for a in parts {
                    out.push(' ');
                    out.push_str(a.trim_end_matches('"'));
                    out.push('"');
                }
                out.push('>');
            }
            _ => {
                out.push('<');
                out.push_str(tag);
                out.push('>');
            }
        }
        rest = &rest[close + 1..];
    }
    push_folded(&mut out, rest);
    out
}

/// Appends `text` with runs of white space folded to one space and none at either end.
fn push_folded(out: &mut String, text: &str) {
    // Text between tags mostly differs from its folded form only by a space at an end.
    let trimmed = text.trim_ascii();
    if is_folded(trimmed) {
        out.push_str(trimmed);
        return;
    }
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// Whether `text` is certainly already folded: no white space but single spaces between words.
/// Checked on bytes; any lead byte of a non-ASCII white-space character (U+0085, U+00A0, U+1680,
/// U+2000–U+205F, U+3000) sends the text the slow way.
fn is_folded(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.first() == Some(&b' ') || bytes.last() == Some(&b' ') {
        return false;
    }
    let next = |i: usize| bytes.get(i + 1).copied().unwrap_or(0);
    for (i, &b) in bytes.iter().enumerate() {
        // Printable ASCII but the space, and UTF-8 continuation bytes: never white space.
        if (0x21..0xC2).contains(&b) {
            continue;
        }
        let slow = match b {
            b'\t' | b'\n' | 0x0B | 0x0C | b'\r' => true,
            b' ' => next(i) == b' ',
            0xC2 => matches!(next(i), 0x85 | 0xA0),
            0xE1 => next(i) == 0x9A,
            0xE2 => matches!(next(i), 0x80 | 0x81),
            0xE3 => next(i) == 0x80,
            _ => false,
        };
        if slow {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_to_text_decodes_and_strips() {
        assert_eq!(
            html_to_text("<b>Tom &amp; Jerry</b> <script>alert(1)</script> &lt;3"),
            "Tom & Jerry <3"
        );
    }

    #[test]
    fn strip_tags_undoes_only_the_serializer_escapes() {
        assert_eq!(
            strip_tags("<p>Tom &amp; Jerry&nbsp;&lt;3 &quot;x&quot; &gt; &copy;</p>tail"),
            " Tom & Jerry\u{a0}<3 \"x\" > &copy; tail"
        );
        assert_eq!(strip_tags("a <b>bold</b> and <unclosed"), "a  bold  and  ");
        assert_eq!(strip_tags("&amp;lt;"), "&lt;");
    }

    #[test]
    fn escape_html_escapes_markup() {
        assert_eq!(escape_html("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
    }

    #[test]
    fn comparable_html_ignores_whitespace_and_attribute_order() {
        let a = comparable_html("<p>Hello   <a href=\"x\" rel=\"nofollow\">world</a>\n</p>");
        let b = comparable_html("<p>Hello <a rel=\"nofollow\" href=\"x\">world</a></p>");
        assert_eq!(a, b);
        assert_ne!(
            a,
            comparable_html("<p>Hello <a rel=\"nofollow\" href=\"y\">world</a></p>")
        );
        assert_ne!(
            a,
            comparable_html("<p>Hello <a rel=\"nofollow\" href=\"x\">word</a></p>")
        );
    }

    #[test]
    fn xml_forbidden_characters_are_removed_and_the_rest_kept() {
        let dirty = "a\0b\u{1}c\td\ne\rf\u{b}\u{1f}g\u{fffe}h\u{ffff}i\u{fffd}ệ\u{7f}";
        assert_eq!(
            xml_chars(dirty),
            "abc\td\ne\rfgh i\u{fffd}ệ\u{7f}".replace(' ', "")
        );
        assert!(matches!(
            xml_chars("Hà Nội\t\n"),
            std::borrow::Cow::Borrowed(_)
        ));
        let mut document = dirty.as_bytes().to_vec();
        strip_xml_forbidden(&mut document);
        assert_eq!(document, xml_chars(dirty).as_bytes());
        let mut clean = "<a>Hà Nội\u{fffd}</a>".as_bytes().to_vec();
        strip_xml_forbidden(&mut clean);
        assert_eq!(clean, "<a>Hà Nội\u{fffd}</a>".as_bytes());
    }
}
