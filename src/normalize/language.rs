//! An entry's language: the tag it declares, normalized; the `lang` its content's outermost
//! element carries; and, when nothing declares one, the language its text is written in.
//!
//! Pure and bounded: a declared tag is checked for form only, content is scanned for at most
//! [`MAX_LANG_SCAN_BYTES`], and detection reads at most [`MAX_DETECTED_CHARS`] characters. Must
//! not guess: when the text is too short or the detector is unsure, the answer is `None`.

use std::sync::LazyLock;

use lingua::{Language, LanguageDetector, LanguageDetectorBuilder};

/// A tag is kept to this many bytes: real ones (`zh-hant-tw`, `sr-latn-rs`) are far shorter,
/// and a longer one is not a language tag but something else in the field.
const MAX_TAG_BYTES: usize = 35;

/// A declared language tag in the form we store: lowercase, subtags joined by `-`
/// (`vi_VN` → `vi-vn`, `zh-Hans` → `zh-hans`), or `None` when it is not shaped like a
/// language tag (RFC 5646 §2.1: subtags of 1–8 letters or digits, the first of letters).
///
/// Tags are compared without case (RFC 5646 §2.1.1); one spelling per tag lets pages compare
/// their entries' languages as strings and the topic filter compare primary subtags.
pub fn normalized_tag(raw: &str) -> Option<String> {
    let tag = raw.trim();
    if tag.is_empty() || tag.len() > MAX_TAG_BYTES {
        return None;
    }
    let tag = tag.replace('_', "-").to_ascii_lowercase();
    let mut subtags = tag.split('-');
    let primary = subtags.next()?;
    let primary_ok =
        (1..=8).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_lowercase());
    let rest_ok =
        subtags.all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()));
    (primary_ok && rest_ok).then_some(tag)
}

/// How much of an entry's raw content is read for the `lang` of its outermost element: a start
/// tag with a few attributes, after an XML declaration and a doctype.
pub const MAX_LANG_SCAN_BYTES: usize = 512;

/// Elements that wrap a whole entry's content (Atom's XHTML `div`, an article) when the content
/// ends with their end tag. A `<p>` or `<span>` that starts and ends the content is most often
/// the first of several, whose language is not the entry's.
const WRAPPERS: [&str; 4] = ["div", "article", "section", "main"];

/// The `lang` (or `xml:lang`) of the outermost element of raw HTML (`<html lang="vi">…`,
/// `<div xml:lang="id">…</div>`), normalized ([`normalized_tag`]). Read before sanitizing, which
/// drops `lang` attributes. Only the first [`MAX_LANG_SCAN_BYTES`] are scanned, and the end of
/// the content: `<html>` and `<body>` count as they are, [`WRAPPERS`] only when the content ends
/// with their end tag.
pub fn content_lang(html: &str) -> Option<String> {
    let head = &html[..crate::text::floor_char_boundary(html, MAX_LANG_SCAN_BYTES)];
    let mut rest = head.trim_start();
    // Declarations and comments before the element: `<?xml …?>`, `<!DOCTYPE …>`, `<!-- … -->`.
    loop {
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after[after.find("-->")? + 3..].trim_start();
        } else if rest.starts_with("<?") || rest.starts_with("<!") {
            rest = rest[rest.find('>')? + 1..].trim_start();
        } else {
            break;
        }
    }
    let tag = rest.strip_prefix('<')?;
    let name_len = tag
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_')))
        .unwrap_or(tag.len());
    let name = &tag[..name_len];
    if name.is_empty() {
        return None;
    }
    let lang = start_tag_attribute(&tag[name_len..], &["lang", "xml:lang"])?;
    let local = name.rsplit(':').next().unwrap_or(name).to_ascii_lowercase();
    let wraps_all = matches!(local.as_str(), "html" | "body")
        || (WRAPPERS.contains(&local.as_str()) && {
            let end_tag = format!("</{name}>");
            let end = html.trim_end();
            end.len()
                .checked_sub(end_tag.len())
                .and_then(|at| end.get(at..))
                .is_some_and(|last| last.eq_ignore_ascii_case(&end_tag))
        });
    wraps_all.then(|| normalized_tag(&lang)).flatten()
}

