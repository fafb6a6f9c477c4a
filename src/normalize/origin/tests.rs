use super::*;

fn base() -> Url {
    Url::parse("https://portal.example.id/rss").expect("static URL")
}

const OWN: &str = "https://portal.example.id/berita/2024/terjemahan-banjir";

/// The origin of an entry with this sanitized content and no source element.
fn of(content: &str) -> Option<Origin> {
    find_origin(
        &Entry::default(),
        &base(),
        Some(OWN),
        None,
        Some(content),
        &[],
    )
}

fn with_link(link: &str, canonical: &str, credit: Option<&str>) -> Option<Origin> {
    Some(Origin {
        link: Some(link.into()),
        canonical_url: Some(canonical.into()),
        credit: credit.map(String::from),
        found_by: OriginRule::CreditLink,
    })
}

fn by_name(credit: &str) -> Option<Origin> {
    Some(Origin {
        link: None,
        canonical_url: None,
        credit: Some(credit.into()),
        found_by: OriginRule::CreditName,
    })
}

const STORY: &str = "<p>Hujan deras sejak pagi membuat sungai meluap dan merendam ratusan rumah warga di tepi kota.</p>";
const DANTRI: &str = "https://dantri.com.vn/xa-hoi/mua-lon-ngap-nang-20240312.htm";

