//! Origins found at normalize time, on documents we wrote: Vietnamese originals (Dân trí,
//! VnExpress) and Indonesian, Malay, English and Vietnamese republications crediting them in each
//! way the issue lists. What every entry's origin should be is written down in
//! `fixtures/origins/expected.txt`, so that a change in behaviour is a visible diff.

use std::path::Path;

use tributary::model::{NewEntry, OriginRule};
use tributary::normalize::{Options, normalize, normalize_with};
use url::Url;

/// 2024-03-13, the day after the fixtures' stories.
const NOW: i64 = 1_710_288_000;

/// Each fixture with the address it is served from (`served_at.txt`).
fn fixtures() -> Vec<(&'static str, &'static str)> {
    include_str!("fixtures/origins/served_at.txt")
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once(' '))
        .collect()
}

fn fixture_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/origins")
        .join(name)
}

fn parse(name: &str, url: &str) -> (feed_rs::model::Feed, Url) {
    let body = std::fs::read(fixture_path(name)).expect("fixture exists");
    let url = Url::parse(url).expect("static URL");
    let feed = tributary::parse::parse_feed(&body, &url, None).expect("fixture parses");
    (feed, url)
}

fn entries(name: &str) -> Vec<NewEntry> {
    let url = fixtures()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, u)| u)
        .expect("a listed fixture");
    let (feed, url) = parse(name, url);
    normalize(&feed, &url, NOW).entries
}

fn entry<'e>(entries: &'e [NewEntry], title: &str) -> &'e NewEntry {
    entries
        .iter()
        .find(|e| e.title == title)
        .expect("the fixture has this entry")
}

/// One line per entry: fixture | title | rule | credit | origin's canonical URL.
fn origin_lines() -> String {
    let mut out = String::new();
    for (name, _) in fixtures() {
        for e in entries(name) {
            let (rule, credit, canonical) = match &e.origin {
                Some(o) => (
                    o.found_by.as_str(),
                    o.credit.as_deref().unwrap_or("-"),
                    o.canonical_url.as_deref().unwrap_or("-"),
                ),
                None => ("-", "-", "-"),
            };
            out.push_str(&format!(
                "{name} | {} | {rule} | {credit} | {canonical}\n",
                e.title
            ));
        }
    }
    out
}

#[test]
fn origin_of_every_fixture_entry_is_as_written_down() {
    let expected =
        std::fs::read_to_string(fixture_path("expected.txt")).expect("expected.txt exists");
    let expected: String = expected
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(origin_lines(), expected);
}

#[test]
fn origin_of_republications_is_their_original_in_every_language() {
    let dantri = entries("dantri_originals.xml");
    let vnexpress = entries("vnexpress_originals.xml");
    let rain = entry(&dantri, "Mưa lớn gây ngập nặng ở Hà Nội");
    let gold = entry(&dantri, "Giá vàng tăng kỷ lục");
    let bridge = entry(&vnexpress, "Cầu Long Biên tạm đóng cửa để sửa chữa");
    for original in [rain, gold, bridge] {
        assert_eq!(original.origin, None, "an original credits nobody");
    }
    let indonesian = entries("indonesian_portal.xml");
    let malay = entries("malay_portal.xml");
    let english = entries("english_digest.atom");
    let regional = entries("vietnamese_regional.xml");
    let cases = [
        (
            entry(&indonesian, "Hujan lebat rendam Hanoi"),
            rain,
            OriginRule::CreditLink,
        ),
        (
            entry(&indonesian, "Harga emas di Vietnam cetak rekor"),
            gold,
            OriginRule::CreditLink,
        ),
        (
            entry(&indonesian, "Jembatan Long Bien ditutup sementara"),
            bridge,
            OriginRule::CreditLink,
        ),
        (
            entry(&malay, "Hujan lebat banjiri Hanoi"),
            rain,
            OriginRule::CreditLink,
        ),
        (
            entry(&malay, "Harga emas Vietnam catat rekod"),
            gold,
            OriginRule::Element,
        ),
        (
            entry(&english, "Heavy rain floods Hanoi streets"),
            rain,
            OriginRule::Element,
        ),
        (
            entry(&english, "Gold hits a record in Vietnam"),
            gold,
            OriginRule::CreditLink,
        ),
        (
            entry(&english, "Long Bien bridge closes for repairs"),
            bridge,
            OriginRule::CreditLink,
        ),
        (
            entry(
                &english,
                "Hanoi bridge closure: what commuters need to know",
            ),
            bridge,
            OriginRule::CreditLink,
        ),
        (
            entry(&regional, "Mưa lớn gây ngập ở Hà Nội"),
            rain,
            OriginRule::Element,
        ),
    ];
    for (copy, original, rule) in cases {
        let origin = copy.origin.as_ref().expect("a republication has an origin");
        assert_eq!(
            (origin.canonical_url.as_ref(), origin.found_by),
            (original.canonical_url.as_ref(), rule),
            "{}",
            copy.title
        );
    }
}

