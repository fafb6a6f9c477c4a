//! Bounds on what one entry's HTML may cost and take: nesting depth and size are limited before
//! the sanitizer's parser sees the markup, and the sanitized result is cut to the stored size.
//!
//! html5ever's tree builder scans the stack of open elements for most tags, so a document nested
//! N deep costs about N² (200,000 nested `<div>` took minutes of CPU). [`bound_markup`] is a
//! single linear pass over the raw bytes that keeps a rough model of that stack and drops the
//! tags that would nest deeper than the limit (their text stays), then cuts what is left at a tag
//! boundary past the size limit. It never changes markup within both limits, so ordinary entries
//! (and their stored content hashes) come out exactly as before. Pure string work; no I/O.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Elements nested deeper than this (as [`bound_markup`] counts them) lose their tags. Real
/// articles stay far below it; at this depth html5ever's per-tag scans stay cheap.
pub const MAX_DEPTH: usize = 256;

/// What [`bound_markup`] or [`cut_sanitized`] had to do.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Bounded {
    /// Tags nested deeper than the limit were dropped, their text kept.
    pub flattened: bool,
    /// Everything past the size limit was dropped.
    pub cut: bool,
}

/// Elements without content or end tag (WHATWG HTML §13.1.2).
const VOID: &[&str] = &[
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img",
    "input", "keygen", "link", "meta", "param", "source", "track", "wbr",
];

/// Elements whose content the tokenizer reads as text up to their end tag (§13.2.5).
const RAW_TEXT: &[&str] = &[
    "iframe", "noembed", "noframes", "noscript", "script", "style", "textarea", "title", "xmp",
];

/// Elements whose start closes an open `p` (§13.2.6.4.7, "in body").
const CLOSES_P: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "dd",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "li",
    "listing",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "pre",
    "search",
    "section",
    "summary",
    "table",
    "ul",
    "xmp",
];

/// Formatting elements: the parser remembers them and re-opens them after a block closes them
/// (the "list of active formatting elements", §13.2.4.3).
const FORMATTING: &[&str] = &[
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];

/// Where a search for an open element stops (the "has an element in scope" boundaries).
const SCOPE: &[&str] = &[
    "applet", "caption", "html", "marquee", "object", "table", "td", "template", "th",
];

/// The "special" category (§13.2.4.2), less the scope boundaries above: a plain end tag (of an
/// element not in this list) never closes past one of these.
const SPECIAL: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "button",
    "center",
    "colgroup",
    "dd",
    "details",
    "dir",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "li",
    "listing",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "select",
    "summary",
    "tbody",
    "tfoot",
    "thead",
    "tr",
    "ul",
];

/// What the parser's rules say about an element, as bits, looked up once per tag.
mod kind {
    pub const VOID: u16 = 1;
    pub const RAW_TEXT: u16 = 1 << 1;
    pub const CLOSES_P: u16 = 1 << 2;
    pub const FORMATTING: u16 = 1 << 3;
    /// In the "special" category or a scope boundary.
    pub const SPECIAL: u16 = 1 << 4;
    pub const SCOPE: u16 = 1 << 5;
    pub const ADDRESS_DIV_P: u16 = 1 << 6;
    /// html, table, template: where a search for an open table part stops.
    pub const TABLE_SCOPE: u16 = 1 << 7;
    pub const BUTTON: u16 = 1 << 8;
}

