//! What of a story's title and text the same-story rules compare: the title without the labels
//! outlets add ("NÓNG:", "[Video]", "(ảnh)", "- Outlet"), and the text without the lines outlets
//! add (captions "Ảnh: …", "Mời quý độc giả xem thêm …", "Baca juga: …"). Both lists are tables
//! below, meant to be extended.

use std::hash::{Hash, Hasher};

use crate::text::{folded_line, line_words, push_folded_html};

/// Labels an outlet puts before a title, ending in `:` ("NÓNG: …", "VIDEO: …"), folded.
const TITLE_PREFIXES: &[&str] = &[
    "nong",
    "tin nong",
    "cuc nong",
    "khan",
    "doc quyen",
    "truc tiep",
    "video",
    "clip",
    "anh",
    "foto",
    "photo",
    "photos",
    "galeri",
    "gallery",
    "infographic",
    "emagazine",
    "podcast",
    "breaking",
    "breaking news",
    "update",
    "live",
    "watch",
    "listen",
    "exclusive",
    "viral",
    "hot",
    "eksklusif",
    "berita foto",
    "berita video",
];

/// Labels an outlet puts in brackets before or after a title ("[Video] …", "… (ảnh)"), folded.
const TITLE_TAGS: &[&str] = &[
    "video",
    "clip",
    "anh",
    "chum anh",
    "foto",
    "photo",
    "photos",
    "galeri",
    "gallery",
    "infographic",
    "emagazine",
    "podcast",
    "live",
    "truc tiep",
    "nong",
    "hot",
    "update",
    "cap nhat",
    "video foto",
];

/// Lines outlets add to a story they carry, by how they begin (lowercase, punctuation kept):
/// captions, credits, "read also" links and newsletter prompts.
const BOILERPLATE_STARTS: &[&str] = &[
    // Vietnamese
    "ảnh:",
    "ảnh :",
    "ảnh minh họa",
    "ảnh minh hoạ",
    "ảnh chụp màn hình",
    "nguồn:",
    "nguồn ảnh",
    "video:",
    "clip:",
    "xem thêm:",
    "xem thêm >>",
    "đọc thêm:",
    "mời quý độc giả",
    "mời bạn đọc",
    "mời độc giả",
    "tin liên quan",
    "bài liên quan",
    "theo dõi",
    // Indonesian
    "baca juga",
    "simak juga",
    "lihat juga",
    "saksikan juga",
    "tonton juga",
    "foto:",
    "sumber:",
    "editor:",
    "penulis:",
    "pewarta:",
    "reporter:",
    "artikel ini telah tayang",
    "dapatkan update",
    "ikuti berita",
    // English
    "read more",
    "read also",
    "related:",
    "see also",
    "photo:",
    "image:",
    "source:",
    "watch:",
    "credit:",
    "subscribe",
];

/// Words of the text a signature is made from (see [`super::fingerprint`]).
pub const SIGNATURE_WORDS: usize = 60;
/// Words of summary, and of content, kept in a [`StoryText::lead`].
const LEAD_WORDS: usize = 120;

/// What the rules compare of one story.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoryText {
    /// The title without outlet labels, as written (names keep their capitals).
    pub title: String,
    /// [`StoryText::title`] folded.
    pub folded_title: String,
    /// The start of the text (content, else summary) without added lines, folded: at most
    /// [`SIGNATURE_WORDS`] words.
    pub body: String,
    /// Words in the text without added lines, counted up to `SIGNATURE_WORDS + 1`: a story with
    /// fewer than [`SHORT_WORDS`] is short (a summary-only copy, a brief).
    pub body_words: usize,
    /// The start of the summary and of the content without added lines, folded: what a
    /// summary-only copy of the story would contain.
    pub lead: String,
}

/// What a signature is made from: the title without outlet labels and the start of the text
/// without added lines. Made for every entry, so it reads no more of the text than it needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignatureText {
    /// The title without outlet labels, as written.
    pub title: String,
    pub folded_title: String,
    /// At most [`SIGNATURE_WORDS`] words of the content (else the summary), folded.
    pub body: String,
}

