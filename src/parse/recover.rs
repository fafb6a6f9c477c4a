//! Repairs for the XML mistakes publishers make most, applied when a document does not parse as
//! it is: text before the first tag, characters XML forbids, a bare `&`, and HTML named entities
//! (`&nbsp;`, `&eacute;`) that XML does not define. CDATA sections and comments are left alone.

/// The repaired document, or `None` when there was nothing to repair.
pub fn repair_xml(text: &str) -> Option<String> {
    let characters = repair_characters(text);
    let source = characters.as_deref().unwrap_or(text);
    match drop_empty_elements(source) {
        Some(dropped) => Some(dropped),
        None => characters,
    }
}

/// Removes elements without attributes whose content is empty (`<media:title></media:title>`,
/// `<dc:creator><![CDATA[]]></dc:creator>`): they say nothing, and feed-rs rejects a document
/// for an empty element where it expects text.
fn drop_empty_elements(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(at) = rest.find('<') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(section) = verbatim(rest) {
            out.push_str(&rest[..section]);
            rest = &rest[section..];
            continue;
        }
        let name_len = rest[1..]
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, ':' | '_' | '-' | '.')))
            .unwrap_or(rest.len() - 1);
        let name = &rest[1..1 + name_len];
        if !name.is_empty() && rest[1 + name_len..].starts_with('>') {
            let mut inner = rest[2 + name_len..].trim_start();
            if let Some(after) = inner.strip_prefix("<![CDATA[]]>") {
                inner = after.trim_start();
            }
            let close = format!("</{name}>");
            if let Some(after) = inner.strip_prefix(close.as_str()) {
                rest = after;
                changed = true;
                continue;
            }
        }
        out.push('<');
        rest = &rest[1..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

fn repair_characters(text: &str) -> Option<String> {
    let start = text.find('<').unwrap_or(0);
    let body = &text[start..];
    let mut out = String::with_capacity(body.len() + 64);
    let mut changed = start > 0;
    let mut rest = body;
    while !rest.is_empty() {
        // Copy CDATA sections and comments verbatim.
        if let Some(section) = verbatim(rest) {
            out.push_str(&rest[..section]);
            rest = &rest[section..];
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        if c == '&' {
            let (replacement, consumed) = entity(rest);
            if replacement
                .as_deref()
                .is_some_and(|r| r != &rest[..consumed])
            {
                changed = true;
            }
            match replacement {
                Some(r) => out.push_str(&r),
                None => out.push_str(&rest[..consumed]),
            }
            rest = &rest[consumed..];
            continue;
        }
        if is_xml_char(c) {
            out.push(c);
        } else {
            changed = true;
        }
        rest = &rest[c.len_utf8()..];
    }
    changed.then_some(out)
}

/// Length of a CDATA section or comment at the start of `text`, through its end.
fn verbatim(text: &str) -> Option<usize> {
    let (open, close) = if text.starts_with("<![CDATA[") {
        ("<![CDATA[", "]]>")
    } else if text.starts_with("<!--") {
        ("<!--", "-->")
    } else {
        return None;
    };
    Some(
        text[open.len()..]
            .find(close)
            .map_or(text.len(), |end| open.len() + end + close.len()),
    )
}

/// What to write for the `&` at the start of `text`, and how many bytes it stood for.
fn entity(text: &str) -> (Option<String>, usize) {
    let candidate: String = text[1..]
        .chars()
        .take(40)
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '#')
        .collect();
    let after = 1 + candidate.len();
    if !text[after..].starts_with(';') {
        return (Some("&amp;".into()), 1);
    }
    let whole = after + 1;
    if let Some(number) = candidate.strip_prefix('#') {
        let value = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => number.parse().ok(),
        };
        return match value.and_then(char::from_u32).filter(|c| is_xml_char(*c)) {
            Some(_) => (None, whole),
            None => (Some(String::new()), whole), // a reference to a forbidden character
        };
    }
    if matches!(candidate.as_str(), "amp" | "lt" | "gt" | "quot" | "apos") {
        return (None, whole);
    }
    match markup5ever::data::NAMED_ENTITIES.get(format!("{candidate};").as_str()) {
        Some(&(first, second)) => {
            let mut r = format!("&#{first};");
            if second != 0 {
                r.push_str(&format!("&#{second};"));
            }
            (Some(r), whole)
        }
        None => (Some("&amp;".into()), 1),
    }
}

/// XML 1.0 §2.2 `Char`.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Line and column (1-based, in characters) of the first well-formedness error quick-xml finds.
pub fn locate_error(text: &str) -> Option<(usize, usize, String)> {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => return None,
            Ok(_) => {}
            Err(e) => {
                let at = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
                let (line, column) = crate::text::line_column(text, at);
                return Some((line, column, e.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_text_and_forbidden_characters_go() {
        assert_eq!(
            repair_xml("\n\n  <?xml version=\"1.0\"?><t>a\u{1}b\u{B}c</t>").as_deref(),
            Some("<?xml version=\"1.0\"?><t>abc</t>")
        );
        assert_eq!(
            repair_xml("<t>fine &amp; &#233; &#x1F600;</t>"),
            None,
            "nothing to repair"
        );
    }

    #[test]
    fn bare_ampersands_and_html_entities_are_fixed() {
        assert_eq!(
            repair_xml("<t>Tom & Jerry &nbsp;caf&eacute; &copy; &bogus; &lt;</t>").as_deref(),
            Some("<t>Tom &amp; Jerry &#160;caf&#233; &#169; &amp;bogus; &lt;</t>")
        );
        assert_eq!(
            repair_characters("<r><t>&#1;</t></r>").as_deref(),
            Some("<r><t></t></r>")
        );
    }

    #[test]
    fn cdata_and_comments_are_untouched() {
        let doc = "<t><![CDATA[a & b &nbsp;]]><!-- x & y --> & </t>";
        assert_eq!(
            repair_xml(doc).as_deref(),
            Some("<t><![CDATA[a & b &nbsp;]]><!-- x & y --> &amp; </t>")
        );
    }

    #[test]
    fn empty_elements_without_attributes_are_dropped() {
        let doc = "<item><media:title><![CDATA[]]></media:title><title>T</title><x> </x><link href=\"a\"></link></item>";
        assert_eq!(
            repair_xml(doc).as_deref(),
            Some("<item><title>T</title><link href=\"a\"></link></item>")
        );
    }

    #[test]
    fn errors_are_located() {
        let (line, column, _) = locate_error("<a>\n  <b></c>\n</a>").expect("an error");
        assert_eq!((line, column), (2, 6));
        assert!(locate_error("<a><b/></a>").is_none());
    }
}
