//! Ingest throughput: parse-only entries/s versus the full parse + normalize + store path, over a
//! generated corpus (200 feeds × 50 entries with realistic HTML bodies).
//!
//! Each is measured on one thread, and on as many threads as the machine has cores the way the
//! daemon runs refreshes: every worker takes the next document and parses, normalizes and stores
//! it (stores are serialized by the store's single writer) while a background thread checkpoints
//! the WAL when the daemon would (`Store::checkpoint_due`, else every `CHECKPOINT_INTERVAL`). The
//! four measurements take turns within each round. The largest the WAL file grew is reported
//! too: it shows whether checkpoints keep up with a sustained ingest.
//!
//! `cargo bench --bench ingest` (add `-- --feeds N --entries M --rounds R` to change the corpus;
//! `-- --profile` runs only the full path, on `--threads N` (default 1), for a profiler).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tributary::model::{FeedMeta, TopicSlug, Validators};
use tributary::store::{Fetched, SourceSpec, SqliteStore, Store};
use url::Url;

const WORDS: &[&str] = &[
    "thành",
    "phố",
    "Hà",
    "Nội",
    "người",
    "dân",
    "kinh",
    "tế",
    "pemerintah",
    "Indonesia",
    "warga",
    "jalan",
    "the",
    "council",
    "announced",
    "new",
    "budget",
    "for",
    "roads",
    "schools",
    "hospitals",
    "và",
    "của",
    "được",
    "dengan",
    "yang",
    "untuk",
    "market",
    "prices",
    "rose",
    "sharply",
    "today",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: deterministic, so every run measures the same corpus.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
    fn sentence(&mut self, words: usize) -> String {
        (0..words)
            .map(|_| self.pick(WORDS))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// An RSS 2.0 document like a news site's: guid, link, date, category, a description and a
/// content:encoded body of several paragraphs with links, an image, inline markup and the odd
/// script or tracking pixel that sanitizing must remove.
fn generate_feed(rng: &mut Rng, feed: usize, entries: usize) -> String {
    let mut doc = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>Feed {feed}</title><link>https://site{feed}.example/</link><description>{}</description><language>vi</language>\n",
        rng.sentence(8)
    );
    for i in 0..entries {
        let mut body = String::new();
        for p in 0..5 {
            body.push_str(&format!(
                "<p>{} <a href=\"/bai-viet/{feed}-{i}-{p}.html\">{}</a> <strong>{}</strong> {}.</p>",
                rng.sentence(25),
                rng.sentence(3),
                rng.sentence(2),
                rng.sentence(30)
            ));
        }
        body.push_str(&format!("<figure><img src=\"/anh/{feed}/{i}.jpg\" alt=\"{}\" width=\"640\"><figcaption>{}</figcaption></figure>", rng.sentence(4), rng.sentence(8)));
        if i % 5 == 0 {
            body.push_str("<script>track('view')</script><img src=\"https://pixel.example/t.gif\" onload=\"x()\">");
        }
        doc.push_str(&format!(
            "<item><title>{}</title><link>https://site{feed}.example/bai-viet/{i}.html</link><guid isPermaLink=\"false\">site{feed}-{i}</guid><pubDate>Thu, {:02} Nov 2026 {:02}:{:02}:00 +0700</pubDate><dc:creator>{}</dc:creator><category>{}</category><description><![CDATA[<p>{}</p>]]></description><content:encoded><![CDATA[{body}]]></content:encoded></item>\n",
            rng.sentence(10),
            1 + (i % 28),
            i % 24,
            (i * 7) % 60,
            rng.sentence(2),
            rng.pick(WORDS),
            rng.sentence(30)
        ));
    }
    doc.push_str("</channel></rss>\n");
    doc
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

const NOW: i64 = 1_795_000_000;

/// CPU time this process has used so far, every thread, user and system (`/proc/self/stat`, in
/// clock ticks of 10 ms: each measurement lasts long enough for that to be fine).
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces) start at state, field 3.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15: 11 and 12 counted from state.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Wall time and process CPU time of one measurement.
#[derive(Clone, Copy)]
struct Cost {
    wall: Duration,
    cpu: Duration,
}

/// Runs `work(document index)` over every document on `threads` threads, each taking the next
/// document not yet taken; returns the wall time.
fn run_on(threads: usize, documents: usize, work: &(dyn Fn(usize) + Sync)) -> Duration {
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= documents {
                        break;
                    }
                    work(i);
                }
            });
        }
    });
    start.elapsed()
}