impl SignatureText {
    /// From the title, summary and content already folded (normalize folds them once for topics
    /// and search): the text is folded again only when it holds lines outlets add, and the title
    /// only when it carries a label. The same as [`StoryText::of`]'s title and body.
    pub fn from_folded(
        title: &str,
        folded: &crate::text::FoldedFields,
        summary_html: Option<&str>,
        content_html: Option<&str>,
    ) -> SignatureText {
        let clean = clean_title(title);
        let folded_title = if clean.len() == title.trim().len() {
            folded.title.clone()
        } else {
            folded_line(clean)
        };
        let content = content_html.filter(|_| line_words(&folded.content).next().is_some());
        let (html, line) = match content {
            Some(html) => (Some(html), &folded.content),
            None => (summary_html, &folded.summary),
        };
        let body = match html {
            Some(html) if has_added_lines(html) => story_words(html, SIGNATURE_WORDS).0,
            Some(_) => first_words(line, SIGNATURE_WORDS),
            None => " ".to_string(),
        };
        SignatureText {
            title: clean.to_string(),
            folded_title,
            body,
        }
    }
}

/// Whether sanitized HTML holds a caption or a line outlets add (see [`BOILERPLATE_STARTS`]).
fn has_added_lines(html: &str) -> bool {
    html.contains("<figcaption") || blocks(html).any(is_boilerplate)
}

/// Fewer words than this make a title too common to find a story by ("Video", "Tin tức").
const TITLE_KEY_WORDS: usize = 3;

/// What stories with the same folded title (see [`clean_title`]) share, when the title says
/// enough to find a story by it.
pub fn title_key(folded_title: &str) -> Option<u64> {
    line_words(folded_title).nth(TITLE_KEY_WORDS - 1)?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    folded_title.trim().hash(&mut hasher);
    Some(hasher.finish())
}

/// Fewer words of text than this make a story short: its text is a lead, not a story, and it is
/// matched by title and lead (see [`super::decide`]).
pub const SHORT_WORDS: usize = 45;

impl StoryText {
    pub fn of(title: &str, summary_html: Option<&str>, content_html: Option<&str>) -> StoryText {
        let title = clean_title(title).to_string();
        let folded_title = folded_line(&title);
        let summary = summary_html.map(|h| story_words(h, LEAD_WORDS));
        let content = content_html.map(|h| story_words(h, LEAD_WORDS));
        let text = content
            .as_ref()
            .filter(|(_, n)| *n > 0)
            .or(summary.as_ref());
        let (body, body_words) = match text {
            Some((words, n)) => (
                first_words(words, SIGNATURE_WORDS),
                (*n).min(SIGNATURE_WORDS + 1),
            ),
            None => (" ".to_string(), 0),
        };
        let mut lead = String::from(" ");
        for (words, _) in [&summary, &content].into_iter().flatten() {
            lead.push_str(words.trim_start());
        }
        StoryText {
            title,
            folded_title,
            body,
            body_words,
            lead,
        }
    }

    pub fn is_short(&self) -> bool {
        self.body_words < SHORT_WORDS
    }
}

/// The title without the labels outlets add before or after it. A title that is nothing but a
/// label is kept whole.
pub fn clean_title(title: &str) -> &str {
    let mut t = title.trim();
    // Twice: "[Video] NÓNG: …", "… (ảnh) - Outlet".
    for _ in 0..2 {
        t = strip_leading_tag(t);
        t = strip_leading_prefix(t);
        t = strip_trailing_tag(t);
        t = strip_trailing_outlet(t);
    }
    if t.is_empty() { title.trim() } else { t }
}

fn folded_is(text: &str, table: &[&str]) -> bool {
    let folded = folded_line(text);
    let folded = folded.trim();
    table.contains(&folded)
}

