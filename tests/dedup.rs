//! The dedup rules against a labelled set: 22 stories in Vietnamese, Indonesian and English,
//! each carried by several of 12 sources as exact copies, Atom/RSS twins, URL variants with
//! tracking parameters and rewritten syndicated copies, plus hard negatives that must stay apart
//! (daily weather reports, a series' parts, a live page's updates). Every document goes through
//! the real parser, normalizer and store; the test reports precision and recall of the merge
//! decisions over pairs of sightings and fails below the bars.

use std::collections::HashMap;

use tributary::model::TopicSlug;
use tributary::store::{Fetched, SourceSpec, SqliteStore, Store};
use url::Url;

const VI: &[&str] = &[
    "thành",
    "phố",
    "người",
    "dân",
    "kinh",
    "tế",
    "chính",
    "phủ",
    "giao",
    "thông",
    "giá",
    "xăng",
    "bệnh",
    "viện",
    "trường",
    "học",
    "sinh",
    "viên",
    "nông",
    "nghiệp",
    "xuất",
    "khẩu",
    "gạo",
    "cà",
    "phê",
    "du",
    "lịch",
    "biển",
    "đường",
    "sắt",
    "cao",
    "tốc",
    "điện",
    "lực",
    "nhà",
    "máy",
    "công",
    "nhân",
    "lương",
    "tối",
    "thiểu",
    "thuế",
];
const ID: &[&str] = &[
    "pemerintah",
    "warga",
    "jalan",
    "tol",
    "harga",
    "beras",
    "rumah",
    "sakit",
    "sekolah",
    "siswa",
    "petani",
    "ekspor",
    "kopi",
    "sawit",
    "wisata",
    "pantai",
    "kereta",
    "cepat",
    "listrik",
    "pabrik",
    "buruh",
    "upah",
    "minimum",
    "pajak",
    "banjir",
    "gempa",
    "presiden",
    "menteri",
    "dewan",
    "rakyat",
    "anggaran",
    "daerah",
    "kota",
    "desa",
    "bandara",
];
const EN: &[&str] = &[
    "council",
    "budget",
    "schools",
    "hospital",
    "railway",
    "bridge",
    "energy",
    "prices",
    "workers",
    "wages",
    "tax",
    "farmers",
    "exports",
    "coffee",
    "tourism",
    "coast",
    "airport",
    "election",
    "minister",
    "parliament",
    "storm",
    "flood",
    "market",
    "shares",
    "bank",
    "rates",
    "inflation",
    "housing",
    "rents",
    "police",
    "court",
    "ruling",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn words(&mut self, vocab: &[&str], n: usize) -> Vec<String> {
        (0..n)
            .map(|_| vocab[(self.next() % vocab.len() as u64) as usize].to_string())
            .collect()
    }
}

/// One item in one source's document, and the story it belongs to.
struct Item {
    source: usize,
    guid: String,
    link: String,
    title: String,
    body: String,
    cluster: String,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Original,
    /// Same text under the outlet's own URL, or the same URL in another of the publisher's feeds.
    Exact,
    /// The same URL with tracking parameters, from another source.
    UrlVariant,
    /// The same story rewritten lightly by a syndicating outlet.
    Rewrite,
    /// Must stay apart from everything else.
    Negative,
}

const SOURCES: usize = 12;