fn kind_of(name: &str) -> u16 {
    static KINDS: OnceLock<HashMap<&'static str, u16, foldhash::fast::FixedState>> =
        OnceLock::new();
    let kinds = KINDS.get_or_init(|| {
        let mut kinds: HashMap<&'static str, u16, foldhash::fast::FixedState> = HashMap::default();
        let lists: [(&[&'static str], u16); 9] = [
            (VOID, kind::VOID),
            (RAW_TEXT, kind::RAW_TEXT),
            (CLOSES_P, kind::CLOSES_P),
            (FORMATTING, kind::FORMATTING),
            (SPECIAL, kind::SPECIAL),
            (SCOPE, kind::SPECIAL | kind::SCOPE),
            (&["address", "div", "p"], kind::ADDRESS_DIV_P),
            (&["html", "table", "template"], kind::TABLE_SCOPE),
            (&["button"], kind::BUTTON),
        ];
        for (names, bits) in lists {
            for name in names {
                *kinds.entry(name).or_insert(0) |= bits;
            }
        }
        kinds
    });
    kinds.get(name).copied().unwrap_or(0)
}

/// The elements whose open count is kept, so that a search for one that is not open is skipped:
/// those a start tag may implicitly close.
const TRACKED: [&[&str]; 7] = [
    &["p"],
    &["li"],
    &["dd", "dt"],
    &["td", "th"],
    &["tr"],
    &["tbody", "thead", "tfoot"],
    &["a"],
];

fn tracked(name: &str) -> Option<usize> {
    TRACKED.iter().position(|names| names.contains(&name))
}

/// How far down the modelled stack a search for an open element looks. Beyond it an element
/// counts as still open, which can only overstate the depth.
const LOOKBACK: usize = 2 * MAX_DEPTH;

/// The parser keeps at most three identical formatting elements to re-open (the "Noah's Ark"
/// clause, §13.2.4.3).
const NOAHS_ARK: u8 = 3;

/// Formatting elements open or waiting to be re-opened beyond this many are dropped. The parser
/// re-creates every one of them after each block that closed them, so `<p><b id=N>x</p>`
/// repeated with distinct ids multiplies the elements of every later paragraph; real text
/// nests a handful.
pub const MAX_FORMATTING: usize = 8;

/// `html` with tags nested deeper than `max_depth` dropped (their text kept) and everything from
/// the first tag or text past `max_bytes` cut. Borrowed when nothing was changed.
pub fn bound_markup(html: &str, max_depth: usize, max_bytes: usize) -> (Cow<'_, str>, Bounded) {
    let mut scan = Scan {
        html,
        out: None,
        stack: Vec::new(),
        open_counts: [0; TRACKED.len()],
        reopened: HashMap::new(),
        reopened_total: 0,
        formatting_open: 0,
        max_depth,
        bounded: Bounded::default(),
    };
    scan.run(max_bytes);
    let bounded = scan.bounded;
    match scan.out {
        Some(out) => (Cow::Owned(out), bounded),
        None if bounded.cut => (Cow::Owned(String::new()), bounded),
        None => (Cow::Borrowed(html), bounded),
    }
}

/// One open element of the modelled stack.
struct Open<'a> {
    name: Cow<'a, str>,
    /// Written to the output; a dropped element's end tag is dropped too.
    kept: bool,
    /// In SVG or MathML, where `<x/>` closes itself.
    foreign: bool,
    /// See [`kind`].
    kind: u16,
    tracked: Option<usize>,
    /// The whole start tag, for formatting elements: what the parser would re-open.
    formatting: Option<&'a str>,
}

struct Scan<'a> {
    html: &'a str,
    /// The output, once it differs from the input; until then it is `html[..position]`.
    out: Option<String>,
    stack: Vec<Open<'a>>,
    /// How many elements of each [`TRACKED`] group the stack holds.
    open_counts: [usize; TRACKED.len()],
    /// Formatting elements closed by something other than their own end tag, which the parser
    /// re-opens at the next text: they count towards the depth too.
    reopened: HashMap<&'a str, u8>,
    reopened_total: usize,
    /// Kept formatting elements on the stack.
    formatting_open: usize,
    max_depth: usize,
    bounded: Bounded,
}

impl<'a> Scan<'a> {
    fn depth(&self) -> usize {
        self.stack.len() + self.reopened_total
    }

    /// Copies `html[range]` to the output (a no-op while the output is still the input).
    fn keep(&mut self, start: usize, end: usize) {
        if let Some(out) = &mut self.out {
            out.push_str(&self.html[start..end]);
        }
    }

    /// Leaves `html[start..end]` out of the output.
    fn drop_span(&mut self, start: usize) {
        if self.out.is_none() {
            self.out = Some(self.html[..start].to_string());
        }
    }