fn strip_leading_tag(t: &str) -> &str {
    let Some(close) = (match t.chars().next() {
        Some('[') => t.find(']'),
        Some('(') => t.find(')'),
        _ => None,
    }) else {
        return t;
    };
    if folded_is(&t[1..close], TITLE_TAGS) {
        t[close + 1..].trim_start_matches([' ', ':', '-', '|', '–', '—'])
    } else {
        t
    }
}

fn strip_leading_prefix(t: &str) -> &str {
    // A label is a few words before the first colon.
    let Some(colon) = t.find(':') else {
        return t;
    };
    let label = &t[..colon];
    if label.split_whitespace().count() <= 3 && folded_is(label, TITLE_PREFIXES) {
        t[colon + 1..].trim_start()
    } else {
        t
    }
}

fn strip_trailing_tag(t: &str) -> &str {
    let open = match t.chars().last() {
        Some(']') => t.rfind('['),
        Some(')') => t.rfind('('),
        _ => None,
    };
    match open {
        Some(open) if folded_is(&t[open + 1..t.len() - 1], TITLE_TAGS) => t[..open].trim_end(),
        _ => t,
    }
}

/// "… - VnExpress", "… | Kompas.com": a short last segment after a dash or bar that looks like an
/// outlet's name (every word capitalised, or a domain) and is not a place.
fn strip_trailing_outlet(t: &str) -> &str {
    let Some((at, sep)) = [" | ", " - ", " – ", " — "]
        .iter()
        .filter_map(|sep| t.rfind(sep).map(|at| (at, *sep)))
        .max_by_key(|(at, _)| *at)
    else {
        return t;
    };
    let head = t[..at].trim_end();
    let tail = t[at + sep.len()..].trim();
    let words: Vec<&str> = tail.split_whitespace().collect();
    let outlet_like = !words.is_empty()
        && words.len() <= 4
        && (tail.contains('.')
            || words
                .iter()
                .all(|w| w.chars().next().is_some_and(char::is_uppercase)));
    let head_words = head.split_whitespace().count();
    if outlet_like && head_words >= 3 && (sep == " | " || !super::names::is_place(tail)) {
        head
    } else {
        t
    }
}

/// The words of a story's HTML without the lines outlets add, folded, up to `max` words, and how
/// many words there were in all (counted up to `max`).
fn story_words(html: &str, max: usize) -> (String, usize) {
    let mut line = String::with_capacity(max * 8);
    line.push(' ');
    let mut count = 0;
    for block in blocks(html) {
        if is_boilerplate(block) {
            continue;
        }
        let before = line.len();
        push_folded_html(&mut line, block);
        if !line.ends_with(' ') {
            line.push(' ');
        }
        count += line[before..].split(' ').filter(|w| !w.is_empty()).count();
        if count >= max {
            // Cut back to `max` words.
            let mut words = 0;
            let cut = line
                .char_indices()
                .filter(|(_, c)| *c == ' ')
                .find(|_| {
                    words += 1;
                    words == max + 1
                })
                .map_or(line.len(), |(i, _)| i + 1);
            line.truncate(cut);
            return (line, max);
        }
    }
    (line, count)
}

fn first_words(line: &str, n: usize) -> String {
    let mut out = String::from(" ");
    for word in line_words(line).take(n) {
        out.push_str(word);
        out.push(' ');
    }
    out
}

/// Tags that end a line of text.
const BLOCK_TAGS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "table",
    "tr",
    "td",
    "th",
    "section",
    "article",
    "header",
    "footer",
    "hr",
    "pre",
    "dl",
    "dt",
    "dd",
];

/// The HTML of each line of text (between block tags), captions (`<figcaption>`) left out.
fn blocks(html: &str) -> Blocks<'_> {
    Blocks {
        html,
        pos: 0,
        start: 0,
        caption: 0,
        done: false,
    }
}

struct Blocks<'a> {
    html: &'a str,
    /// Where the search for the next tag goes on.
    pos: usize,
    /// Where the current line began.
    start: usize,
    /// `<figcaption>`s open.
    caption: usize,
    done: bool,
}

