//! Bytes → UTF-8 text, the way a careful reader guesses: a byte-order mark first, then valid
//! UTF-8 (whatever the document claims: a wrong declaration is common, a Latin-1 document that is
//! also valid UTF-8 is not), then the HTTP `charset`, then the XML prolog's `encoding`, and
//! windows-1252 for undeclared high bytes. The text is normalized to NFC (windows-1258, used for
//! Vietnamese, writes tone marks as combining characters), and the prolog is rewritten to say
//! UTF-8 so that the XML parser reads it as what it now is.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, WINDOWS_1252};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

/// The decoded document and the name of the encoding it was read as.
pub struct Decoded {
    pub text: String,
    pub encoding: &'static str,
}

pub fn decode(body: &[u8], http_charset: Option<&str>) -> Decoded {
    let (text, encoding): (Cow<'_, str>, &'static str) = match sniff_unicode(body) {
        Some(Unicode::Utf8Bom) => (String::from_utf8_lossy(&body[3..]), "UTF-8"),
        Some(Unicode::Utf16(enc, skip)) => {
            (enc.decode_without_bom_handling(&body[skip..]).0, enc.name())
        }
        Some(Unicode::Utf32 { big_endian, skip }) => (
            Cow::Owned(utf32(&body[skip..], big_endian)),
            if big_endian { "UTF-32BE" } else { "UTF-32LE" },
        ),
        None => match std::str::from_utf8(body) {
            Ok(text) => (Cow::Borrowed(text), "UTF-8"),
            Err(_) => {
                let declared = http_charset
                    .and_then(|c| Encoding::for_label(c.trim().as_bytes()))
                    .or_else(|| {
                        prolog_encoding(body).and_then(|e| Encoding::for_label(e.as_bytes()))
                    })
                    .filter(|e| *e != encoding_rs::UTF_8 && *e != UTF_16LE && *e != UTF_16BE);
                let encoding = declared.unwrap_or(WINDOWS_1252);
                (
                    encoding.decode_without_bom_handling(body).0,
                    encoding.name(),
                )
            }
        },
    };
    let text = match is_nfc_quick(text.chars()) {
        IsNormalized::Yes => text.into_owned(),
        _ => text.nfc().collect(),
    };
    Decoded {
        text: declare_utf8(text),
        encoding,
    }
}