/// The value of the first of `names` among the attributes of a start tag, given the text after
/// its name; `None` when the tag does not end within the text.
fn start_tag_attribute(mut attrs: &str, names: &[&str]) -> Option<String> {
    let mut found = None;
    loop {
        attrs = attrs.trim_start();
        if attrs.starts_with('>') || attrs.starts_with("/>") {
            return found;
        }
        let name_end = attrs.find(|c: char| c.is_whitespace() || matches!(c, '=' | '>' | '/'))?;
        let name = &attrs[..name_end];
        attrs = attrs[name_end..].trim_start();
        let mut value = "";
        if let Some(after) = attrs.strip_prefix('=') {
            let after = after.trim_start();
            let (v, rest) = match after.chars().next()? {
                quote @ ('"' | '\'') => {
                    let close = after[1..].find(quote)?;
                    (&after[1..1 + close], &after[close + 2..])
                }
                _ => {
                    let end = after.find(|c: char| c.is_whitespace() || c == '>')?;
                    (&after[..end], &after[end..])
                }
            };
            value = v;
            attrs = rest;
        } else if name.is_empty() {
            // A stray `/` inside the tag.
            attrs = &attrs[1..];
        }
        if found.is_none() && names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            found = Some(value.to_string());
        }
    }
}

/// Detection reads the title and the start of the text up to this many characters: enough for
/// several sentences, and a bounded cost per entry whatever its length.
pub const MAX_DETECTED_CHARS: usize = 600;
/// Below this many letters, text is too short to tell related languages apart (a three-word
/// title is "Harga minyak naik" in Indonesian and Malay alike), unless its script decides.
const MIN_DETECTED_LETTERS: usize = 60;
/// Words with letters only Vietnamese writes, needed before text is taken for Vietnamese without
/// the detector, and the share of all words they must be (names of Vietnamese people and places
/// in other languages' text stay below it).
const MIN_VIETNAMESE_WORDS: usize = 3;
const MIN_VIETNAMESE_SHARE: f64 = 0.2;
/// The detector's confidence (0–1, summing to 1 over the languages below) its first choice needs.
const MIN_CONFIDENCE: f64 = 0.7;

/// The languages detection chooses among: those our readers read (Vietnamese, Indonesian,
/// Malay, English, Chinese, Thai). Each one more makes every detection slower and the wrong
/// answer likelier among the rest.
const DETECTED: [(Language, &str); 6] = [
    (Language::Vietnamese, "vi"),
    (Language::Indonesian, "id"),
    (Language::Malay, "ms"),
    (Language::English, "en"),
    (Language::Chinese, "zh"),
    (Language::Thai, "th"),
];

/// Low-accuracy mode: trigram models only, a few MiB for these languages instead of many
/// tens, and several times faster. It is weaker on very short text, which is not detected
/// anyway ([`MIN_DETECTED_LETTERS`]).
static INDONESIAN_OR_MALAY: LazyLock<LanguageDetector> = LazyLock::new(|| {
    LanguageDetectorBuilder::from_languages(&[Language::Indonesian, Language::Malay])
        .with_low_accuracy_mode()
        .build()
});

static DETECTOR: LazyLock<LanguageDetector> = LazyLock::new(|| {
    let languages: Vec<Language> = DETECTED.iter().map(|(language, _)| *language).collect();
    LanguageDetectorBuilder::from_languages(&languages)
        .with_low_accuracy_mode()
        .build()
});