impl<'a> Iterator for Blocks<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        while !self.done {
            let html = self.html;
            let Some(open) = html[self.pos..].find('<').map(|o| self.pos + o) else {
                self.done = true;
                let block = &html[self.start..];
                return (self.caption == 0 && !block.trim().is_empty()).then_some(block);
            };
            let (tag, close) = match html[open..].find('>') {
                Some(c) => (&html[open + 1..open + c], open + c + 1),
                None => (&html[open + 1..], html.len()),
            };
            self.pos = close;
            let closing = tag.starts_with('/');
            let name = tag
                .trim_start_matches('/')
                .split(|c: char| !c.is_ascii_alphanumeric())
                .next()
                .unwrap_or("");
            let caption = name.eq_ignore_ascii_case("figcaption");
            if !caption && !BLOCK_TAGS.iter().any(|t| t.eq_ignore_ascii_case(name)) {
                continue;
            }
            let block = &html[self.start..open];
            let in_caption = self.caption > 0;
            if caption {
                if closing {
                    self.caption = self.caption.saturating_sub(1);
                } else {
                    self.caption += 1;
                }
            }
            self.start = close;
            if !in_caption && !block.trim().is_empty() {
                return Some(block);
            }
        }
        None
    }
}

/// Longer lines of HTML are text, not a caption or a "read also" line.
const MAX_BOILERPLATE_BYTES: usize = 400;