fn build() -> Vec<Item> {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut items = Vec::new();
    for story in 0..22 {
        let vocab = [VI, ID, EN][story % 3];
        let title = rng.words(vocab, 9).join(" ");
        let body = rng.words(vocab, 60).join(" ");
        let home = story % 4; // the original publisher
        let cluster = format!("story-{story}");
        let link = format!("https://pub{home}.example/news/{story}.html");
        let item =
            |source: usize, guid: String, link: String, title: String, body: String, kind: Kind| {
                Item {
                    source,
                    guid,
                    link,
                    title,
                    body,
                    cluster: cluster.clone(),
                    kind,
                }
            };
        items.push(item(
            home,
            format!("p{home}-{story}"),
            link.clone(),
            title.clone(),
            body.clone(),
            Kind::Original,
        ));
        // The publisher's other feed (Atom twin of the RSS one): same link, another guid.
        items.push(item(
            home + 4,
            format!("urn:twin:{story}"),
            link.clone(),
            title.clone(),
            body.clone(),
            Kind::Exact,
        ));
        // An aggregator passing the link on with tracking parameters.
        items.push(item(
            8,
            format!("agg-{story}"),
            format!("{link}?utm_source=agg&utm_medium=rss&fbclid=x{story}"),
            title.clone(),
            body.clone(),
            Kind::UrlVariant,
        ));
        // Exact copies under other outlets' own URLs.
        for copy in 0..2 {
            let s = 9 + copy;
            items.push(item(
                s,
                format!("c{s}-{story}"),
                format!("https://outlet{s}.example/{story}/copy"),
                title.clone(),
                body.clone(),
                Kind::Exact,
            ));
        }
        // Light rewrites: an attribution line, a changed word, an outlet suffix in the title.
        let mut edited: Vec<String> = body.split(' ').map(str::to_string).collect();
        let at = (rng.next() % 40) as usize;
        edited[at] = rng.words(vocab, 1).remove(0);
        items.push(item(
            11,
            format!("w-{story}"),
            format!("https://wire.example/{story}"),
            title.clone(),
            format!("{} (Wire)", edited.join(" ")),
            Kind::Rewrite,
        ));
        let source = (home + 1) % 4;
        items.push(item(
            source,
            format!("r{source}-{story}"),
            format!("https://pub{source}.example/syndicated/{story}"),
            format!("{title} - Báo Mới"),
            body.clone(),
            Kind::Rewrite,
        ));
        let source = (home + 2) % 4;
        let mut appended = body.clone();
        appended.push_str(" Đọc thêm tin tức tại trang chủ của chúng tôi.");
        items.push(item(
            source,
            format!("r{source}-{story}"),
            format!("https://pub{source}.example/syndicated/{story}"),
            title.clone(),
            appended,
            Kind::Rewrite,
        ));
    }
    // Hard negatives: daily weather reports (same template, different dates and numbers), from
    // several sources; a series; a live page's updates.
    let template = "Hà Nội hôm nay trời nhiều mây, có mưa rào rải rác, nhiệt độ thấp nhất khoảng {lo} độ, cao nhất {hi} độ, độ ẩm trung bình, gió đông bắc cấp hai đến cấp ba, chiều tối có thể có mưa dông cục bộ";
    for day in 1..=12u32 {
        let source = (day as usize) % 4;
        items.push(Item {
            source,
            guid: format!("weather-{day}"),
            link: format!("https://pub{source}.example/thoi-tiet/ha-noi-{day}-11"),
            title: format!("Thời tiết Hà Nội ngày {day}/11: mưa rào, trời rét"),
            body: template
                .replace("{lo}", &(14 + day % 5).to_string())
                .replace("{hi}", &(20 + day % 4).to_string()),
            cluster: format!("weather-{day}"),
            kind: Kind::Negative,
        });
    }
    let intro = "Seri investigasi tentang proyek jalan tol yang tertunda bertahun tahun dan anggaran daerah yang membengkak sementara warga desa menunggu";
    for part in 1..=4u32 {
        items.push(Item {
            source: 5,
            guid: format!("series-{part}"),
            link: format!("https://pub1.example/seri/bagian-{part}"),
            title: format!("Jalan tol yang tertunda, bagian {part}/4"),
            body: format!("{intro} bagian {part} dari empat tulisan"),
            cluster: format!("series-{part}"),
            kind: Kind::Negative,
        });
        // A second outlet runs the same series: parts match parts.
        items.push(Item {
            source: 10,
            guid: format!("series-copy-{part}"),
            link: format!("https://outlet10.example/seri/{part}"),
            title: format!("Jalan tol yang tertunda, bagian {part}/4"),
            body: format!("{intro} bagian {part} dari empat tulisan"),
            cluster: format!("series-{part}"),
            kind: Kind::Rewrite,
        });
    }
    for update in 1..=6u32 {
        items.push(Item {
            source: 7,
            guid: format!("live-{update}"),
            link: "https://pub3.example/live/election-night".into(),
            title: format!("Live: election night, update {update}"),
            body: format!("Results are coming in from the districts as counting continues into the night with turnout reported above last time in update number {update}"),
            cluster: format!("live-{update}"),
            kind: Kind::Negative,
        });
    }
    items
}

fn rss(items: &[&Item]) -> String {
    let mut doc = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Source</title><link>https://example.org/</link><description>d</description>",
    );
    for item in items {
        doc.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{}</guid><link>{}</link><title>{}</title><description><![CDATA[<p>{}</p>]]></description><pubDate>Thu, 19 Nov 2026 08:00:00 +0700</pubDate></item>",
            item.guid,
            item.link.replace('&', "&amp;"),
            item.title,
            item.body
        ));
    }
    doc.push_str("</channel></rss>");
    doc
}

