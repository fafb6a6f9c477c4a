//! A poll cycle over many sources served from loopback by nginx (which answers conditional
//! requests itself): the first cycle gets every feed (200), the second gets 304 for every one,
//! and a third, the steady state, finds one new item in every tenth feed (200) while the rest
//! answer 304. Reports wall time, CPU time and peak RSS of each cycle, measured on the real
//! binary, and the steady state's CPU as a multiple of the all-304 cycle's (issue 16's bar).
//!
//! Needs nginx (`apt-get install nginx-light`) and /usr/bin/time. Sources are spread over
//! loopback addresses (127.1.x.y), two per address, so that per-host politeness (one request per
//! `host_delay` per host) applies as it would across real publishers.
//!
//! With `TRIBUTARY_BENCH_POSTGRES` naming a PostgreSQL server on which the bench may create
//! databases (as `TRIBUTARY_TEST_POSTGRES` does for the tests), the same three cycles run again
//! on a PostgreSQL database with one node (`fetch`), and then the first two with two nodes
//! sharing one database (two `run` daemons, started together, timed until every source was
//! fetched): sources/s, each node's peak RSS, and how many sources nginx's access log shows
//! fetched more than once in a cycle (the bar: none).
//!
//! `cargo bench --bench poll` (add `-- --sources N --entries M --port P`).

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Two sources per loopback address: 127.1.0.1, 127.1.0.2, …
fn host_of(source: usize) -> String {
    let h = source / 2;
    format!("127.{}.{}.{}", 1 + h / 62_500, (h / 250) % 250, h % 250 + 1)
}

/// Every `STEADY_CHANGED_EVERY`th feed gains one item before the steady-state cycle: 10 %.
const STEADY_CHANGED_EVERY: usize = 10;

fn feed(source: usize, entries: usize) -> String {
    let mut doc = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Source {source}</title><link>https://s{source}.example/</link><description>Bench source {source}</description>\n"
    );
    for i in 0..entries {
        let _ = writeln!(
            doc,
            "<item><title>Tin số {i} của nguồn {source}: giá xăng, thời tiết và giao thông</title><link>https://s{source}.example/{i}.html</link><guid>s{source}-{i}</guid><pubDate>Mon, {:02} Nov 2026 {:02}:00:00 +0700</pubDate><description><![CDATA[<p>Tóm tắt bài viết số {i}: <a href=\"/{i}.html\">đọc tiếp</a>. Berita terkini hari ini tentang ekonomi dan politik.</p>]]></description></item>",
            1 + i % 28,
            i % 24
        );
    }
    doc.push_str("</channel></rss>\n");
    doc
}

struct Cycle {
    wall: f64,
    user: f64,
    sys: f64,
    peak_kib: u64,
    total_line: String,
}

fn run_cycle(binary: &str, config: &Path, out: &Path) -> Cycle {
    run_cycle_on(binary, config, out, None)
}

/// One `fetch` cycle, on the PostgreSQL database `database` when given.
fn run_cycle_on(binary: &str, config: &Path, out: &Path, database: Option<&str>) -> Cycle {
    let started = Instant::now();
    let mut command = Command::new("/usr/bin/time");
    if let Some(url) = database {
        command.env("TRIBUTARY_DATABASE_URL", url);
    }
    let output = command
        .args(["-f", "%e %U %S %M", binary, "--config"])
        .arg(config)
        .arg("fetch")
        .env("RUST_LOG", "error")
        .stdout(Stdio::from(
            std::fs::File::create(out).expect("output file"),
        ))
        .stderr(Stdio::piped())
        .output()
        .expect("run tributary fetch under /usr/bin/time");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let fields: Vec<f64> = stderr
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let stdout = std::fs::read_to_string(out).unwrap_or_default();
    let total_line = stdout.lines().last().unwrap_or("").to_string();
    assert_eq!(fields.len(), 4, "time output: {stderr}");
    let _ = started;
    Cycle {
        wall: fields[0],
        user: fields[1],
        sys: fields[2],
        peak_kib: fields[3] as u64,
        total_line,
    }
}

