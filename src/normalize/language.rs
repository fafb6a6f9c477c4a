//! An entry's language: the tag it declares, normalized, and the `lang` its content's outermost
//! element carries.
//!
//! Pure and bounded: a declared tag is checked for form only, and content is scanned for at most
//! [`MAX_LANG_SCAN_BYTES`].

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

#[cfg(test)]
mod tests;