    fn written(&self, position: usize) -> usize {
        self.out.as_ref().map_or(position, String::len)
    }

    fn run(&mut self, max_bytes: usize) {
        let html = self.html;
        let bytes = html.as_bytes();
        let mut pos = 0;
        while pos < bytes.len() {
            let next = html[pos..].find('<').map_or(bytes.len(), |i| pos + i);
            // Text up to the next tag (a lone `<` is text too).
            if next > pos {
                let room = max_bytes.saturating_sub(self.written(pos));
                if next - pos > room {
                    let end = text_cut(html, pos, pos + room);
                    self.keep(pos, end);
                    self.cut_at(end);
                    return;
                }
                self.keep(pos, next);
                pos = next;
                continue;
            }
            let (end, tag) = read_tag(html, pos);
            if self.written(pos) + (end - pos) > max_bytes {
                self.cut_at(pos);
                return;
            }
            match tag {
                Tag::Other => self.keep(pos, end),
                Tag::Start { name, tag } => self.start(pos, end, name, tag),
                Tag::End { name, kind } => self.end(pos, end, name, kind),
            }
            pos = end.max(pos + 1);
        }
    }

    fn cut_at(&mut self, at: usize) {
        self.drop_span(at);
        self.bounded.cut = true;
    }

    fn start(&mut self, pos: usize, end: usize, name: Cow<'a, str>, tag: StartTag) {
        let in_foreign = self.stack.last().is_some_and(|o| o.foreign);
        if tag.raw_text {
            // A raw-text element (`pos..end` holds its content and end tag too) nests nothing.
            // Dropped, it takes its content along: a script's text must not become visible.
            if self.depth() >= self.max_depth {
                self.drop_span(pos);
                self.bounded.flattened = true;
            } else {
                self.keep(pos, end);
            }
            return;
        }
        let closes_itself = tag.self_closing && (in_foreign || name == "svg" || name == "math");
        if tag.kind & kind::VOID != 0 || closes_itself {
            self.keep(pos, end);
            return;
        }
        self.close_implied(&name, tag.kind);
        let formatting = (tag.kind & kind::FORMATTING != 0).then(|| &self.html[pos..end]);
        let kept = self.depth() < self.max_depth
            && (formatting.is_none()
                || self.formatting_open + self.reopened_total < MAX_FORMATTING);
        if kept {
            self.keep(pos, end);
        } else {
            self.drop_span(pos);
            self.bounded.flattened = true;
        }
        let foreign = in_foreign || name == "svg" || name == "math";
        if kept && formatting.is_some() {
            self.formatting_open += 1;
        }
        let tracked = tracked(&name);
        if let Some(group) = tracked {
            self.open_counts[group] += 1;
        }
        self.stack.push(Open {
            name,
            kept,
            foreign,
            kind: tag.kind,
            tracked,
            formatting,
        });
    }

    /// The end tags the parser implies when `name` starts (§13.2.6.4.7).
    fn close_implied(&mut self, name: &str, bits: u16) {
        match name {
            "li" => self.close_open(&["li"], Stop::SpecialButAddressDivP),
            "dd" | "dt" => self.close_open(&["dd", "dt"], Stop::SpecialButAddressDivP),
            "td" | "th" => self.close_open(&["td", "th"], Stop::TableScope),
            "tr" => self.close_open(&["tr"], Stop::TableScope),
            "tbody" | "thead" | "tfoot" => {
                self.close_open(&["tbody", "thead", "tfoot"], Stop::TableScope)
            }
            // A new link ends the one still open, and the parser forgets the old one.
            "a" => {
                self.close_open(&["a"], Stop::Special);
                self.forget_reopened("a");
            }
            "option" | "optgroup" if self.stack.last().is_some_and(|o| o.name == "option") => {
                self.pop_to(self.stack.len() - 1);
            }
            _ => {}
        }
        if bits & kind::CLOSES_P != 0 {
            self.close_open(&["p"], Stop::ButtonScope);
        }
        let heading = |n: &str| matches!(n, "h1" | "h2" | "h3" | "h4" | "h5" | "h6");
        if heading(name) && self.stack.last().is_some_and(|o| heading(&o.name)) {
            self.pop_to(self.stack.len() - 1);
        }
    }