#[test]
fn origin_credit_to_a_home_page_does_not_join() {
    let indonesian = entries("indonesian_portal.xml");
    for title in ["Festival lampion di Hoi An", "Banjir di Da Nang"] {
        let origin = entry(&indonesian, title)
            .origin
            .as_ref()
            .expect("names the outlet");
        assert_eq!(
            (
                origin.link.as_deref(),
                origin.canonical_url.as_deref(),
                origin.credit.as_deref()
            ),
            (None, None, Some("Dân trí")),
            "{title}: a home or tag page is no story's address"
        );
        assert_eq!(origin.found_by, OriginRule::CreditName);
    }
    // RSS <source url> is the feed the item came from: two stories naming it stay apart.
    let malay = entries("malay_portal.xml");
    for title in ["Banjir kilat di Ho Chi Minh", "Pelancong ramai di Da Lat"] {
        let origin = entry(&malay, title)
            .origin
            .as_ref()
            .expect("names the outlet");
        assert_eq!(
            (origin.canonical_url.as_deref(), origin.credit.as_deref()),
            (None, Some("VnExpress")),
            "{title}: a feed's address is no story's"
        );
    }
    // A credit to the entry itself is none at all.
    assert_eq!(
        entry(&indonesian, "Kemacetan di Jakarta makin parah").origin,
        None
    );
}

#[test]
fn origin_two_stories_crediting_the_same_outlet_by_name_have_no_url() {
    let regional = entries("vietnamese_regional.xml");
    let rice = entry(&regional, "Xuất khẩu gạo tăng mạnh trong quý I");
    let exams = entry(&regional, "Hà Nội công bố phương án tuyển sinh lớp 10");
    for story in [rice, exams] {
        let origin = story.origin.as_ref().expect("credits VnExpress");
        assert_eq!(
            (
                origin.found_by,
                origin.credit.as_deref(),
                origin.canonical_url.as_deref()
            ),
            (OriginRule::CreditName, Some("VnExpress"), None),
            "{}: a name alone must not join two stories",
            story.title
        );
    }
    assert_eq!(entry(&regional, "Quy định mới về nồng độ cồn").origin, None);
}

#[test]
fn origin_credit_link_loses_its_tracking_parameters() {
    let indonesian = entries("indonesian_portal.xml");
    let origin = entry(&indonesian, "Hujan lebat rendam Hanoi")
        .origin
        .clone()
        .expect("credits Dân trí");
    assert_eq!(
        origin.link.as_deref(),
        Some(
            "https://dantri.com.vn/xa-hoi/mua-lon-gay-ngap-nang-o-ha-noi-20240312.htm?utm_source=portal&utm_medium=rss&fbclid=IwAR0abc"
        ),
        "the link stays as the credit gives it"
    );
    assert_eq!(
        origin.canonical_url.as_deref(),
        Some("https://dantri.com.vn/xa-hoi/mua-lon-gay-ngap-nang-o-ha-noi-20240312.htm")
    );
}

#[test]
fn origin_detection_can_be_turned_off() {
    let (feed, url) = parse(
        "indonesian_portal.xml",
        "https://portal.example.id/rss/internasional.xml",
    );
    let options = Options {
        origins: false,
        ..Options::default()
    };
    let off = normalize_with(&feed, &url, NOW, &options);
    assert!(off.entries.iter().all(|e| e.origin.is_none()));
    assert!(
        normalize(&feed, &url, NOW)
            .entries
            .iter()
            .any(|e| e.origin.is_some())
    );
}