/// Parses the corpus [`PARSE_PASSES`] times over; returns the time of one pass.
fn parse_only(corpus: &[(Url, String)], threads: usize) -> Cost {
    let parsed = AtomicUsize::new(0);
    let cpu = process_cpu();
    let elapsed = run_on(threads, corpus.len() * PARSE_PASSES, &|i| {
        let (url, doc) = &corpus[i % corpus.len()];
        let feed =
            tributary::parse::parse_feed(doc.as_bytes(), url, None).expect("generated feed parses");
        parsed.fetch_add(feed.entries.len(), Ordering::Relaxed);
    });
    assert_eq!(
        parsed.load(Ordering::Relaxed),
        corpus.len() * arg("--entries", 50) * PARSE_PASSES
    );
    Cost {
        wall: elapsed / PARSE_PASSES as u32,
        cpu: (process_cpu() - cpu) / PARSE_PASSES as u32,
    }
}

/// Parsing alone is several times faster than the full path: a single pass would be over in a
/// fraction of a second, where a drifting machine makes figures the least stable.
const PARSE_PASSES: usize = 3;

/// The full path's wall and CPU time (every thread: workers, the store's commit thread, the
/// checkpointer), and the size the WAL file reached (it is never truncated while the store is
/// open, so its size at the end is its largest).
fn full_path(corpus: &[(Url, String)], threads: usize, round: usize) -> (Cost, u64) {
    let dir = std::env::temp_dir().join(format!(
        "tributary-bench-{}-{threads}-{round}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");
    let store = Arc::new(SqliteStore::open(&dir.join("bench.db")).expect("store"));
    let specs: Vec<SourceSpec> = corpus
        .iter()
        .map(|(url, _)| SourceSpec {
            url: url.to_string(),
            title: None,
            topics: vec![TopicSlug::new("news").expect("slug")],
        })
        .collect();
    let ids = store.sync_sources(&specs).expect("sync");
    // Every entry goes through topic membership as in the daemon: a listed topic, and one
    // that takes every source and filters on keywords.
    let config = tributary::config::Config::parse(
        std::path::Path::new("feeds.toml"),
        "[[topic]]\nslug = \"news\"\ntitle = \"News\"\n\n[[topic]]\nslug = \"economy\"\ntitle = \"Economy\"\nall_sources = true\n[topic.filter]\nany = [\"kinh tế\", \"budget\", \"market prices\"]\n",
    )
    .expect("bench config");
    let rules = tributary::topics::TopicRules::new(&config);
    let listed = [TopicSlug::new("news").expect("slug")];
    let done = Arc::new(AtomicBool::new(false));
    let checkpointer = {
        let (store, done) = (store.clone(), done.clone());
        // The daemon's policy: when enough was written, else every interval.
        std::thread::spawn(move || {
            let mut last = Instant::now();
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
                if store.checkpoint_due() || last.elapsed() >= tributary::store::CHECKPOINT_INTERVAL
                {
                    store.checkpoint().expect("checkpoint");
                    last = Instant::now();
                }
            }
        })
    };
    let stored = AtomicUsize::new(0);
    let cpu = process_cpu();
    let elapsed = run_on(threads, corpus.len(), &|i| {
        let (url, doc) = &corpus[i];
        let feed = tributary::parse::parse_feed(doc.as_bytes(), url, None).expect("parses");
        let mut normalized = tributary::normalize::normalize(&feed, url, NOW);
        for entry in &mut normalized.entries {
            entry.topics = rules.assign(&listed, &tributary::topics::view(entry));
        }
        let meta: &FeedMeta = &normalized.meta;
        let stats = store
            .record_document(
                ids[i],
                meta,
                &normalized.entries,
                &Fetched::plain(&Validators::default()),
                NOW,
            )
            .expect("store");
        stored.fetch_add(stats.new, Ordering::Relaxed);
    });
    // The last group of refreshes is committed inside the measured time, as a cycle's end does.
    let committing = Instant::now();
    store.flush().expect("flush");
    let elapsed = elapsed + committing.elapsed();
    let cpu = process_cpu() - cpu;
    done.store(true, Ordering::Relaxed);
    checkpointer.join().expect("checkpointer");
    let wal = std::fs::metadata(dir.join("bench.db-wal")).map_or(0, |m| m.len());
    assert_eq!(
        stored.load(Ordering::Relaxed),
        corpus.len() * arg("--entries", 50)
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    (Cost { wall: elapsed, cpu }, wal)
}

fn main() {
    let feeds = arg("--feeds", 200);
    let entries = arg("--entries", 50);
    let rounds = arg("--rounds", 5);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let corpus: Vec<(Url, String)> = (0..feeds)
        .map(|f| {
            let url = Url::parse(&format!("https://site{f}.example/rss.xml")).expect("static URL");
            (url, generate_feed(&mut rng, f, entries))
        })
        .collect();
    let bytes: usize = corpus.iter().map(|(_, d)| d.len()).sum();
    let total = (feeds * entries) as f64;
    println!(
        "corpus: {feeds} feeds × {entries} entries = {} entries, {:.1} MiB; {cores} cores; median of {rounds}",
        feeds * entries,
        bytes as f64 / (1024.0 * 1024.0)
    );
    let rate = |d: Duration| total / d.as_secs_f64();
    if std::env::args().any(|a| a == "--profile") {
        let threads = arg("--threads", 1);
        let full = rate(median(
            (0..rounds)
                .map(|r| full_path(&corpus, threads, r).0.wall)
                .collect(),
        ));
        println!("parse + normalize + store, {threads} thread(s): {full:>8.0} entries/s");
        return;
    }
    // The four measurements take turns in every round, so that a machine whose speed drifts
    // (a shared VM) slows them alike; each ratio is also taken within its round. The bar is on
    // CPU: what the full path costs over what parsing alone costs, on one thread and on as many
    // threads as there are cores (the daemon's threading, where workers also wait on the writer).
    let (mut parse_1, mut full_1, mut parse_n, mut full_n) = (vec![], vec![], vec![], vec![]);
    let (mut cpu_ratio_1, mut cpu_ratio_n) = (vec![], vec![]);
    let mut largest_wal = 0;
    for round in 0..rounds {
        let p1 = parse_only(&corpus, 1);
        let (f1, wal_1) = full_path(&corpus, 1, round);
        let pn = parse_only(&corpus, cores);
        let (fn_, wal_n) = full_path(&corpus, cores, round);
        largest_wal = largest_wal.max(wal_1).max(wal_n);
        let ratio = |full: Cost, parse: Cost| full.cpu.as_secs_f64() / parse.cpu.as_secs_f64();
        println!(
            "round {}: parse 1 thread {:.0}/s, full 1 thread {:.0}/s (CPU {:.2}× parse), parse {cores} threads {:.0}/s, full {cores} threads {:.0}/s (CPU {:.2}× parse)",
            round + 1,
            rate(p1.wall),
            rate(f1.wall),
            ratio(f1, p1),
            rate(pn.wall),
            rate(fn_.wall),
            ratio(fn_, pn),
        );
        cpu_ratio_1.push(ratio(f1, p1));
        cpu_ratio_n.push(ratio(fn_, pn));
        parse_1.push(p1.wall);
        full_1.push(f1.wall);
        parse_n.push(pn.wall);
        full_n.push(fn_.wall);
    }
    let median_f64 = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (parse_1, full_1) = (rate(median(parse_1)), rate(median(full_1)));
    let (parse_n, full_n) = (rate(median(parse_n)), rate(median(full_n)));
    println!("parse only, 1 thread:                  {parse_1:>8.0} entries/s");
    println!("parse + normalize + store, 1 thread:   {full_1:>8.0} entries/s");
    println!("parse only, {cores} threads:                 {parse_n:>8.0} entries/s");
    println!("parse + normalize + store, {cores} threads:  {full_n:>8.0} entries/s");
    println!(
        "full path CPU / parse-only CPU (median of rounds; bar ≤ 4×): 1 thread {:.2}×, {cores} threads {:.2}×",
        median_f64(cpu_ratio_1),
        median_f64(cpu_ratio_n)
    );
    // Checkpoints let SQLite start the WAL over; without that it grows for as long as the ingest.
    println!(
        "largest WAL file over the full-path runs: {:.1} MiB",
        largest_wal as f64 / (1024.0 * 1024.0)
    );
}