    /// Closes the nearest open element named one of `targets`, unless `stop` comes first.
    fn close_open(&mut self, targets: &[&str], stop: Stop) {
        if let Some(at) = self.find_open(targets, stop) {
            self.pop_to(at);
        }
    }

    fn find_open(&self, targets: &[&str], stop: Stop) -> Option<usize> {
        let group = targets.first().and_then(|t| tracked(t));
        if group.is_some_and(|g| self.open_counts[g] == 0) {
            return None;
        }
        for (at, open) in self.stack.iter().enumerate().rev().take(LOOKBACK) {
            if targets.contains(&&*open.name) {
                return Some(at);
            }
            if stop.stops_at(open.kind) {
                return None;
            }
        }
        None
    }

    /// Pops the stack down to and including index `at`. Formatting elements popped above it are
    /// re-opened by the parser at the next text, so they keep counting.
    fn pop_to(&mut self, at: usize) {
        for (i, open) in self.stack.drain(at..).enumerate() {
            if let Some(group) = open.tracked {
                self.open_counts[group] -= 1;
            }
            if open.kept && open.formatting.is_some() {
                self.formatting_open -= 1;
            }
            if let (Some(tag), true, true) = (open.formatting, open.kept, i > 0) {
                let count = self.reopened.entry(tag).or_insert(0);
                if *count < NOAHS_ARK {
                    *count += 1;
                    self.reopened_total += 1;
                }
            }
        }
    }

    /// The parser no longer re-opens formatting elements named `name`.
    fn forget_reopened(&mut self, name: &str) {
        if self.reopened.is_empty() {
            return;
        }
        let total = &mut self.reopened_total;
        self.reopened.retain(|tag, count| {
            let keep = !tag_name(tag).eq_ignore_ascii_case(name);
            if !keep {
                *total -= usize::from(*count);
            }
            keep
        });
    }

    fn end(&mut self, pos: usize, end: usize, name: Cow<'a, str>, bits: u16) {
        let formatting = bits & kind::FORMATTING != 0;
        let stop = if formatting {
            // Past a block the adoption agency (§13.2.6.4.7) restructures rather than closes,
            // which makes nothing shallower.
            Stop::Special
        } else if bits & kind::SPECIAL != 0 {
            Stop::Scope
        } else {
            Stop::Special
        };
        match self.find_open(&[&name], stop) {
            Some(at) => {
                let kept = self.stack[at].kept;
                self.pop_to(at);
                if kept {
                    self.keep(pos, end);
                } else {
                    self.drop_span(pos);
                }
            }
            None => {
                if formatting {
                    // The end tag of a formatting element no longer open takes it off the list
                    // of those to re-open.
                    self.forget_reopened(&name);
                }
                self.keep(pos, end);
            }
        }
    }
}

/// Where a search for an open element gives up.
#[derive(Clone, Copy)]
enum Stop {
    /// At any element of the "special" category or a scope boundary.
    Special,
    /// The same, except address, div and p (where a new `li`, `dd` or `dt` looks for the last).
    SpecialButAddressDivP,
    /// At a scope boundary ("has an element in scope").
    Scope,
    /// At a scope boundary or a button ("has an element in button scope").
    ButtonScope,
    /// At html, table or template ("has an element in table scope").
    TableScope,
}

impl Stop {
    fn stops_at(self, bits: u16) -> bool {
        let has = |flag: u16| bits & flag != 0;
        match self {
            Stop::Special => has(kind::SPECIAL),
            Stop::SpecialButAddressDivP => has(kind::SPECIAL) && !has(kind::ADDRESS_DIV_P),
            Stop::Scope => has(kind::SCOPE),
            Stop::ButtonScope => has(kind::SCOPE) || has(kind::BUTTON),
            Stop::TableScope => has(kind::TABLE_SCOPE),
        }
    }
}

