//! Small pure helpers for text and HTML strings shared by normalize and publish.

use sha2::{Digest, Sha256};
use unicode_normalization::char::is_combining_mark;

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
const SERIALIZER_ESCAPES: [(&str, &str); 5] = [
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

/// Lowercase words without diacritics or punctuation, for matching: "An ninh mạng: Đà Nẵng!" →
/// `["an", "ninh", "mang", "da", "nang"]`.
pub fn fold_words(text: &str) -> Vec<String> {
    line_words(&folded_line(text)).map(str::to_string).collect()
}

/// The folding of one character, from the Unicode tables.
fn fold_char(out: &mut String, c: char) {
    fn push(out: &mut String, c: char) {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else {
            out.push(' ');
        }
    }
    match c {
        'đ' | 'Đ' => out.push('d'),
        // Canonical decomposition, keeping the base letters: "ạ" → "a", "ễ" → "e".
        c => unicode_normalization::char::decompose_canonical(c, |d| {
            if !is_combining_mark(d) {
                push(out, d);
            }
        }),
    }
}

/// [`fold_char`] precomputed for the Latin blocks Vietnamese, Indonesian and European text use
/// (U+0080–U+024F and Latin Extended Additional, U+1E00–U+1EFF): a table lookup instead of a
/// decomposition per character. Built once from `fold_char` itself, so both give the same result.
struct LatinFolds {
    low: Vec<Box<str>>,
    extended: Vec<Box<str>>,
}

impl LatinFolds {
    const LOW: std::ops::Range<u32> = 0x80..0x250;
    const EXTENDED: std::ops::Range<u32> = 0x1E00..0x1F00;

    fn get(&self, c: char) -> Option<&str> {
        let code = u32::from(c);
        let (table, start) = if Self::LOW.contains(&code) {
            (&self.low, Self::LOW.start)
        } else if Self::EXTENDED.contains(&code) {
            (&self.extended, Self::EXTENDED.start)
        } else {
            return None;
        };
        table.get((code - start) as usize).map(|f| &**f)
    }
}

fn latin_folds() -> &'static LatinFolds {
    static FOLDS: std::sync::OnceLock<LatinFolds> = std::sync::OnceLock::new();
    FOLDS.get_or_init(|| {
        let build = |range: std::ops::Range<u32>| {
            range
                .map(|code| {
                    let mut folded = String::new();
                    // Every code point in these blocks is a character; none is a surrogate.
                    if let Some(c) = char::from_u32(code) {
                        fold_char(&mut folded, c);
                    }
                    folded.into_boxed_str()
                })
                .collect()
        };
        LatinFolds {
            low: build(LatinFolds::LOW),
            extended: build(LatinFolds::EXTENDED),
        }
    })
}

/// Hex SHA-256 of the parts, each followed by a NUL so that ("ab","c") and ("a","bc") differ.
pub fn hash_parts(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    to_hex(&hasher.finalize())
}

/// Hex SHA-256 of raw bytes.
pub fn hash_bytes(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

fn to_hex(digest: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    hex
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The largest char boundary of `text` at or before `at`, for cutting a prefix safely.
pub fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut i = at.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// How much folded text of a story is indexed after its title. Longer stories are found by their
/// opening, which keeps the index (and the cost of every insert) bounded.
pub const INDEXED_TEXT_BYTES: usize = 4096;

/// An entry's text folded for matching (see [`folded_line`]), made once in normalize and shared by
/// topic rules and the search index. Each field is a line of words separated by single spaces,
/// with a space at each end, so that a phrase is found as `" word word "` and never inside a
/// longer word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FoldedFields {
    pub title: String,
    /// The plain text of the sanitized summary HTML.
    pub summary: String,
    /// The plain text of the sanitized content HTML.
    pub content: String,
}

impl FoldedFields {
    /// Folds a title (plain text) and the sanitizer's summary and content HTML.
    pub fn new(title: &str, summary_html: Option<&str>, content_html: Option<&str>) -> Self {
        FoldedFields {
            title: folded_line(title),
            summary: summary_html.map_or_else(|| " ".to_string(), folded_html_line),
            content: content_html.map_or_else(|| " ".to_string(), folded_html_line),
        }
    }

    /// What the index holds for one story: the words of its title and of the first
    /// [`INDEXED_TEXT_BYTES`] of its folded summary and content, each once.
    pub fn search_text(&self) -> String {
        // Each word once: queries ask only whether a story has every word, and news text repeats
        // its words (fewer tokens make every insert cheaper).
        let mut seen: std::collections::HashSet<&str, foldhash::fast::RandomState> =
            std::collections::HashSet::with_capacity_and_hasher(256, Default::default());
        let mut words = String::with_capacity(
            self.title.len() + (self.summary.len() + self.content.len()).min(INDEXED_TEXT_BYTES),
        );
        let summary = line_prefix(&self.summary, INDEXED_TEXT_BYTES);
        let content = line_prefix(&self.content, INDEXED_TEXT_BYTES - summary.len());
        for word in line_words(&self.title)
            .chain(line_words(summary))
            .chain(line_words(content))
        {
            if seen.insert(word) {
                if !words.is_empty() {
                    words.push(' ');
                }
                words.push_str(word);
            }
        }
        words
    }
}

/// The longest prefix of a folded line no longer than `limit` bytes that ends between words.
fn line_prefix(line: &str, limit: usize) -> &str {
    if line.len() <= limit {
        return line;
    }
    let cut = line.as_bytes()[..=limit]
        .iter()
        .rposition(|&b| b == b' ')
        .unwrap_or(0);
    &line[..cut]
}

/// `text` folded for matching as a line of words with a space at each end (see [`FoldedFields`]):
/// letters and digits lowercased without their diacritics, everything else a word break.
pub fn folded_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len() + 2);
    line.push(' ');
    push_folded_words(&mut line, text);
    push_space(&mut line);
    line
}

