use super::*;
use std::path::Path;

fn config(text: &str) -> Config {
    Config::parse(Path::new("feeds.toml"), text).expect("valid config")
}

fn slugs(topics: &[&str]) -> Vec<TopicSlug> {
    topics
        .iter()
        .map(|t| TopicSlug::new(t).expect("slug"))
        .collect()
}

const RULES: &str = r#"
[[topic]]
slug = "security"
title = "Security"
all_sources = true
[topic.filter]
any = ["an ninh mạng", "siber", "ransomware"]
none = ["quảng cáo"]

[[topic]]
slug = "vietnam"
title = "Vietnam"

[[topic]]
slug = "cve"
title = "CVEs"
all_sources = true
[topic.filter]
regex = '(?i)\bCVE-\d{4}-\d{4,}\b'

[[topic]]
slug = "sport"
title = "Sport"
all_sources = true
[topic.filter]
categories = ["Thể thao", "Olahraga"]
languages = ["vi", "id"]

[[topic]]
slug = "columns"
title = "Columns"
all_sources = true
[topic.filter]
authors = ["Nguyễn Văn A"]

[[source]]
url = "https://vnexpress.example/rss"
topics = ["vietnam"]
"#;

fn view<'a>(title: &'a str, content: &'a str) -> EntryView<'a> {
    EntryView {
        title,
        content_html: Some(content),
        ..EntryView::default()
    }
}

fn topics_of(rules: &TopicRules, listed: &[&str], entry: &EntryView<'_>) -> Vec<String> {
    rules
        .assign(&slugs(listed), entry)
        .iter()
        .map(|t| t.to_string())
        .collect()
}

#[test]
fn vietnamese_keywords_match_with_and_without_diacritics() {
    let rules = TopicRules::new(&config(RULES));
    for title in [
        "Tấn công An ninh mạng nhằm vào ngân hàng",
        "AN NINH MẠNG: cảnh báo mới",
        "an ninh mang la gi",
    ] {
        assert_eq!(
            topics_of(&rules, &[], &view(title, "")),
            ["all", "security"],
            "{title}"
        );
    }
    // The words must be consecutive and whole.
    assert_eq!(
        topics_of(
            &rules,
            &[],
            &view("An ninh trật tự và mạng lưới giao thông", "")
        ),
        ["all"]
    );
}

#[test]
fn indonesian_keywords_match_on_word_boundaries_only() {
    let rules = TopicRules::new(&config(RULES));
    assert_eq!(
        topics_of(
            &rules,
            &[],
            &view("Serangan", "<p>Badan <b>Siber</b> dan Sandi Negara</p>")
        ),
        ["all", "security"]
    );
    assert_eq!(
        topics_of(&rules, &[], &view("Festival cybersiberia dibuka", "")),
        ["all"]
    );
    let reasons = rules
        .explain(
            "security",
            &[],
            &view("Serangan", "<p>Badan <b>Siber</b> dan Sandi Negara</p>"),
        )
        .expect("member");
    assert_eq!(
        reasons,
        [
            Reason::AllSources,
            Reason::Any {
                keyword: "siber".into(),
                field: Field::Content
            },
            Reason::NoneExcluded
        ]
    );
}

#[test]
fn none_keywords_exclude_and_categories_count_as_text() {
    let rules = TopicRules::new(&config(RULES));
    assert_eq!(
        topics_of(
            &rules,
            &[],
            &view("Ransomware mới", "<p>Bài quảng cáo của đối tác</p>")
        ),
        ["all"]
    );
    let categories = vec!["An ninh mạng".to_string()];
    let entry = EntryView {
        title: "Tin trong ngày",
        categories: &categories,
        ..EntryView::default()
    };
    assert_eq!(
        rules.explain("security", &[], &entry).expect("member")[1],
        Reason::Any {
            keyword: "an ninh mạng".into(),
            field: Field::Category
        }
    );
}

#[test]
fn listed_topics_without_filter_take_every_entry_of_their_sources() {
    let rules = TopicRules::new(&config(RULES));
    assert_eq!(
        topics_of(&rules, &["vietnam"], &view("Thời tiết", "")),
        ["all", "vietnam"]
    );
    assert_eq!(topics_of(&rules, &[], &view("Thời tiết", "")), ["all"]);
}

#[test]
fn regex_categories_languages_and_authors() {
    let rules = TopicRules::new(&config(RULES));
    assert_eq!(
        topics_of(&rules, &[], &view("Patch for cve-2026-12345 released", "")),
        ["all", "cve"]
    );
    assert_eq!(
        topics_of(&rules, &[], &view("CVE-26-1 is not an id", "")),
        ["all"]
    );

    let categories = vec!["THE THAO".to_string()];
    let sport = |language| EntryView {
        title: "Trận đấu",
        categories: &categories,
        language,
        ..EntryView::default()
    };
    assert_eq!(
        topics_of(&rules, &[], &sport(Some("vi-VN"))),
        ["all", "sport"]
    );
    assert_eq!(topics_of(&rules, &[], &sport(Some("en"))), ["all"]);
    assert_eq!(topics_of(&rules, &[], &sport(None)), ["all"]);

    let authors = vec!["nguyen van a".to_string()];
    let column = EntryView {
        title: "Góc nhìn",
        authors: &authors,
        ..EntryView::default()
    };
    assert_eq!(topics_of(&rules, &[], &column), ["all", "columns"]);
}

#[test]
fn fingerprint_follows_rules_and_source_topics() {
    let a = TopicRules::new(&config(RULES));
    assert_eq!(
        a.fingerprint(),
        TopicRules::new(&config(RULES)).fingerprint()
    );
    let b = TopicRules::new(&config(&RULES.replace("\"siber\"", "\"keamanan siber\"")));
    assert_ne!(a.fingerprint(), b.fingerprint());
    let c = TopicRules::new(&config(&RULES.replace(
        "topics = [\"vietnam\"]",
        "topics = [\"vietnam\", \"sport\"]",
    )));
    assert_ne!(a.fingerprint(), c.fingerprint());
}

#[test]
fn text_folded_by_normalize_matches_like_text_folded_here() {
    let rules = TopicRules::new(&config(RULES));
    for (title, summary, content) in [
        ("Tin nóng", "<p>Cảnh báo <b>an ninh</b> mạng</p>", ""),
        ("Serangan", "", "<p>Badan <b>Siber</b> dan Sandi Negara</p>"),
        ("Ransomware mới", "", "<p>Bài quảng cáo của đối tác</p>"),
        ("Thời tiết", "<p>Hà Nội mưa</p>", "<p>Nắng</p>"),
    ] {
        let lazy = EntryView {
            title,
            summary_html: Some(summary),
            content_html: Some(content),
            ..EntryView::default()
        };
        let folded = FoldedFields::new(title, Some(summary), Some(content));
        let made = EntryView {
            folded: Some(&folded),
            ..lazy
        };
        assert_eq!(
            topics_of(&rules, &[], &made),
            topics_of(&rules, &[], &lazy),
            "{title}"
        );
        assert_eq!(
            rules.explain("security", &[], &made),
            rules.explain("security", &[], &lazy),
            "{title}"
        );
    }
    let folded = FoldedFields::new(
        "Tin nóng",
        Some("<p>Cảnh báo <b>an ninh</b> mạng</p>"),
        None,
    );
    let entry = EntryView {
        title: "Tin nóng",
        folded: Some(&folded),
        ..EntryView::default()
    };
    assert_eq!(topics_of(&rules, &[], &entry), ["all", "security"]);
}