/// What a start tag says beyond its name.
#[derive(Clone, Copy)]
struct StartTag {
    /// See [`kind`].
    kind: u16,
    self_closing: bool,
    /// A raw-text element: the tag's span runs to the end of its end tag.
    raw_text: bool,
}

/// What starts at a `<`.
enum Tag<'a> {
    Start {
        name: Cow<'a, str>,
        tag: StartTag,
    },
    End {
        name: Cow<'a, str>,
        kind: u16,
    },
    /// A comment, doctype, processing instruction or a `<` that starts no tag.
    Other,
}

/// Reads the markup at `html[pos]` (a `<`): where it ends and what it is. Follows the tokenizer
/// (§13.2.5) closely enough that a `>` inside a quoted attribute value does not end the tag.
fn read_tag(html: &str, pos: usize) -> (usize, Tag<'_>) {
    let bytes = html.as_bytes();
    let rest = &html[pos..];
    if let Some(comment) = rest.strip_prefix("<!--") {
        let end = comment.find("-->").map_or(html.len(), |i| pos + 4 + i + 3);
        return (end, Tag::Other);
    }
    let after = bytes.get(pos + 1).copied().unwrap_or(0);
    if after == b'!' || after == b'?' {
        let end = rest.find('>').map_or(html.len(), |i| pos + i + 1);
        return (end, Tag::Other);
    }
    let is_end = after == b'/';
    let name_start = if is_end { pos + 2 } else { pos + 1 };
    if !bytes.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
        // Not a tag: the `<` is text.
        return (pos + 1, Tag::Other);
    }
    let name_end = bytes[name_start..]
        .iter()
        .position(|&b| b.is_ascii_whitespace() || b == b'/' || b == b'>')
        .map_or(bytes.len(), |i| name_start + i);
    let name = lowercase(&html[name_start..name_end]);
    let bits = kind_of(&name);
    let end = tag_end(bytes, name_end);
    if is_end {
        return (end, Tag::End { name, kind: bits });
    }
    let self_closing = end >= 2 && bytes[end - 1] == b'>' && bytes[end - 2] == b'/';
    let raw_text = bits & kind::RAW_TEXT != 0;
    let end = if raw_text {
        raw_text_end(html, end, &name)
    } else {
        end
    };
    let tag = StartTag {
        kind: bits,
        self_closing,
        raw_text,
    };
    (end, Tag::Start { name, tag })
}

/// Just past the `>` that ends a tag whose attributes start at `from`: quoted values may hold
/// `>`.
fn tag_end(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    let mut after_equals = false;
    while i < bytes.len() {
        match bytes[i] {
            b'>' => return i + 1,
            quote @ (b'"' | b'\'') if after_equals => {
                i = bytes[i + 1..]
                    .iter()
                    .position(|&b| b == quote)
                    .map_or(bytes.len(), |j| i + 1 + j + 1);
                after_equals = false;
                continue;
            }
            b'=' => after_equals = true,
            b if b.is_ascii_whitespace() => {}
            _ => after_equals = false,
        }
        i += 1;
    }
    bytes.len()
}

/// Just past the end tag `</name …>` that closes a raw-text element's content starting at
/// `from`, else the end of the input.
fn raw_text_end(html: &str, from: usize, name: &str) -> usize {
    let bytes = html.as_bytes();
    let mut i = from;
    while let Some(at) = html[i..].find("</").map(|j| i + j) {
        let candidate = &bytes[at + 2..];
        if candidate.len() >= name.len()
            && candidate[..name.len()].eq_ignore_ascii_case(name.as_bytes())
            && candidate
                .get(name.len())
                .is_none_or(|&b| b.is_ascii_whitespace() || b == b'/' || b == b'>')
        {
            return tag_end(bytes, at + 2 + name.len());
        }
        i = at + 2;
    }
    html.len()
}