/// The tag of the language `text` (an entry's title, then the plain text of its summary and
/// content) is written in, or `None` when it cannot be told with confidence.
///
/// Exact shortcuts come first, as they cost a pass over the characters: Thai script is Thai;
/// Han without kana is Chinese (`zh`), kana Japanese (`ja`), Hangul Korean (`ko`); several words
/// with letters only Vietnamese writes (ơ, ư, and the vowels of Latin Extended Additional with
/// both a diacritic and a tone mark or a dot below: ạ, ả, ế, ộ …) are Vietnamese. Latin text
/// without them goes to the detector.
pub fn detect(text: &str) -> Option<&'static str> {
    let text = &text[..char_prefix_len(text, MAX_DETECTED_CHARS)];
    let census = ScriptCensus::of(text);
    if census.letters == 0 {
        return None;
    }
    let most = |n: usize| n * 2 > census.letters;
    if census.kana > 0 && most(census.kana + census.han) {
        return Some("ja");
    }
    if most(census.hangul) {
        return Some("ko");
    }
    if most(census.han) {
        return Some("zh");
    }
    if most(census.thai) {
        return Some("th");
    }
    if !most(census.latin) {
        return None;
    }
    if census.vietnamese_words >= MIN_VIETNAMESE_WORDS
        && census.vietnamese_words as f64 >= MIN_VIETNAMESE_SHARE * census.words as f64
    {
        return Some("vi");
    }
    // Among the Latin-script languages detected, only Vietnamese writes letters beyond ASCII,
    // so the detector's rules answer Vietnamese for any text with one. In text that is not
    // Vietnamese by the count above they are names ("Phạm Minh Chính", "Đà Nẵng") or loanwords
    // ("café"), which say nothing of the rest; Vietnamese written without them is still known
    // by its trigrams.
    let words: Vec<&str> = text
        .split_whitespace()
        .filter(|w| w.chars().all(|c| c.is_ascii() || !c.is_alphabetic()))
        .collect();
    let letters = |words: &[&str]| -> usize {
        words
            .iter()
            .map(|w| w.chars().filter(|c| c.is_alphabetic()).count())
            .sum()
    };
    let total = letters(&words);
    if total < MIN_DETECTED_LETTERS {
        return None;
    }
    // Each half is detected alone and both must agree: text in two languages (a quote, a
    // translation after the original) is neither, and the detector, which scores the whole at
    // once, would answer whichever fits its trigrams better.
    let mut seen = 0;
    let middle = words
        .iter()
        .position(|w| {
            seen += w.chars().filter(|c| c.is_alphabetic()).count();
            seen * 2 >= total
        })
        .map_or(words.len(), |i| i + 1);
    let (first, second) = (&words[..middle], &words[middle..]);
    match (FunctionWords::of(first), FunctionWords::of(second)) {
        (FunctionWords::English, FunctionWords::English) => Some("en"),
        (FunctionWords::English, FunctionWords::MalayFamily)
        | (FunctionWords::MalayFamily, FunctionWords::English) => None,
        // Both Indonesian or Malay: one call, choosing between those two only, over the whole.
        (FunctionWords::MalayFamily, FunctionWords::MalayFamily) => {
            detect_with(&INDONESIAN_OR_MALAY, &detector_text(&words, 2))
        }
        (one, other) => {
            let half = |words: &[&str], found: FunctionWords| match found {
                FunctionWords::English => Some("en"),
                FunctionWords::MalayFamily => {
                    detect_with(&INDONESIAN_OR_MALAY, &detector_text(words, 1))
                }
                FunctionWords::Neither => detect_with(&DETECTOR, &detector_text(words, 1)),
            };
            let language = half(first, one)?;
            (half(second, other)? == language).then_some(language)
        }
    }
}

/// Characters of each half of the text the detector reads: its work grows with the text (over
/// a microsecond a character), and this much of each half told Indonesian from Malay in every
/// pair of texts we tried.
const MAX_DETECTOR_CHARS: usize = 150;

/// `words` joined, at most `halves` × [`MAX_DETECTOR_CHARS`] characters of them.
fn detector_text(words: &[&str], halves: usize) -> String {
    let mut text = words.join(" ");
    text.truncate(char_prefix_len(&text, halves * MAX_DETECTOR_CHARS));
    text
}

/// Function words English text is full of and Indonesian and Malay never write.
const ENGLISH_WORDS: [&str; 32] = [
    "the", "of", "and", "to", "in", "is", "that", "for", "was", "with", "on", "are", "said", "by",
    "as", "from", "at", "have", "has", "it", "be", "this", "will", "were", "not", "an", "they",
    "their", "who", "which", "after", "its",
];
/// Function words of Indonesian and Malay alike, which English never writes.
const MALAY_FAMILY_WORDS: [&str; 32] = [
    "yang", "dan", "di", "dengan", "untuk", "ini", "itu", "ke", "pada", "akan", "tidak", "dalam",
    "juga", "oleh", "kepada", "telah", "atau", "adalah", "ialah", "mereka", "ada", "sudah",
    "lebih", "dari", "daripada", "bahwa", "bahawa", "karena", "kerana", "tersebut", "masih",
    "hanya",
];
/// Distinct function words of one side a half needs, with none of the other's, to be taken for
/// that side.
const MIN_FUNCTION_WORDS: usize = 3;

/// Which function words one half of the text ([`detect`]) is written with. English is told by
/// them alone, which costs a pass over the words where the detector costs over a microsecond a
/// character; Indonesian or Malay ones leave only those two for the detector to choose between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FunctionWords {
    English,
    MalayFamily,
    Neither,
}

impl FunctionWords {
    fn of(words: &[&str]) -> FunctionWords {
        let (mut english, mut malay_family) = (Vec::new(), Vec::new());
        for word in words {
            let word = word
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_ascii_lowercase();
            if let Some(found) = ENGLISH_WORDS.iter().find(|w| **w == word) {
                if !english.contains(found) {
                    english.push(*found);
                }
            } else if let Some(found) = MALAY_FAMILY_WORDS.iter().find(|w| **w == word) {
                if !malay_family.contains(found) {
                    malay_family.push(*found);
                }
            }
        }
        match (english.len(), malay_family.len()) {
            (n, 0) if n >= MIN_FUNCTION_WORDS => FunctionWords::English,
            (0, n) if n >= MIN_FUNCTION_WORDS => FunctionWords::MalayFamily,
            _ => FunctionWords::Neither,
        }
    }
}