enum Unicode {
    Utf8Bom,
    Utf16(&'static Encoding, usize),
    Utf32 { big_endian: bool, skip: usize },
}

/// Byte-order marks, and the byte patterns of `<` in UTF-16/32 without one (XML 1.0 appendix F).
fn sniff_unicode(body: &[u8]) -> Option<Unicode> {
    match body {
        [0xEF, 0xBB, 0xBF, ..] => Some(Unicode::Utf8Bom),
        [0x00, 0x00, 0xFE, 0xFF, ..] => Some(Unicode::Utf32 {
            big_endian: true,
            skip: 4,
        }),
        [0xFF, 0xFE, 0x00, 0x00, ..] => Some(Unicode::Utf32 {
            big_endian: false,
            skip: 4,
        }),
        [0xFE, 0xFF, ..] => Some(Unicode::Utf16(UTF_16BE, 2)),
        [0xFF, 0xFE, ..] => Some(Unicode::Utf16(UTF_16LE, 2)),
        [0x00, 0x00, 0x00, b'<', ..] => Some(Unicode::Utf32 {
            big_endian: true,
            skip: 0,
        }),
        [b'<', 0x00, 0x00, 0x00, ..] => Some(Unicode::Utf32 {
            big_endian: false,
            skip: 0,
        }),
        [0x00, b'<', 0x00, ..] => Some(Unicode::Utf16(UTF_16BE, 0)),
        [b'<', 0x00, _, 0x00, ..] => Some(Unicode::Utf16(UTF_16LE, 0)),
        _ => None,
    }
}

/// encoding_rs has no UTF-32 (no web content uses it); feeds occasionally do.
fn utf32(bytes: &[u8], big_endian: bool) -> String {
    bytes
        .chunks_exact(4)
        .map(|c| {
            let word = [c[0], c[1], c[2], c[3]];
            let value = if big_endian {
                u32::from_be_bytes(word)
            } else {
                u32::from_le_bytes(word)
            };
            char::from_u32(value).unwrap_or(char::REPLACEMENT_CHARACTER)
        })
        .collect()
}

/// The `encoding` of an `<?xml …?>` declaration at the start of the document.
fn prolog_encoding(body: &[u8]) -> Option<String> {
    let head = &body[..body.len().min(512)];
    let start = head.windows(5).position(|w| w == b"<?xml")?;
    let end = head[start..].windows(2).position(|w| w == b"?>")? + start;
    let decl = std::str::from_utf8(&head[start..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    rest[1..].split(quote).next().map(str::to_string)
}

/// Rewrites the declaration's `encoding` to UTF-8 (or leaves a document without one alone).
fn declare_utf8(text: String) -> String {
    let Some(start) = text.find("<?xml") else {
        return text;
    };
    if start > 64 {
        return text;
    }
    let Some(end) = text[start..].find("?>").map(|e| e + start) else {
        return text;
    };
    let decl = &text[start..end];
    let Some(at) = decl.find("encoding") else {
        return text;
    };
    let after_name = &decl[at + "encoding".len()..];
    let Some(eq) = after_name.find('=') else {
        return text;
    };
    let value_region = &after_name[eq + 1..];
    let trimmed = value_region.trim_start();
    let Some(quote) = trimmed.chars().next().filter(|c| *c == '"' || *c == '\'') else {
        return text;
    };
    let Some(len) = trimmed[1..].find(quote) else {
        return text;
    };
    let value_start =
        start + at + "encoding".len() + eq + 1 + (value_region.len() - trimmed.len()) + 1;
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..value_start]);
    out.push_str("UTF-8");
    out.push_str(&text[value_start + len..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(body: &[u8], charset: Option<&str>) -> (String, &'static str) {
        let d = decode(body, charset);
        (d.text, d.encoding)
    }

    #[test]
    fn declared_legacy_encodings_are_honoured() {
        let mut doc = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><t>Caf".to_vec();
        doc.push(0xE9);
        doc.extend_from_slice(b"</t>");
        assert_eq!(
            decoded(&doc, None),
            (
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><t>Café</t>".into(),
                "windows-1252"
            )
        );

        let (text, enc) = decoded(
            &[b'<', b't', b'>', 0xC1, 0xC2, b'<', b'/', b't', b'>'],
            Some("koi8-r"),
        );
        assert_eq!((text.as_str(), enc), ("<t>аб</t>", "KOI8-R"));

        let gb = encoding_rs::GBK.encode("<t>新闻</t>").0.into_owned();
        let mut doc = b"<?xml version='1.0' encoding='gb2312'?>".to_vec();
        doc.extend_from_slice(&gb);
        assert_eq!(
            decoded(&doc, None).0,
            "<?xml version='1.0' encoding='UTF-8'?><t>新闻</t>"
        );

        let sjis = encoding_rs::SHIFT_JIS
            .encode("<t>ニュース</t>")
            .0
            .into_owned();
        assert_eq!(decoded(&sjis, Some("Shift_JIS")).0, "<t>ニュース</t>");
        let big5 = encoding_rs::BIG5.encode("<t>新聞</t>").0.into_owned();
        assert_eq!(decoded(&big5, Some("big5")).0, "<t>新聞</t>");
        let kr = encoding_rs::EUC_KR.encode("<t>뉴스</t>").0.into_owned();
        assert_eq!(decoded(&kr, Some("euc-kr")).0, "<t>뉴스</t>");
        let w1251 = encoding_rs::WINDOWS_1251
            .encode("<t>Новости</t>")
            .0
            .into_owned();
        assert_eq!(decoded(&w1251, Some("windows-1251")).0, "<t>Новости</t>");
    }

    #[test]
    fn vietnamese_windows_1258_becomes_nfc() {
        // "Việt" in windows-1258: 'ê' (0xEA) followed by the combining dot below (0xF2).
        let doc = b"<t>Vi\xEA\xF2t Nam</t>";
        let (text, enc) = decoded(doc, Some("windows-1258"));
        assert_eq!(enc, "windows-1258");
        assert_eq!(text, "<t>Vi\u{1EC7}t Nam</t>", "precomposed after NFC");
    }

    #[test]
    fn valid_utf8_wins_over_a_wrong_declaration() {
        let doc = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><t>Hà Nội</t>".as_bytes();
        assert_eq!(
            decoded(doc, Some("iso-8859-1")),
            (
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><t>Hà Nội</t>".into(),
                "UTF-8"
            )
        );
    }

    #[test]
    fn undeclared_high_bytes_are_windows_1252() {
        let doc = [b'<', b't', b'>', 0x93, b'q', 0x94, b'<', b'/', b't', b'>'];
        assert_eq!(
            decoded(&doc, None),
            ("<t>\u{201C}q\u{201D}</t>".into(), "windows-1252")
        );
        // A document that claims UTF-8 but is not: the same fallback.
        let mut doc = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><t>".to_vec();
        doc.push(0xE9);
        doc.extend_from_slice(b"</t>");
        assert!(decoded(&doc, None).0.ends_with("<t>é</t>"));
    }

    #[test]
    fn byte_order_marks_and_unicode_forms() {
        let mut utf8 = vec![0xEF, 0xBB, 0xBF];
        utf8.extend_from_slice("<t>ồ</t>".as_bytes());
        assert_eq!(decoded(&utf8, Some("latin1")).0, "<t>ồ</t>");
        let utf16le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("<t>ồ</t>".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(decoded(&utf16le, None), ("<t>ồ</t>".into(), "UTF-16LE"));
        let utf16be: Vec<u8> = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><t>ồ</t>"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        assert_eq!(
            decoded(&utf16be, None).0,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><t>ồ</t>"
        );
        let utf32le: Vec<u8> = [0xFF, 0xFE, 0, 0]
            .into_iter()
            .chain("<t>ồ</t>".chars().flat_map(|c| (c as u32).to_le_bytes()))
            .collect();
        assert_eq!(decoded(&utf32le, None), ("<t>ồ</t>".into(), "UTF-32LE"));
        let utf32be: Vec<u8> = "<t>ồ</t>"
            .chars()
            .flat_map(|c| (c as u32).to_be_bytes())
            .collect();
        assert_eq!(decoded(&utf32be, None), ("<t>ồ</t>".into(), "UTF-32BE"));
    }
}