/// Whether a line of HTML is one outlets add (see [`BOILERPLATE_STARTS`]).
fn is_boilerplate(block: &str) -> bool {
    // Added lines are short; a paragraph of a story is not one.
    if block.len() > MAX_BOILERPLATE_BYTES {
        return false;
    }
    // The first characters of its text, lowercased, tags and the sanitizer's escapes left out.
    let mut text = String::new();
    let mut in_tag = false;
    for c in block.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if in_tag => {}
            _ => text.extend(c.to_lowercase()),
        }
        if text.len() > 64 {
            break;
        }
    }
    let text = text
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .replace("&gt;", ">")
        .replace("&lt;", "<")
        .replace('\u{a0}', " ");
    let text = text.trim_start_matches([' ', '(', '[', '*', '-', '–', '—', '>', '\n', '\t']);
    BOILERPLATE_STARTS
        .iter()
        .any(|start| text.starts_with(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlet_labels_leave_titles() {
        for (title, clean) in [
            ("NÓNG: Cháy lớn ở Long An", "Cháy lớn ở Long An"),
            ("[Video] Cháy lớn ở Long An", "Cháy lớn ở Long An"),
            ("Cháy lớn ở Long An (ảnh)", "Cháy lớn ở Long An"),
            ("Cháy lớn ở Long An - VnExpress", "Cháy lớn ở Long An"),
            ("Banjir rendam Bekasi | Kompas.com", "Banjir rendam Bekasi"),
            (
                "VIDEO: Banjir rendam Bekasi - Detik.com",
                "Banjir rendam Bekasi",
            ),
            (
                "[Ảnh] NÓNG: Cháy lớn ở Long An (video)",
                "Cháy lớn ở Long An",
            ),
            // Hard negatives: not labels.
            ("Nóng bức kéo dài ở Hà Nội", "Nóng bức kéo dài ở Hà Nội"),
            (
                "Cao tốc Hà Nội - Hải Phòng thông xe",
                "Cao tốc Hà Nội - Hải Phòng thông xe",
            ),
            (
                "Khánh thành cao tốc nối Hà Nội - Hải Phòng",
                "Khánh thành cao tốc nối Hà Nội - Hải Phòng",
            ),
            ("Giá vàng hôm nay: tăng mạnh", "Giá vàng hôm nay: tăng mạnh"),
            ("Trận đấu 2 - 1", "Trận đấu 2 - 1"),
            ("Video", "Video"),
            ("(Hà Nội) Mưa lớn", "(Hà Nội) Mưa lớn"),
        ] {
            assert_eq!(clean_title(title), clean, "{title}");
        }
    }

    #[test]
    fn added_lines_leave_the_text() {
        let story = "<p>Chiều 18/11, một vụ cháy lớn xảy ra tại xưởng gỗ ở huyện Đức Hòa.</p>\
            <figure><img src=\"a.jpg\"><figcaption>Hiện trường vụ cháy</figcaption></figure>\
            <p><em>Ảnh: Hoàng Nam</em></p>\
            <p>Lực lượng chữa cháy đã có mặt kịp thời.</p>\
            <p>Mời quý độc giả xem thêm video tại đây</p>\
            <p><strong>Baca juga:</strong> <a href=\"x\">Berita lain</a></p>\
            <p>Anh Nguyễn Văn A cho biết ngọn lửa bùng lên rất nhanh.</p>";
        let (words, n) = story_words(story, 100);
        assert_eq!(
            words,
            " chieu 18 11 mot vu chay lon xay ra tai xuong go o huyen duc hoa luc luong chua chay \
             da co mat kip thoi anh nguyen van a cho biet ngon lua bung len rat nhanh "
        );
        assert_eq!(n, 37);
        // A line that only begins like a credit word is kept ("Anh" without a colon).
        assert!(!is_boilerplate("<p>Anh Nguyễn Văn A cho biết</p>"));
        assert!(is_boilerplate("<p>(Ảnh: TTXVN)</p>"));
        assert!(
            is_boilerplate("<p>&gt;&gt; Xem thêm: tin khác</p>")
                || is_boilerplate("<p>Xem thêm: tin khác</p>")
        );
    }

    #[test]
    fn story_text_keeps_the_start_of_summary_and_content() {
        let text = StoryText::of(
            "NÓNG: Cháy xưởng gỗ ở Long An",
            Some("<p>Một xưởng gỗ bốc cháy dữ dội.</p>"),
            Some("<p>Ảnh: X</p><p>Chiều nay một xưởng gỗ ở Long An bốc cháy.</p>"),
        );
        assert_eq!(text.title, "Cháy xưởng gỗ ở Long An");
        assert_eq!(text.folded_title, " chay xuong go o long an ");
        assert_eq!(text.body, " chieu nay mot xuong go o long an boc chay ");
        assert_eq!(text.body_words, 10);
        assert!(text.is_short());
        assert_eq!(
            text.lead,
            " mot xuong go boc chay du doi chieu nay mot xuong go o long an boc chay "
        );
        let none = StoryText::of("Tiêu đề", None, None);
        assert_eq!((none.body.as_str(), none.body_words), (" ", 0));
    }

    #[test]
    fn the_signature_text_from_folded_fields_is_the_same() {
        let long = "<p>Một hai ba bốn năm sáu bảy tám chín mười.</p>".repeat(12);
        let cases: Vec<(&str, Option<String>, Option<String>)> = vec![
            (
                "Tiêu đề thường",
                Some("<p>Tóm tắt.</p>".into()),
                Some(long.clone()),
            ),
            ("NÓNG: Có nhãn", None, Some(format!("<p>Ảnh: X</p>{long}"))),
            (
                "Chú thích",
                None,
                Some(format!(
                    "<figure><figcaption>Hình</figcaption></figure>{long}"
                )),
            ),
            (
                "Chỉ tóm tắt - VnExpress",
                Some("<p>Chỉ có tóm tắt ở đây.</p>".into()),
                None,
            ),
            (
                "Nội dung rỗng",
                Some("<p>Tóm tắt thay thế.</p>".into()),
                Some("<p></p>".into()),
            ),
            ("Không gì cả", None, None),
            ("  Khoảng trắng  ", None, Some("<p>a &amp; b</p>".into())),
        ];
        for (title, summary, content) in cases {
            let folded =
                crate::text::FoldedFields::new(title, summary.as_deref(), content.as_deref());
            let story = StoryText::of(title, summary.as_deref(), content.as_deref());
            assert_eq!(
                SignatureText::from_folded(title, &folded, summary.as_deref(), content.as_deref()),
                SignatureText {
                    title: story.title,
                    folded_title: story.folded_title,
                    body: story.body,
                },
                "{title}"
            );
        }
    }
}