fn lowercase(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

/// The element name of a start tag `<name …>`.
fn tag_name(tag: &str) -> &str {
    let name = tag.get(1..).unwrap_or("");
    let end = name
        .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
        .unwrap_or(name.len());
    &name[..end]
}

/// Where to cut text running from `start` past `limit`: on a character boundary, and before an
/// entity or character reference the cut would split.
fn text_cut(html: &str, start: usize, limit: usize) -> usize {
    let at = crate::text::floor_char_boundary(html, limit).max(start);
    // On a character boundary too: 32 bytes back may fall inside a character.
    let from = crate::text::floor_char_boundary(html, at.saturating_sub(32)).max(start);
    let window = &html[from..at];
    match window.rfind('&') {
        Some(amp) if !window[amp..].contains(';') => at - (window.len() - amp),
        _ => at,
    }
}

/// Sanitized HTML (the sanitizer's own serialization: every element closed, text escaped) cut to
/// at most `max_bytes` before a tag or between characters of text, with the elements open at the
/// cut closed (their end tags counted in `max_bytes`). `None` when it fits.
pub fn cut_sanitized(html: &str, max_bytes: usize) -> Option<String> {
    if html.len() <= max_bytes {
        return None;
    }
    let bytes = html.as_bytes();
    let mut open: Vec<&str> = Vec::new();
    // The length of the end tags of `open`.
    let mut closing = 0;
    let close_len = |name: &str| name.len() + "</>".len();
    let mut pos = 0;
    while pos < html.len() {
        let next = html[pos..].find('<').map_or(html.len(), |i| pos + i);
        if next > pos {
            let room = max_bytes.saturating_sub(closing);
            if next > room {
                pos = text_cut(html, pos, room.max(pos));
                break;
            }
            pos = next;
            continue;
        }
        let end = tag_end(bytes, pos + 1);
        let tag = &html[pos..end];
        let mut after = closing;
        let mut popped = None;
        if let Some(name) = tag.strip_prefix("</") {
            let name = name.trim_end_matches('>');
            if let Some(at) = open.iter().rposition(|&o| o == name) {
                after -= open[at..].iter().map(|o| close_len(o)).sum::<usize>();
                popped = Some(at);
            }
        } else if !tag.starts_with("<!") && !VOID.contains(&tag_name(tag)) {
            after += close_len(tag_name(tag));
        }
        if end + after > max_bytes {
            break;
        }
        match popped {
            Some(at) => open.truncate(at),
            None if after > closing => open.push(tag_name(tag)),
            None => {}
        }
        closing = after;
        pos = end;
    }
    let cut = pos;
    let mut out = String::with_capacity(cut + open.len() * 8);
    out.push_str(&html[..cut]);
    for name in open.iter().rev() {
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, close: &str, n: usize, text: &str) -> String {
        format!("{}{text}{}", open.repeat(n), close.repeat(n))
    }

    #[test]
    fn ordinary_markup_is_returned_untouched() {
        for html in [
            "<p>Hello <a href=\"/x\" title=\"a>b\">world</a></p><!-- c --><img src=x>",
            "<ul><li>one<li>two<li>three</ul><p>a<p>b<p>c",
            "<table><tr><td>1<td>2<tr><td>3</table>",
            "<svg><path d=\"M0\"/><path/></svg><script>if (a < b) {}</script>",
            "a < b && c > d",
            "",
        ] {
            let (out, bounded) = bound_markup(html, MAX_DEPTH, usize::MAX);
            assert!(matches!(out, Cow::Borrowed(_)), "{html}");
            assert_eq!(bounded, Bounded::default(), "{html}");
        }
    }

    #[test]
    fn sloppy_but_shallow_markup_is_not_flattened() {
        let html = format!(
            "{}{}{}{}",
            "<p>paragraph".repeat(1000),
            "<ul><li>item".to_string() + &"<li>item".repeat(1000),
            "<b>unclosed</p><p>".repeat(1000),
            "<svg>".to_string() + &"<path d=\"M0\"/>".repeat(1000) + "</svg>"
        );
        let (out, bounded) = bound_markup(&html, MAX_DEPTH, usize::MAX);
        assert_eq!(bounded, Bounded::default());
        assert_eq!(out, html);
    }

    #[test]
    fn deep_nesting_keeps_the_text_without_the_deep_tags() {
        let html = nested("<div>", "</div>", 1000, "deep text");
        let (out, bounded) = bound_markup(&html, 4, usize::MAX);
        assert_eq!(
            bounded,
            Bounded {
                flattened: true,
                cut: false
            }
        );
        assert_eq!(out, "<div><div><div><div>deep text</div></div></div></div>");
    }

    #[test]
    fn unclosed_lists_count_as_nested() {
        let html = "<ul><li>".repeat(10) + "x";
        let (out, bounded) = bound_markup(&html, 4, usize::MAX);
        assert!(bounded.flattened);
        assert_eq!(out, "<ul><li><ul><li>x");
    }

    #[test]
    fn end_tags_do_not_close_past_a_block() {
        // The parser ignores `</span>` inside the div: every round nests two deeper.
        let html = "<span><div></span>".repeat(10);
        let (out, bounded) = bound_markup(&html, 4, usize::MAX);
        assert!(bounded.flattened, "{out}");
    }

    #[test]
    fn formatting_re_opened_after_a_block_counts() {
        // The parser would re-create all of them in every later paragraph: past the limit they go.
        let html: String = (0..100).map(|i| format!("<p><b id={i}>x</p>")).collect();
        let (out, bounded) = bound_markup(&html, MAX_DEPTH, usize::MAX);
        assert!(bounded.flattened);
        assert_eq!(out.matches("<b ").count(), MAX_FORMATTING);
        // Each `<b>` differs, so the parser re-opens every one of them inside the next `<p>`.
        let html: String = (0..20)
            .map(|i| format!("<p><b id={i}>x</p>"))
            .collect::<String>();
        let (_, bounded) = bound_markup(&html, 8, usize::MAX);
        assert!(bounded.flattened);
        // Identical ones are re-opened at most three times.
        let html = "<p><b>x</p>".repeat(20);
        assert_eq!(bound_markup(&html, 8, usize::MAX).1, Bounded::default());
    }

    #[test]
    fn dropped_raw_text_elements_take_their_content_with_them() {
        let html = "<div><div><script>alert(1)</script>text</div></div>";
        let (out, _) = bound_markup(html, 2, usize::MAX);
        assert_eq!(out, "<div><div>text</div></div>");
    }

    #[test]
    fn size_cut_falls_before_a_tag_or_between_characters() {
        let (out, bounded) = bound_markup("<p>abc</p><p>def</p>", MAX_DEPTH, 12);
        assert_eq!(out, "<p>abc</p>");
        assert!(bounded.cut && !bounded.flattened);
        let (out, _) = bound_markup("<p>Hà Nội &amp; more", MAX_DEPTH, 15);
        assert_eq!(out, "<p>Hà Nội ");
    }

    #[test]
    fn cut_sanitized_closes_what_was_open() {
        let html = "<div><p>one <a href=\"x>y\">two</a></p><p>three <b>four</b></p></div>";
        assert_eq!(cut_sanitized(html, html.len()), None);
        assert_eq!(
            cut_sanitized(html, 60).as_deref(),
            Some("<div><p>one <a href=\"x>y\">two</a></p><p>three </p></div>")
        );
        assert_eq!(
            cut_sanitized("<p>a<br>bcdef &amp; gh</p>", 20).as_deref(),
            Some("<p>a<br>bcdef </p>")
        );
    }
}

#[cfg(test)]
mod cut_tests {
    use super::*;

    #[test]
    fn cutting_vietnamese_text_never_splits_a_character() {
        let text = "một hai ba bốn năm sáu bảy tám chín mười &amp; ạ ả ấ ầ ẩ ẫ ậ đ ư ơ ".repeat(4);
        let html = format!("<p>{text}</p>");
        for limit in 1..html.len() {
            if let Some(cut) = cut_sanitized(&html, limit) {
                assert!(cut.len() <= limit.max(8), "{limit}: {cut}");
                assert!(
                    !cut.contains("&amp") || cut.contains("&amp;"),
                    "{limit}: entity split"
                );
            }
            let (bounded, _) = bound_markup(&text, MAX_DEPTH, limit);
            assert!(text.starts_with(bounded.trim_end_matches(' ')) || bounded.len() <= limit + 8);
        }
    }
}