/// A story as listed: its title, language, and its versions' titles and languages.
type Listed = (String, Option<String>, Vec<(String, Option<String>)>);

/// Every fixture stored in `order` (by index into [`fixtures`]) into a fresh store, each its own
/// source; returns the stories of the `all` topic with their versions, as
/// (title, language, [(version title, version language)]) sorted by title.
fn stored_in_order(order: &[usize]) -> Vec<Listed> {
    use tributary::model::{TopicSlug, Validators};
    use tributary::store::{Fetched, SourceSpec, SqliteStore, Store};
    let store = SqliteStore::open_in_memory().expect("store");
    let specs: Vec<SourceSpec> = fixtures()
        .iter()
        .map(|(_, url)| SourceSpec {
            url: url.to_string(),
            title: None,
            topics: Vec::new(),
        })
        .collect();
    let ids = store.sync_sources(&specs).expect("sources");
    for &i in order {
        let (name, url) = fixtures()[i];
        let (feed, url) = parse(name, url);
        let mut normalized = normalize(&feed, &url, NOW);
        for entry in &mut normalized.entries {
            entry.topics = vec![TopicSlug::all()];
        }
        store
            .record_document(
                ids[i],
                &normalized.meta,
                &normalized.entries,
                &Fetched::plain(&Validators::default()),
                NOW,
            )
            .expect("stored");
    }
    let mut stories: Vec<_> = store
        .topic_entries(&TopicSlug::all(), 100)
        .expect("stories")
        .into_iter()
        .map(|s| {
            let mut versions: Vec<_> = s
                .versions
                .iter()
                .map(|v| (v.title.clone(), v.language.clone()))
                .collect();
            versions.sort();
            (s.title, s.language, versions)
        })
        .collect();
    stories.sort();
    stories
}

#[test]
fn republications_join_their_original_whichever_arrives_first() {
    let originals_first = stored_in_order(&[0, 1, 2, 3, 4, 5]);
    let originals_last = stored_in_order(&[5, 4, 3, 2, 1, 0]);
    assert_eq!(
        originals_first, originals_last,
        "the order of arrival does not matter"
    );
    let story = |title: &str| {
        originals_first
            .iter()
            .find(|(t, _, _)| t == title)
            .unwrap_or_else(|| panic!("{title} is a story: {originals_first:#?}"))
    };
    let lang = |l: &str| Some(l.to_string());
    // The Dân trí story: its Indonesian, Malay and English republications are its translations;
    // the Vietnamese regional reprint is a copy of it (same language), not a story of its own.
    let rain = story("Mưa lớn gây ngập nặng ở Hà Nội");
    assert_eq!(rain.1, lang("vi"));
    let titles: Vec<&str> = rain.2.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Heavy rain floods Hanoi streets",
            "Hujan lebat banjiri Hanoi",
            "Hujan lebat rendam Hanoi"
        ]
    );
    assert_eq!(rain.2[0].1, lang("en"));
    assert_eq!(rain.2[2].1, lang("id"));
    // The Malay portal declares no language and the text is too short to tell Malay from
    // Indonesian: its language is unknown, and its words (unlike a copy's) make it a translation.
    assert!(
        matches!(rain.2[1].1.as_deref(), None | Some("ms")),
        "{rain:?}"
    );
    assert!(
        originals_first
            .iter()
            .all(|(t, _, _)| t != "Mưa lớn gây ngập ở Hà Nội"),
        "the reprint joined the original"
    );
    let gold = story("Giá vàng tăng kỷ lục");
    assert_eq!(gold.2.len(), 3, "{gold:?}");
    // The digest's two English stories crediting the bridge story are one English version
    // (one version a language), beside the Indonesian one.
    let bridge = story("Cầu Long Biên tạm đóng cửa để sửa chữa");
    assert_eq!(bridge.2.len(), 2, "{bridge:?}");
    // Credits by name only, and credits to home pages, join nothing: those stay stories.
    for title in [
        "Festival lampion di Hoi An",
        "Banjir di Da Nang",
        "Jambatan Long Bien ditutup sementara",
        "Tăng cường phòng chống lũ ở miền Trung",
        "Giá vàng trong nước lập đỉnh mới",
        "Kemacetan di Jakarta makin parah",
    ] {
        assert!(story(title).2.is_empty(), "{title}");
    }
}