fn main() {
    let sources = arg("--sources", 10_000);
    let entries = arg("--entries", 20);
    let port = arg("--port", 18_080);
    let binary = env!("CARGO_BIN_EXE_tributary");
    let dir = std::env::temp_dir().join(format!("tributary-poll-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("feeds")).expect("bench dir");

    let mut config = format!(
        "[server]\nbase_url = \"http://bench.test/\"\n[storage]\npath = \"{}\"\n[fetch]\nallow_private_networks = true\n\
         [[topic]]\nslug = \"bench\"\ntitle = \"Bench\"\n",
        dir.join("bench.db").display()
    );
    for s in 0..sources {
        std::fs::write(dir.join("feeds").join(format!("{s}.xml")), feed(s, entries))
            .expect("feed file");
        let _ = write!(
            config,
            "[[source]]\nurl = \"http://{}:{port}/{s}.xml\"\ntopics = [\"bench\"]\n",
            host_of(s)
        );
    }
    let config_path = dir.join("feeds.toml");
    std::fs::write(&config_path, config).expect("config");
    let nginx_conf = format!(
        "worker_processes 1;\nworker_rlimit_nofile 65536;\nerror_log {dir}/error.log warn;\npid {dir}/nginx.pid;\n\
         events {{ worker_connections 16384; }}\n\
         http {{ access_log off; sendfile on; keepalive_timeout 30; default_type application/rss+xml;\n\
         server {{ listen {port}; root {dir}/feeds; }} }}\n",
        dir = dir.display()
    );
    std::fs::write(dir.join("nginx.conf"), nginx_conf).expect("nginx.conf");
    let mut nginx = start_nginx(&dir, port);

    println!(
        "{sources} sources × {entries} entries, served by nginx on loopback ({} hosts)",
        sources.div_ceil(2)
    );
    let first = run_cycle(binary, &config_path, &dir.join("cycle1.txt"));
    let second = run_cycle(binary, &config_path, &dir.join("cycle2.txt"));
    // The new item goes last, after the 20 the source already had, as a feed that only grows
    // would look; nginx's ETag (mtime and size) and Last-Modified both change, so these answer 200.
    for s in (0..sources).step_by(STEADY_CHANGED_EVERY) {
        std::fs::write(
            dir.join("feeds").join(format!("{s}.xml")),
            feed(s, entries + 1),
        )
        .expect("feed file");
    }
    let steady = run_cycle(binary, &config_path, &dir.join("cycle3.txt"));
    report(sources, &first, &second, &steady);

    if let Ok(server) = std::env::var("TRIBUTARY_BENCH_POSTGRES") {
        let feeds_as_first = || {
            for s in (0..sources).step_by(STEADY_CHANGED_EVERY) {
                std::fs::write(dir.join("feeds").join(format!("{s}.xml")), feed(s, entries))
                    .expect("feed file");
            }
        };
        feeds_as_first();
        let url = create_database(&server, "tributary_bench_one");
        println!("\nPostgreSQL, one node ({}):", redact(&url));
        let cycles: Vec<Cycle> = (1..=3)
            .map(|n| {
                if n == 3 {
                    for s in (0..sources).step_by(STEADY_CHANGED_EVERY) {
                        std::fs::write(
                            dir.join("feeds").join(format!("{s}.xml")),
                            feed(s, entries + 1),
                        )
                        .expect("feed file");
                    }
                }
                run_cycle_on(
                    binary,
                    &config_path,
                    &dir.join(format!("pg{n}.txt")),
                    Some(&url),
                )
            })
            .collect();
        report(sources, &cycles[0], &cycles[1], &cycles[2]);
        println!(
            "PostgreSQL all-200 rate / SQLite all-200 rate: {:.2}× (bar ≥ 0.5×)",
            first.wall / cycles[0].wall
        );

        feeds_as_first();
        // The access log says which sources each cycle fetched, and how often.
        let _ = Command::new("kill")
            .args(["-TERM", &nginx.id().to_string()])
            .status();
        let _ = nginx.wait();
        let conf = std::fs::read_to_string(dir.join("nginx.conf")).expect("nginx.conf");
        std::fs::write(
            dir.join("nginx.conf"),
            conf.replace(
                "access_log off;",
                &format!("access_log {}/access.log;", dir.display()),
            ),
        )
        .expect("nginx.conf");
        nginx = start_nginx(&dir, port);
        let url = create_database(&server, "tributary_bench_two");
        println!("\nPostgreSQL, two nodes sharing one database:");
        for (n, name) in [(1, "all 200"), (2, "all 304")] {
            let _ = std::fs::write(dir.join("access.log"), "");
            let _ = Command::new("kill")
                .args(["-USR1", &nginx.id().to_string()])
                .status();
            let (wall, peaks) = two_nodes(binary, &dir, &config_path, &url, port, n == 2);
            let log = std::fs::read_to_string(dir.join("access.log")).unwrap_or_default();
            let mut counts: std::collections::HashMap<&str, usize> = Default::default();
            for line in log.lines() {
                if let Some(path) = line.split('"').nth(1).and_then(|r| r.split(' ').nth(1)) {
                    *counts.entry(path).or_default() += 1;
                }
            }
            let twice = counts.values().filter(|&&c| c > 1).count();
            println!(
                "cycle {n} ({name}): wall {wall:.2} s, {:.0} sources/s, peak RSS {}, {} of {sources} sources fetched, {twice} fetched more than once (bar: 0)",
                sources as f64 / wall,
                peaks
                    .iter()
                    .enumerate()
                    .map(|(i, kib)| format!("node {} {:.1} MiB", i + 1, *kib as f64 / 1024.0))
                    .collect::<Vec<_>>()
                    .join(", "),
                counts.len()
            );
        }
    }

    // SIGTERM lets the master stop its workers (SIGKILL would orphan them on the port).
    let _ = Command::new("kill")
        .args(["-TERM", &nginx.id().to_string()])
        .status();
    let _ = nginx.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

fn report(sources: usize, first: &Cycle, second: &Cycle, steady: &Cycle) {
    for (name, c) in [
        ("cycle 1 (all 200)", &first),
        ("cycle 2 (all 304)", &second),
        ("cycle 3 (steady: 10 % 200, rest 304)", &steady),
    ] {
        println!(
            "{name}: wall {:.2} s, CPU {:.2} s (user {:.2} + sys {:.2}), peak RSS {:.1} MiB, {:.0} sources/s",
            c.wall,
            c.user + c.sys,
            c.user,
            c.sys,
            c.peak_kib as f64 / 1024.0,
            sources as f64 / c.wall
        );
        println!("  {}", c.total_line);
    }
    println!(
        "steady state CPU / all-304 CPU: {:.2}× (bar ≤ 1.3×)",
        (steady.user + steady.sys) / (second.user + second.sys).max(0.01)
    );
}

fn start_nginx(dir: &Path, port: usize) -> std::process::Child {
    let nginx = Command::new("nginx")
        .args(["-p"])
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .spawn()
        .expect("start nginx (apt-get install nginx-light)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port as u16)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    nginx
}

/// A fresh database `name` on the server `server` names (dropped first if a run left it).
fn create_database(server: &str, name: &str) -> String {
    let mut admin =
        postgres::Client::connect(server, postgres::NoTls).expect("bench PostgreSQL server");
    // Each its own statement: DROP DATABASE cannot run in the implicit transaction of a batch.
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .expect("drop the bench database a run left");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create the bench database");
    let mut url = url::Url::parse(server).expect("TRIBUTARY_BENCH_POSTGRES is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

fn redact(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| {
            format!(
                "{}:{}{}",
                u.host_str().unwrap_or(""),
                u.port().unwrap_or(5432),
                u.path()
            )
        })
        .unwrap_or_default()
}

/// Two `run` daemons on one database, started together, until every source was fetched since
/// they started (for the all-304 cycle, every source is made due first). Returns the wall time
/// and each daemon's peak RSS (KiB).
fn two_nodes(
    binary: &str,
    dir: &Path,
    config: &Path,
    url: &str,
    port: usize,
    again: bool,
) -> (f64, Vec<u64>) {
    let mut db = postgres::Client::connect(url, postgres::NoTls).expect("bench database");
    if again {
        db.batch_execute(
            "UPDATE sources SET next_due_at = NULL, leased_by = NULL, leased_until = NULL",
        )
        .expect("make every source due");
    }
    let base = std::fs::read_to_string(config).expect("config");
    let started_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let started = Instant::now();
    let mut nodes: Vec<std::process::Child> = (1..=2)
        .map(|n| {
            let node_config = dir.join(format!("node{n}.toml"));
            std::fs::write(
                &node_config,
                base.replacen(
                    "[server]\n",
                    &format!(
                        "[cluster]\nnode = \"bench-{n}\"\n[server]\nlisten = \"127.0.0.1:{}\"\n",
                        port + n
                    ),
                    1,
                ),
            )
            .expect("node config");
            Command::new(binary)
                .arg("--config")
                .arg(&node_config)
                .arg("run")
                .env("RUST_LOG", "error")
                .env("TRIBUTARY_DATABASE_URL", url)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start a node")
        })
        .collect();
    let sources: i64 = db
        .query_one("SELECT count(*) FROM sources", &[])
        .map(|r| r.get(0))
        .unwrap_or(0);
    let mut peaks = vec![0u64; nodes.len()];
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        for (node, peak) in nodes.iter().zip(peaks.iter_mut()) {
            *peak = (*peak).max(peak_rss_kib(node.id()));
        }
        let total: i64 = db
            .query_one("SELECT count(*) FROM sources", &[])
            .map(|r| r.get(0))
            .unwrap_or(0);
        let fetched: i64 = db
            .query_one(
                "SELECT count(*) FROM sources WHERE last_fetch_at >= $1",
                &[&started_at],
            )
            .map(|r| r.get(0))
            .unwrap_or(0);
        if total > 0 && total >= sources.max(1) && fetched >= total {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the nodes did not fetch every source in 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let wall = started.elapsed().as_secs_f64();
    for node in &mut nodes {
        let _ = Command::new("kill")
            .args(["-TERM", &node.id().to_string()])
            .status();
    }
    for node in &mut nodes {
        let _ = node.wait();
    }
    (wall, peaks)
}

/// The process's peak resident set (VmHWM), in KiB; 0 when it is gone.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