/// The same as `folded_line(&strip_tags(html))` in one pass, for the sanitizer's own output:
/// tags part words, and the serializer's escapes (all punctuation once decoded) fold to spaces.
pub fn folded_html_line(html: &str) -> String {
    // Text is most of a story's HTML: sized so that the line is not copied as it grows.
    let mut line = String::with_capacity(html.len() + 2);
    line.push(' ');
    let mut rest = html;
    loop {
        let open = rest.find('<');
        let mut text = &rest[..open.unwrap_or(rest.len())];
        while let Some(amp) = text.find('&') {
            push_folded_words(&mut line, &text[..amp]);
            push_space(&mut line);
            let after = &text[amp..];
            let escape = SERIALIZER_ESCAPES
                .iter()
                .find(|(escape, _)| after.starts_with(escape))
                .map_or(1, |(escape, _)| escape.len());
            text = &after[escape..];
        }
        push_folded_words(&mut line, text);
        let Some(open) = open else { break };
        push_space(&mut line);
        match rest[open..].find('>') {
            Some(close) => rest = &rest[open + close + 1..],
            None => break,
        }
    }
    push_space(&mut line);
    line
}

fn push_space(line: &mut String) {
    if !line.ends_with(' ') {
        line.push(' ');
    }
}

/// Appends `text` folded (see [`folded_line`]) with no run of spaces: each character folds to
/// letters and digits or to a space. ASCII is folded byte by byte, without decoding characters;
/// other Latin letters come from a table, the rest from the Unicode tables.
fn push_folded_words(line: &mut String, text: &str) {
    let latin = latin_folds();
    let push_piece = |line: &mut String, piece: &str| match piece.as_bytes() {
        // Most folds are one ASCII letter ("ạ" → "a") or a space.
        [b' '] => push_space(line),
        [byte] => line.push(char::from(*byte)),
        _ => {
            for c in piece.chars() {
                if c == ' ' {
                    push_space(line);
                } else {
                    line.push(c);
                }
            }
        }
    };
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_alphanumeric() {
            line.push(char::from(b.to_ascii_lowercase()));
            i += 1;
        } else if b.is_ascii() {
            push_space(line);
            i += 1;
        } else {
            // A lead byte: `i` is on a char boundary, and the text is valid UTF-8.
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            i += c.len_utf8();
            if let Some(folded) = latin.get(c) {
                push_piece(line, folded);
            } else {
                let mut folded = String::new();
                fold_char(&mut folded, c);
                push_piece(line, &folded);
            }
        }
    }
}

/// The words of a folded line (see [`FoldedFields`]). A byte loop: words are short, and a
/// `split(' ')` pays a search call per word.
pub fn line_words(line: &str) -> LineWords<'_> {
    LineWords { line, pos: 0 }
}

pub struct LineWords<'a> {
    line: &'a str,
    pos: usize,
}

impl<'a> Iterator for LineWords<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.line.as_bytes();
        while bytes.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
        if self.pos >= bytes.len() {
            return None;
        }
        let start = self.pos;
        while self.pos < bytes.len() && bytes[self.pos] != b' ' {
            self.pos += 1;
        }
        // Both ends are next to a space or at an end of the line: char boundaries.
        self.line.get(start..self.pos)
    }
}

