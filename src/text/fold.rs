//! Folding for matching: lowercase letters and digits without diacritics, everything else a word
//! break; folded once per entry for topic rules, search and fingerprints ([`FoldedFields`]).
//! Pure; no I/O.

use unicode_normalization::char::is_combining_mark;

use super::markup::SERIALIZER_ESCAPES;

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
    push_folded_html(&mut line, html);
    push_space(&mut line);
    line
}

/// Appends the words of the sanitizer's `html` to a folded line (see [`folded_html_line`]).
pub fn push_folded_html(line: &mut String, html: &str) {
    let mut rest = html;
    loop {
        let open = rest.find('<');
        let mut text = &rest[..open.unwrap_or(rest.len())];
        while let Some(amp) = text.find('&') {
            push_folded_words(line, &text[..amp]);
            push_space(line);
            let after = &text[amp..];
            let escape = SERIALIZER_ESCAPES
                .iter()
                .find(|(escape, _)| after.starts_with(escape))
                .map_or(1, |(escape, _)| escape.len());
            text = &after[escape..];
        }
        push_folded_words(line, text);
        let Some(open) = open else { break };
        push_space(line);
        match rest[open..].find('>') {
            Some(close) => rest = &rest[open + close + 1..],
            None => break,
        }
    }
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
    use crate::text::markup::{fold_whitespace, strip_tags};

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
}
