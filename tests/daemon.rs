//! `tributary run`: polls on its own, serves what it stored, and stops cleanly on SIGTERM.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{FixtureServer, free_port, http_get, standard_sources};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_polls_serves_and_stops_cleanly_on_sigterm() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = format!("127.0.0.1:{}", free_port());
    let config =
        common::write_config_listening(dir.path(), &addr, &server, &standard_sources(), "");

    let mut child = common::spawn_run(&config, "info", Stdio::piped());

    // It polls every source at start; wait until all 12 entries are served.
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr_for_poll = addr.clone();
    let served = tokio::task::spawn_blocking(move || {
        loop {
            if let Some((200, body)) = http_get(&addr_for_poll, "/topics/all.json") {
                if let Ok(json) = serde_json::from_str::<serde_json::Value>(&body) {
                    if json["items"].as_array().map(Vec::len) == Some(12) {
                        return Some(json);
                    }
                }
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .expect("join");
    let json = match served {
        Some(j) => j,
        None => {
            let _ = child.kill();
            panic!("tributary run did not serve the polled entries in time");
        }
    };
    assert_eq!(json["feed_url"], format!("http://{addr}/topics/all.json"));
    assert_eq!(http_get(&addr, "/topics/nope.rss").map(|r| r.0), Some(404));
    for name in [
        "rss_guid.xml",
        "atom.xml",
        "feed.json",
        "rss_noguid.xml",
        "vietnamese.xml",
    ] {
        assert_eq!(server.hits(name), 1, "{name} polled once at start");
    }

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let code = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut stderr);
                }
                return (status.code(), stderr);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return (None, "did not stop within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .expect("join");
    assert_eq!(code.0, Some(0), "clean stop exits 0: {}", code.1);
    assert!(code.1.contains("stopped"), "{}", code.1);
    // The port is free again.
    assert!(std::net::TcpStream::connect(&addr).is_err());
}

#[test]
fn run_refuses_an_invalid_config_without_starting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("feeds.toml");
    let db = dir.path().join("tributary.db");
    std::fs::write(
        &path,
        format!(
            "[storage]\npath = \"{}\"\n[fetch]\nconcurrency = 0\n",
            db.display()
        ),
    )
    .expect("write");
    let (code, _, stderr) = common::tributary(&path, &["run"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim(),
        format!(
            "{}:4:15: fetch.concurrency: must be at least 1",
            path.display()
        )
    );
    assert!(!db.exists(), "nothing was created");
}

/// Under systemd, `$CONFIGURATION_DIRECTORY` supplies feeds.toml and `$STATE_DIRECTORY` holds a
/// relative database path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_directories_supply_config_and_hold_the_database() {
    let server = FixtureServer::start().await;
    let etc = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    let config = common::write_config(
        etc.path(),
        "http://127.0.0.1:9/",
        &server,
        "",
        &[("rss_guid.xml", &["tech"])],
    );
    let text = std::fs::read_to_string(&config).expect("config");
    let absolute = format!("path = \"{}\"", etc.path().join("tributary.db").display());
    std::fs::write(&config, text.replace(&absolute, "path = \"news.db\"")).expect("config");

    let output = tokio::task::spawn_blocking({
        let etc = etc.path().to_path_buf();
        let state = state.path().to_path_buf();
        move || {
            Command::new(env!("CARGO_BIN_EXE_tributary"))
                .arg("fetch")
                .env_remove("TRIBUTARY_CONFIG")
                .env("CONFIGURATION_DIRECTORY", &etc)
                .env("STATE_DIRECTORY", &state)
                .env("RUST_LOG", "warn")
                .current_dir(std::env::temp_dir())
                .output()
                .expect("run tributary fetch")
        }
    })
    .await
    .expect("join");
    assert!(
        output.status.success(),
        "fetch failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        state.path().join("news.db").is_file(),
        "database not in $STATE_DIRECTORY"
    );
    assert!(!etc.path().join("news.db").exists());
    assert!(!etc.path().join("tributary.db").exists());
}