/// What the index holds for one story (see [`FoldedFields::search_text`]).
pub fn search_text(title: &str, summary_html: Option<&str>, content_html: Option<&str>) -> String {
    FoldedFields::new(title, summary_html, content_html).search_text()
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
    fn folding_treats_unicode_white_space_like_spaces() {
        for (text, folded) in [
            ("Hà Nội mưa", "Hà Nội mưa"),
            (" a  b ", "a b"),
            ("a\u{a0}b\u{2003}c\u{3000}d\u{1680}e\u{85}f", "a b c d e f"),
            ("“quoted” — ok", "“quoted” — ok"),
            ("line\nbreak\ttab", "line break tab"),
            ("\n  already folded \r\n", "already folded"),
            (" \u{a0}a b\u{a0} ", "a b"),
            ("\u{b}a b\u{b}", "a b"),
        ] {
            assert_eq!(fold_whitespace(text), folded, "{text:?}");
        }
    }

    #[test]
    fn the_latin_table_folds_like_the_unicode_tables() {
        for code in (0x80..0x250).chain(0x1E00..0x1F00) {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            let mut direct = String::new();
            fold_char(&mut direct, c);
            assert_eq!(latin_folds().get(c), Some(direct.as_str()), "U+{code:04X}");
        }
        assert_eq!(
            fold_words("Ảnh: ĐỨC Nguyễn, Ærø Straße"),
            ["anh", "duc", "nguyen", "ærø", "straße"]
        );
    }

    /// The folded line as the slow way makes it: every character through the Unicode tables
    /// (`fold_char`), then split into words.
    fn slow_line(text: &str) -> String {
        let mut folded = String::new();
        for c in text.chars() {
            fold_char(&mut folded, c);
        }
        let words: Vec<&str> = folded.split_whitespace().collect();
        if words.is_empty() {
            " ".to_string()
        } else {
            format!(" {} ", words.join(" "))
        }
    }

    #[test]
    fn folded_lines_equal_folding_then_splitting() {
        for text in [
            "",
            "   ",
            "An ninh mạng: Đà Nẵng!",
            "  Hà\u{a0}Nội\t—  “quoted”  ",
            "Ærø Straße ǅ ﬁ 東京 ١٢٣",
            "cve-2026-12345, e.g. x.y",
        ] {
            assert_eq!(folded_line(text), slow_line(text), "{text:?}");
        }
    }

    #[test]
    fn folded_html_lines_equal_folding_the_stripped_text() {
        for html in [
            "",
            "<p></p>",
            "<p>Đà <b>Nẵng</b> &amp; Huế</p>",
            "Hà<b>Nội</b>&nbsp;&lt;3 &quot;x&quot;&gt;&copy; tail",
            "<a href=\"https://x.example/?a=1&amp;b=2\">link</a> &amp;amp;",
            "a <b>bold</b> and <unclosed rest",
            "&&&amp &amp",
        ] {
            assert_eq!(
                folded_html_line(html),
                slow_line(&strip_tags(html)),
                "{html:?}"
            );
        }
    }

    #[test]
    fn line_words_are_the_words_between_spaces() {
        for (line, words) in [
            (" an ninh mang ", vec!["an", "ninh", "mang"]),
            ("  đa  nang", vec!["đa", "nang"]),
            ("one", vec!["one"]),
            (" ", vec![]),
            ("", vec![]),
        ] {
            assert_eq!(line_words(line).collect::<Vec<_>>(), words, "{line:?}");
        }
    }

    #[test]
    fn line_prefixes_end_between_words() {
        assert_eq!(line_prefix(" ab cd ef ", 100), " ab cd ef ");
        assert_eq!(line_prefix(" ab cd ef ", 6), " ab cd");
        assert_eq!(line_prefix(" ab cd ef ", 5), " ab");
        assert_eq!(line_prefix(" ab cd ef ", 0), "");
        assert_eq!(line_prefix(" đa nẵng ", 5), " đa");
    }

    #[test]
    fn search_text_has_each_word_once_title_first() {
        let folded = FoldedFields::new(
            "Giá xăng giảm",
            Some("<p>Giá xăng <b>giảm</b> mạnh</p>"),
            Some("<p>Xăng dầu, giá cả</p>"),
        );
        assert_eq!(folded.search_text(), "gia xang giam manh dau ca");
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

    #[test]
    fn hash_parts_separates_parts() {
        assert_ne!(hash_parts(&["ab", "c"]), hash_parts(&["a", "bc"]));
        assert_eq!(hash_parts(&["x"]).len(), 64);
        // Hashes are stored: the hex form must never change.
        assert_eq!(
            hash_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