/// The detector's answer for Latin-script text, when it is confident.
fn detect_with(detector: &LanguageDetector, text: &str) -> Option<&'static str> {
    // A panic inside the detector on some input is no language for that entry, not a failed
    // refresh (feed-rs is guarded the same way in `parse`). Its only state is the models it has
    // loaded, which a later call loads again if need be.
    let values = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        detector.compute_language_confidence_values(text)
    }))
    .ok()?;
    let (language, confidence) = values.first()?;
    if *confidence < MIN_CONFIDENCE {
        return None;
    }
    DETECTED
        .iter()
        .find(|(known, _)| known == language)
        .map(|(_, tag)| *tag)
}

/// What detection reads of an entry: its title, then the plain text of its sanitized summary and
/// content, up to [`MAX_DETECTED_CHARS`] characters in all.
pub fn detection_text(
    title: &str,
    summary_html: Option<&str>,
    content_html: Option<&str>,
) -> String {
    // Markup before the text (a figure, long links) is bounded by reading only this much HTML.
    const MAX_HTML_BYTES: usize = 8 * 1024;
    let mut text = crate::text::fold_whitespace(title);
    for html in [summary_html, content_html].into_iter().flatten() {
        if text.chars().count() >= MAX_DETECTED_CHARS {
            break;
        }
        let html = &html[..crate::text::floor_char_boundary(html, MAX_HTML_BYTES)];
        let plain = crate::text::fold_whitespace(&crate::text::strip_tags(html));
        if !plain.is_empty() {
            if !text.is_empty() {
                // A title rarely ends in a full stop; without one its last word and the text's
                // first would read as one sentence.
                if !text.ends_with(['.', '!', '?', '…', '。']) {
                    text.push('.');
                }
                text.push(' ');
            }
            text.push_str(plain.trim());
        }
    }
    text.truncate(char_prefix_len(&text, MAX_DETECTED_CHARS));
    text
}

/// Byte length of the first `max` characters of `text`.
fn char_prefix_len(text: &str, max: usize) -> usize {
    text.char_indices().nth(max).map_or(text.len(), |(i, _)| i)
}

/// Letters of `text` counted by script, and its words.
#[derive(Debug, Default)]
struct ScriptCensus {
    letters: usize,
    latin: usize,
    han: usize,
    kana: usize,
    hangul: usize,
    thai: usize,
    words: usize,
    /// Words with a letter only Vietnamese writes ([`is_vietnamese_only`]).
    vietnamese_words: usize,
}

impl ScriptCensus {
    fn of(text: &str) -> ScriptCensus {
        let mut census = ScriptCensus::default();
        let mut in_word = false;
        let mut word_is_vietnamese = false;
        for c in text.chars() {
            // Thai vowel signs and tone marks are marks, not letters, yet belong to its words.
            let thai = ('\u{0E00}'..='\u{0E7F}').contains(&c);
            if !(c.is_alphabetic() || thai) {
                in_word = false;
                continue;
            }
            if !in_word {
                census.words += 1;
                in_word = true;
                word_is_vietnamese = false;
            }
            census.letters += 1;
            match c {
                _ if thai => census.thai += 1,
                c if c.is_ascii_alphabetic() || ('\u{00C0}'..='\u{024F}').contains(&c) => {
                    census.latin += 1
                }
                '\u{1E00}'..='\u{1EFF}' => census.latin += 1,
                '\u{3040}'..='\u{30FF}' => census.kana += 1,
                '\u{AC00}'..='\u{D7AF}' | '\u{1100}'..='\u{11FF}' => census.hangul += 1,
                '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}' => {
                    census.han += 1
                }
                _ => {}
            }
            if !word_is_vietnamese && is_vietnamese_only(c) {
                word_is_vietnamese = true;
                census.vietnamese_words += 1;
            }
        }
        census
    }
}

/// Letters no other language we meet writes: ơ and ư, and the vowels of Latin Extended
/// Additional U+1EA0–U+1EF9 (ạ ả ấ ầ ẩ ẫ ậ ắ … ỹ), which Unicode encodes for Vietnamese.
/// (đ and ă are not among them: Croatian writes đ and Romanian ă.)
fn is_vietnamese_only(c: char) -> bool {
    matches!(c, 'ơ' | 'Ơ' | 'ư' | 'Ư' | '\u{1EA0}'..='\u{1EF9}')
}

#[cfg(test)]
mod tests;
