use super::*;

#[test]
fn declared_language_tags_are_lowercased_and_checked_for_form() {
    assert_eq!(normalized_tag("vi").as_deref(), Some("vi"));
    assert_eq!(normalized_tag(" vi-VN ").as_deref(), Some("vi-vn"));
    assert_eq!(normalized_tag("id_ID").as_deref(), Some("id-id"));
    assert_eq!(normalized_tag("zh-Hans-CN").as_deref(), Some("zh-hans-cn"));
    assert_eq!(normalized_tag("es-419").as_deref(), Some("es-419"));
    for not_a_tag in [
        "",
        "  ",
        "vi, en",
        "en/us",
        "-vi",
        "vi-",
        "4x",
        "vietnamese-language",
    ] {
        assert_eq!(normalized_tag(not_a_tag), None, "{not_a_tag:?}");
    }
}

#[test]
fn content_lang_is_read_from_the_outermost_element_only() {
    assert_eq!(
        content_lang("<!DOCTYPE html><html lang=\"vi\"><body><p>x</p></body></html>").as_deref(),
        Some("vi")
    );
    assert_eq!(
        content_lang("<?xml version=\"1.0\"?><!-- c --> <HTML LANG='id-ID'><p>x</p>").as_deref(),
        Some("id-id"),
        "an <html> element wraps everything, closed or not"
    );
    assert_eq!(
        content_lang("<div class=\"a\" xml:lang=\"ms\"><p>x</p></div>\n").as_deref(),
        Some("ms")
    );
    assert_eq!(
        content_lang("<div data-x=a lang=th><p>x</p></div>").as_deref(),
        Some("th"),
        "unquoted values"
    );
    // The first paragraph's language is not the entry's.
    assert_eq!(
        content_lang("<p lang=\"en\">Quote</p><p>Phần còn lại</p>"),
        None
    );
    // Text before the element, or a start tag past the bytes scanned.
    assert_eq!(content_lang("Intro <div lang=\"en\">x</div>"), None);
    let far = format!("<div {} lang=\"en\">x</div>", "a=\"b\" ".repeat(200));
    assert_eq!(content_lang(&far), None);
    assert_eq!(content_lang("<div lang=\"not a tag\">x</div>"), None);
    assert_eq!(content_lang(""), None);
}