#[test]
fn credit_link_is_found_in_every_language() {
    let cases = [
        // Vietnamese
        format!(
            r#"{STORY}<p>Nguồn: <a href="{DANTRI}" rel="noopener noreferrer nofollow">Dân trí</a></p>"#
        ),
        format!(r#"{STORY}<p><em>Bài gốc: <a href="{DANTRI}">đọc tại đây</a></em></p>"#),
        // Indonesian
        format!(r#"{STORY}<p><strong>Sumber:</strong> <a href="{DANTRI}">dantri.com.vn</a></p>"#),
        format!(r#"{STORY}<p>Diterjemahkan dari <a href="{DANTRI}">Dân trí</a>.</p>"#),
        format!(r#"{STORY}<p>Dikutip dari <a href="{DANTRI}">Dân trí</a></p>"#),
        format!(
            r#"{STORY}<p>Baca artikel <a href="{DANTRI}">Mưa lớn gây ngập nặng</a> di Dân trí</p>"#
        ),
        // Malay
        format!(r#"{STORY}<p>Dipetik daripada <a href="{DANTRI}">Dân trí</a></p>"#),
        format!(r#"{STORY}<div>Diterjemah daripada <a href="{DANTRI}">laporan asal</a></div>"#),
        // English
        format!(r#"{STORY}<p>Source: <a href="{DANTRI}">Dan Tri</a></p>"#),
        format!(r#"{STORY}<p>Via <a href="{DANTRI}">Dan Tri</a></p>"#),
        format!(r#"{STORY}<p>Originally published at <a href="{DANTRI}">dantri.com.vn</a>.</p>"#),
        format!(r#"{STORY}<p>Read more at <a href="{DANTRI}">Dân trí</a></p>"#),
        // A credit pasted as text, without markup.
        format!(r#"{STORY}<p>Sumber: {DANTRI}</p>"#),
    ];
    for html in &cases {
        assert_eq!(
            of(html),
            with_link(DANTRI, DANTRI, Some("Dân trí")),
            "in {html}"
        );
    }
}

#[test]
fn credit_link_from_an_unknown_outlet_credits_its_link_text() {
    let html = format!(
        r#"{STORY}<p>Source: <a href="https://daily.example.org/2024/03/floods">Example Daily</a></p>"#
    );
    assert_eq!(
        of(&html),
        with_link(
            "https://daily.example.org/2024/03/floods",
            "https://daily.example.org/2024/03/floods",
            Some("Example Daily")
        )
    );
}

#[test]
fn credit_name_without_link_needs_a_known_outlet() {
    for (line, outlet) in [
        ("<p>Theo VnExpress</p>", "VnExpress"),
        ("<p>Nguồn: Báo Dân trí</p>", "Dân trí"),
        ("<p><em>(Theo TTXVN)</em></p>", "TTXVN"),
        ("<p>Sumber: Kompas.com</p>", "Kompas"),
        ("<p>Sumber: Antara</p>", "Antara"),
        ("<p>Petikan: Bernama</p>", "Bernama"),
        ("<p>Source: Reuters</p>", "Reuters"),
        ("<p>NGUỒN: TUỔI TRẺ</p>", "Tuổi Trẻ"),
        ("<p>Theo Người Lao Động</p>", "Người Lao Động"),
    ] {
        assert_eq!(of(&format!("{STORY}{line}")), by_name(outlet), "in {line}");
    }
    // An outlet nobody listed is not recorded by name.
    assert_eq!(of(&format!("{STORY}<p>Sumber: Humas Pemkot</p>")), None);
}

#[test]
fn credit_name_in_trailing_brackets() {
    let html = "<p>Mưa lớn kéo dài từ sáng khiến nhiều tuyến phố ngập sâu, giao thông ùn tắc (Dân trí)</p>";
    assert_eq!(of(html), by_name("Dân trí"));
    let wire = "<p>Mưa lớn kéo dài từ sáng.</p><p>Minh Anh (TTXVN)</p>";
    assert_eq!(of(wire), by_name("TTXVN"));
    // Brackets that name no outlet, or that are not at the very end, are not a credit.
    assert_eq!(of("<p>Mưa lớn (ảnh minh họa)</p>"), None);
    assert_eq!(
        of("<p>Theo lời kể (Dân trí) của người dân, nước lên nhanh.</p>"),
        None
    );
}

#[test]
fn theo_in_an_ordinary_sentence_is_no_credit() {
    for line in [
        "<p>Theo quy định của Bộ Tài chính, mức thuế mới áp dụng từ tháng sau.</p>",
        "<p>Theo quy định của Bộ</p>",
        "<p>Theo Bộ Lao động</p>",
        "<p>Theo VnExpress, giá xăng dầu trong nước sẽ tiếp tục tăng trong kỳ điều chỉnh tới đây.</p>",
        "<p>Nguồn tin cho biết dự án sẽ khởi công vào cuối năm nay sau khi hoàn tất thủ tục.</p>",
        "<p>Via a spokesperson, the ministry said the roads would reopen today.</p>",
        "<p>Theodore Nguyen reported from Hanoi.</p>",
    ] {
        assert_eq!(of(&format!("{STORY}{line}")), None, "in {line}");
    }
}

#[test]
fn credit_to_a_home_page_is_no_url() {
    for home in [
        "https://dantri.com.vn/",
        "https://dantri.com.vn",
        "https://www.dantri.com.vn/?utm_source=portal",
        "https://dantri.com.vn/en/",
    ] {
        let html = format!(r#"{STORY}<p>Nguồn: <a href="{home}">Dân trí</a></p>"#);
        assert_eq!(of(&html), by_name("Dân trí"), "for {home}");
    }
    // An unknown outlet's home page gives nothing at all.
    let html =
        format!(r#"{STORY}<p>Source: <a href="https://daily.example.org/">Example Daily</a></p>"#);
    assert_eq!(of(&html), None);
}

#[test]
fn credit_to_a_tag_page_is_no_url() {
    for listing in [
        "https://vnexpress.net/chu-de/mua-lu-1234",
        "https://vnexpress.net/tag/bao-so-3",
        "https://vnexpress.net/tim-kiem?q=lu",
        "https://www.kompas.com/kategori/banjir",
    ] {
        let html = format!(r#"{STORY}<p>Nguồn: <a href="{listing}">xem thêm</a></p>"#);
        let origin = of(&html).expect("names the outlet");
        assert_eq!(
            (origin.link, origin.found_by),
            (None, OriginRule::CreditName),
            "for {listing}"
        );
    }
}

#[test]
fn credit_link_to_the_entry_itself_is_none() {
    let html = format!(r#"{STORY}<p>Sumber: <a href="{OWN}?utm_source=rss">Portal</a></p>"#);
    assert_eq!(of(&html), None);
    let elsewhere_on_site = format!(
        r#"{STORY}<p>Read more at <a href="https://portal.example.id/berita/lain">Portal</a></p>"#
    );
    assert_eq!(of(&elsewhere_on_site), None);
}

#[test]
fn credit_link_tracking_params_are_stripped_from_the_canonical_url() {
    let link = "https://vnexpress.net/mua-lon-4720000.html?utm_source=facebook&utm_medium=social&fbclid=abc&id=7";
    let html = format!(
        r#"{STORY}<p>Sumber: <a href="{}">VnExpress</a></p>"#,
        link.replace('&', "&amp;")
    );
    assert_eq!(
        of(&html),
        with_link(
            link,
            "https://vnexpress.net/mua-lon-4720000.html?id=7",
            Some("VnExpress")
        )
    );
    // The operator's own parameters go too.
    let extra = find_origin(
        &Entry::default(),
        &base(),
        Some(OWN),
        None,
        Some(&format!(
            r#"{STORY}<p>Sumber: <a href="https://vnexpress.net/a-1.html?src=portal">VnExpress</a></p>"#
        )),
        &["src".to_string()],
    );
    assert_eq!(
        extra.and_then(|o| o.canonical_url).as_deref(),
        Some("https://vnexpress.net/a-1.html")
    );
}

#[test]
fn credit_link_beats_credit_name_and_element_beats_both() {
    let html =
        format!(r#"{STORY}<p>Nguồn: <a href="{DANTRI}">Dân trí</a></p><p>Minh Anh (TTXVN)</p>"#);
    assert_eq!(of(&html), with_link(DANTRI, DANTRI, Some("Dân trí")));
    let entry = Entry {
        source: Some("https://vnexpress.net/goc-1.html".into()),
        ..Entry::default()
    };
    let origin = find_origin(&entry, &base(), Some(OWN), None, Some(&html), &[]);
    assert_eq!(
        origin,
        Some(Origin {
            link: Some("https://vnexpress.net/goc-1.html".into()),
            canonical_url: Some("https://vnexpress.net/goc-1.html".into()),
            credit: Some("VnExpress".into()),
            found_by: OriginRule::Element,
        })
    );
}

#[test]
fn element_to_a_home_page_yields_to_a_credit_line() {
    let entry = Entry {
        source: Some("https://vnexpress.net/".into()),
        ..Entry::default()
    };
    let html = format!(r#"{STORY}<p>Nguồn: <a href="{DANTRI}">Dân trí</a></p>"#);
    assert_eq!(
        find_origin(&entry, &base(), Some(OWN), None, Some(&html), &[]),
        with_link(DANTRI, DANTRI, Some("Dân trí"))
    );
    // Without a credit line the element still names the outlet.
    let origin = find_origin(&entry, &base(), Some(OWN), None, Some(STORY), &[]);
    assert_eq!(
        origin,
        Some(Origin {
            link: None,
            canonical_url: None,
            credit: Some("VnExpress".into()),
            found_by: OriginRule::Element,
        })
    );
}

#[test]
fn credit_line_is_read_only_in_the_last_blocks() {
    let early = format!(r#"<p>Nguồn: <a href="{DANTRI}">Dân trí</a></p>{STORY}{STORY}{STORY}"#);
    assert_eq!(of(&early), None);
    let third_last = format!(r#"<p>Nguồn: <a href="{DANTRI}">Dân trí</a></p>{STORY}{STORY}"#);
    assert!(of(&third_last).is_some());
}

#[test]
fn credit_in_the_summary_counts_when_there_is_no_content() {
    let summary = format!(r#"<p>Ringkasan.</p><p>Sumber: <a href="{DANTRI}">Dân trí</a></p>"#);
    let origin = find_origin(
        &Entry::default(),
        &base(),
        Some(OWN),
        Some(&summary),
        None,
        &[],
    );
    assert_eq!(origin, with_link(DANTRI, DANTRI, Some("Dân trí")));
}

#[test]
fn an_outlet_does_not_credit_itself() {
    let own = "https://vnexpress.net/thoi-su/mua-lon-1.html";
    let origin = find_origin(
        &Entry::default(),
        &base(),
        Some(own),
        None,
        Some(&format!("{STORY}<p>Theo VnExpress</p>")),
        &[],
    );
    assert_eq!(origin, None);
}

#[test]
fn credit_hostile_input_costs_bounded_work() {
    // A 1 MB entry: only its tail is read, and its credit there is found.
    let mut huge = STORY.repeat(1024 * 1024 / STORY.len());
    huge.push_str(&format!(r#"<p>Sumber: <a href="{DANTRI}">Dân trí</a></p>"#));
    assert_eq!(of(&huge), with_link(DANTRI, DANTRI, Some("Dân trí")));
    // The blocks read lie within the tail.
    let blocks = last_blocks(&huge);
    assert_eq!(blocks.len(), MAX_BLOCKS);
    assert!(blocks.iter().map(|b| b.len()).sum::<usize>() <= TAIL_BYTES);

    // A credit line of 10,000 words is prose, not a credit: its start lies beyond the tail.
    let long = format!(
        r#"<p>Sumber: <a href="{DANTRI}">Dân trí</a> {}</p>"#,
        "kata ".repeat(10_000)
    );
    assert_eq!(of(&long), None);
    assert!(
        last_blocks(&long).is_empty(),
        "a block cut at its start is not read"
    );
    // Within the tail but longer than a credit line: not read either.
    let wordy = format!(
        r#"<p>Sumber: <a href="{DANTRI}">Dân trí</a> {}</p>"#,
        "kata ".repeat(300)
    );
    assert!(Line::read(last_blocks(&wordy)[0]).is_none());
    assert_eq!(of(&wordy), None);
    // Thousands of tiny blocks at the end: three are looked at.
    let tiny = "<p>x</p>".repeat(100_000);
    assert_eq!(last_blocks(&tiny).len(), MAX_BLOCKS);
    assert_eq!(of(&tiny), None);
}

#[test]
fn blocks_are_split_at_block_tags_and_line_breaks() {
    let html = "<blockquote><p>Một</p>Hai<br>Ba</blockquote><div><em>Bốn</em></div>";
    let blocks: Vec<String> = last_blocks(html)
        .iter()
        .map(|b| fold_whitespace(&strip_tags(b)))
        .collect();
    assert_eq!(blocks, ["Bốn", "Ba", "Hai"]);
}

#[test]
fn known_outlets_are_found_by_name_and_domain() {
    assert_eq!(
        outlet_named("cnn indonesia", false).map(|o| o.name),
        Some("CNN Indonesia")
    );
    assert_eq!(outlet_named("cnn", false).map(|o| o.name), Some("CNN"));
    assert_eq!(
        outlet_named("kantor berita antara", false).map(|o| o.name),
        Some("Antara")
    );
    assert_eq!(outlet_named("tempo dulu", false), None);
    let host = |u: &str| outlet_of_host(&Url::parse(u).expect("static URL")).map(|o| o.name);
    assert_eq!(host("https://e.vnexpress.net/news/x"), Some("VnExpress"));
    assert_eq!(host("https://news.detik.com/berita/d-1"), Some("Detik"));
    assert_eq!(host("https://notvnexpress.net/x"), None);
    assert_eq!(
        host("https://www.cnnindonesia.com/x"),
        Some("CNN Indonesia")
    );
}

#[test]
fn credit_check_skips_lines_that_cannot_be_credits() {
    // Neither beginning like a marker nor ending in a bracket: no text is made of the block.
    assert!(Line::read(STORY).is_none());
    assert!(Line::read("<p>Người dân đã được sơ tán.</p>").is_none());
    // Case, markup and punctuation before the marker do not hide it.
    assert!(Line::read("<p>— <strong>SUMBER</strong>: Antara</p>").is_some());
    assert!(Line::read("<p>&nbsp;(Nguồn: Dân trí)</p>").is_some());
    assert!(Line::read("<p>Ông Nam nói (Dân trí)</p>").is_some());
    assert_eq!(
        of(&format!("{STORY}<p>— <strong>SUMBER</strong>: Antara</p>")),
        by_name("Antara")
    );
}

#[test]
fn element_pointing_at_a_feed_is_no_url() {
    let origin_of = |source: &str| {
        let entry = Entry {
            source: Some(source.into()),
            ..Entry::default()
        };
        find_origin(&entry, &base(), Some(OWN), None, Some(STORY), &[])
    };
    let named = Some(Origin {
        link: None,
        canonical_url: None,
        credit: Some("VnExpress".into()),
        found_by: OriginRule::Element,
    });
    assert_eq!(
        origin_of("https://vnexpress.net/rss/tin-moi-nhat.rss"),
        named
    );
    assert_eq!(origin_of("https://vnexpress.net/feed/"), named);
    // The RSS 2.0 spec's own example: a feed of an outlet nobody listed gives nothing.
    assert_eq!(origin_of("http://www.tomalak.org/links2.xml"), None);
    assert_eq!(origin_of("https://feeds.example.org/daily"), None);
}
