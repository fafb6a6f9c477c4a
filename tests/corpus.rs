//! The real-world documents in ../shared/corpus: every one that Python feedparser reads without
//! `bozo` gives the same number of entries here, and none crashes or hangs.

use std::path::PathBuf;

use url::Url;

/// `$TRIBUTARY_CORPUS`, else `../shared/corpus` beside the checkout.
fn corpus_dir() -> PathBuf {
    match std::env::var_os("TRIBUTARY_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
    }
}

#[test]
#[ignore = "needs the shared feed corpus ($TRIBUTARY_CORPUS or ../shared/corpus); run by .ci/run"]
fn entry_counts_match_feedparser_on_every_clean_document() {
    let manifest =
        std::fs::read_to_string(corpus_dir().join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let header: Vec<&str> = manifest
        .lines()
        .next()
        .expect("header")
        .split('\t')
        .collect();
    let column = |name: &str| header.iter().position(|h| *h == name).expect("column");
    let (file_col, count_col, bozo_col) = (
        column("file"),
        column("feedparser_entries"),
        column("feedparser_bozo"),
    );
    let (mut clean, mut matched, mut mismatches) = (0, 0, Vec::new());
    // Documents feedparser flags (`bozo`): JSON Feeds, which it does not read, and XML that is
    // not well-formed. Ours are compared with the items a regex counts in the raw text.
    let items_col = column("items_regex");
    let (mut malformed, mut recovered, mut recovered_same) = (0, 0, 0);
    for line in manifest.lines().skip(1) {
        let fields: Vec<&str> = line.split('\t').collect();
        let (file, expected, bozo) = (fields[file_col], fields[count_col], fields[bozo_col]);
        let body = std::fs::read(corpus_dir().join("feeds").join(file)).expect("corpus file");
        let base = Url::parse(&format!("http://corpus.test/{file}")).expect("url");
        let parsed = tributary::parse::parse_feed(&body, &base, None);
        let ours = parsed
            .as_ref()
            .map(|feed| {
                tributary::normalize::normalize(feed, &base, 1_795_000_000)
                    .entries
                    .len()
            })
            .unwrap_or(0);
        if bozo == "0" {
            clean += 1;
            if expected.parse::<usize>().ok() == Some(ours) {
                matched += 1;
            } else {
                mismatches.push(format!(
                    "{file}: feedparser {expected}, tributary {ours} ({:?})",
                    parsed.err().map(|e| e.to_string())
                ));
            }
        } else {
            malformed += 1;
            if let Err(e) = &parsed {
                println!("not read: {file}: {e}");
            }
            if parsed.is_ok() {
                recovered += 1;
                if fields[items_col].parse::<usize>().ok() == Some(ours) {
                    recovered_same += 1;
                }
            }
        }
    }
    println!("{matched} of {clean} clean documents give feedparser's entry count");
    println!(
        "{recovered} of {malformed} documents feedparser flags as bozo read, {recovered_same} of them with every item the raw text has"
    );
    assert!(clean >= 80, "the corpus has {clean} clean documents");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