#[test]
fn merge_decisions_meet_the_precision_and_recall_bars() {
    let items = build();
    assert!(items.len() >= 200, "{} items", items.len());
    let store = SqliteStore::open_in_memory().expect("store");
    let specs: Vec<SourceSpec> = (0..SOURCES)
        .map(|s| SourceSpec {
            url: format!("https://source{s}.example/feed"),
            title: Some(format!("Source {s}")),
            topics: vec![TopicSlug::new("news").expect("slug")],
        })
        .collect();
    let ids = store.sync_sources(&specs).expect("sync");
    let now = 1_795_100_000;
    for (s, id) in ids.iter().enumerate() {
        let mine: Vec<&Item> = items.iter().filter(|i| i.source == s).collect();
        let url = Url::parse(&specs[s].url).expect("url");
        let feed = tributary::parse::parse_feed(rss(&mine).as_bytes(), &url, None).expect("parses");
        let normalized = tributary::normalize::normalize(&feed, &url, now);
        assert_eq!(normalized.entries.len(), mine.len());
        store
            .record_document(
                *id,
                &normalized.meta,
                &normalized.entries,
                &Fetched::plain(&Default::default()),
                now,
            )
            .expect("store");
    }
    let entry_of: HashMap<(String, String), i64> = store
        .sightings()
        .expect("sightings")
        .into_iter()
        .map(|(url, key, entry)| ((url, key), entry))
        .collect();
    let decided: Vec<i64> = items
        .iter()
        .map(|i| entry_of[&(specs[i.source].url.clone(), format!("guid:{}", i.guid))])
        .collect();

    // Pairs: true when labelled the same story, predicted when stored as one entry.
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut recall: HashMap<&str, (usize, usize)> = HashMap::new();
    for a in 0..items.len() {
        for b in a + 1..items.len() {
            let same = items[a].cluster == items[b].cluster;
            let merged = decided[a] == decided[b];
            if merged && !same {
                fp += 1;
                eprintln!(
                    "wrongly merged: {:?} {} | {:?} {}",
                    items[a].kind, items[a].title, items[b].kind, items[b].title
                );
            }
            if same {
                // A pair is as hard as its harder member.
                let kind = match (items[a].kind, items[b].kind) {
                    (Kind::Rewrite, _) | (_, Kind::Rewrite) => "near-duplicate",
                    (Kind::UrlVariant, _) | (_, Kind::UrlVariant) => "url",
                    _ => "exact",
                };
                let entry = recall.entry(kind).or_default();
                entry.1 += 1;
                if merged {
                    entry.0 += 1;
                    tp += 1;
                } else if std::env::var("DEDUP_DEBUG").is_ok() {
                    eprintln!(
                        "missed: {:?} s{} {} | {:?} s{} {}",
                        items[a].kind,
                        items[a].source,
                        items[a].guid,
                        items[b].kind,
                        items[b].source,
                        items[b].guid
                    );
                }
            }
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let rate = |kind: &str| {
        recall
            .get(kind)
            .map_or(1.0, |(hit, all)| *hit as f64 / (*all).max(1) as f64)
    };
    println!(
        "{} sightings over {SOURCES} sources: precision {:.3} ({tp} pairs merged rightly, {fp} wrongly); recall exact {:.3}, url {:.3}, near-duplicate {:.3} ({:?})",
        items.len(),
        precision,
        rate("exact"),
        rate("url"),
        rate("near-duplicate"),
        recall
    );
    assert_eq!(rate("url"), 1.0, "every URL duplicate merged");
    assert!(
        rate("near-duplicate") >= 0.90,
        "near-duplicate recall {:.3}",
        rate("near-duplicate")
    );
    assert!(precision >= 0.99, "precision {precision:.3}");
    // Exact copies under other URLs are near-duplicates at distance 0; all must merge.
    assert_eq!(rate("exact"), 1.0, "every exact copy merged");
    // And the hard negatives are all apart.
    let negatives: Vec<i64> = items
        .iter()
        .zip(&decided)
        .filter(|(i, _)| i.kind == Kind::Negative)
        .map(|(_, d)| *d)
        .collect();
    let mut unique = negatives.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), negatives.len(), "hard negatives stay apart");
}
