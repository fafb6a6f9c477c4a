//! `tributary run` under a service manager: sd_notify messages on `NOTIFY_SOCKET`, the watchdog,
//! and serving on a socket passed with `LISTEN_FDS`.

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    DripServer, FixtureServer, free_port, http_get, standard_sources, wait_exit, wait_for,
};

/// Reads notification datagrams until one has a line starting with `wanted` (such as
/// `READY=1`); returns every message seen.
fn read_until(socket: &UnixDatagram, wanted: &str, within: Duration) -> (bool, Vec<String>) {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(n) = socket.recv(&mut buf) {
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            let found = message.lines().any(|l| l.starts_with(wanted));
            seen.push(message);
            if found {
                return (true, seen);
            }
        }
    }
    (false, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifies_ready_then_watchdog_then_stopping_and_exits_0() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = format!("127.0.0.1:{}", free_port());
    let config =
        common::write_config_listening(dir.path(), &addr, &server, &standard_sources(), "");
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind notify socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");

    let outcome = tokio::task::spawn_blocking(move || {
        // WATCHDOG_PID must name the daemon itself: the shell execs into it, keeping its pid.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("WATCHDOG_PID=$$ exec \"$0\" --config \"$1\" run")
            .arg(env!("CARGO_BIN_EXE_tributary"))
            .arg(&config)
            .env("NOTIFY_SOCKET", &socket_path)
            .env("WATCHDOG_USEC", "1500000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tributary run");

        let (ready, before_ready) = read_until(&socket, "READY=1", Duration::from_secs(30));
        // The listener must be bound by the time READY=1 is sent.
        let serving = ready && std::net::TcpStream::connect(&addr).is_ok();
        // Pings follow; once the first refresh finished they carry the sources' state.
        let (watchdog, after_ready) = if ready {
            read_until(&socket, "WATCHDOG=1", Duration::from_secs(10))
        } else {
            (false, Vec::new())
        };
        let (_, later) = read_until(
            &socket,
            "STATUS=5 sources ok, 0 failing",
            Duration::from_secs(10),
        );
        let after_ready: Vec<String> = after_ready.into_iter().chain(later).collect();
        let status = before_ready
            .iter()
            .chain(&after_ready)
            .flat_map(|m| m.lines())
            .filter_map(|l| l.strip_prefix("STATUS="))
            .map(str::to_string)
            .collect::<Vec<_>>();
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        let (stopping, _) = read_until(&socket, "STOPPING=1", Duration::from_secs(20));
        let code = wait_exit(&mut child, Duration::from_secs(20));
        (
            ready,
            before_ready,
            watchdog,
            serving,
            status,
            killed,
            stopping,
            code,
        )
    })
    .await
    .expect("join");
    let (ready, before_ready, watchdog, serving, status, killed, stopping, code) = outcome;
    assert!(ready, "no READY=1; got {before_ready:?}");
    // The watchdog ping carries the sources' state once the refreshes finished.
    assert!(
        status
            .iter()
            .any(|s| s.starts_with("5 sources ok, 0 failing; last refresh")),
        "no STATUS= with the sources' state: {status:?}"
    );
    assert!(watchdog, "no WATCHDOG=1 after READY=1");
    assert!(serving, "not listening when READY=1 was sent");
    assert!(killed);
    assert!(stopping, "no STOPPING=1 after SIGTERM");
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_without_notify_socket() {
    // No NOTIFY_SOCKET: the daemon starts, serves and stops as usual (the notifications are
    // no-ops rather than errors).
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = format!("127.0.0.1:{}", free_port());
    let config =
        common::write_config_listening(dir.path(), &addr, &server, &standard_sources(), "");
    let outcome = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tributary"))
            .arg("--config")
            .arg(&config)
            .arg("run")
            .env_remove("NOTIFY_SOCKET")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start");
        let served = wait_for(
            &addr,
            "/topics/tech.atom",
            Duration::from_secs(30),
            |s, b| s == 200 && b.contains("<entry>"),
        );
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let code = wait_exit(&mut child, Duration::from_secs(20));
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut stderr);
        }
        (code, stderr, served)
    })
    .await
    .expect("join");
    assert!(outcome.2, "did not poll and serve without NOTIFY_SOCKET");
    assert_eq!(outcome.0, Some(0));
    assert!(
        !outcome.1.contains("notify"),
        "warned about notifications: {}",
        outcome.1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs systemd-socket-activate (Debian package systemd); .ci/run installs it"]
async fn serves_on_the_socket_passed_by_socket_activation() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // The config names a port nobody listens on: only the passed socket can answer.
    let unused = format!("127.0.0.1:{}", free_port());
    let config =
        common::write_config_listening(dir.path(), &unused, &server, &standard_sources(), "");
    let addr = format!("127.0.0.1:{}", free_port());
    let outcome = tokio::task::spawn_blocking(move || {
        let mut child = Command::new("systemd-socket-activate")
            .args(["-l", &addr])
            .arg(env!("CARGO_BIN_EXE_tributary"))
            .arg("--config")
            .arg(&config)
            .arg("run")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start systemd-socket-activate");
        // The first connection starts the daemon; it must answer on that same socket.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut status = None;
        while status.is_none() && Instant::now() < deadline {
            status = http_get(&addr, "/topics/all.atom").map(|r| r.0);
            if status.is_none() {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let on_config_port = std::net::TcpStream::connect(&unused).is_ok();
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = wait_exit(&mut child, Duration::from_secs(20));
        (status, on_config_port)
    })
    .await
    .expect("join");
    assert_eq!(outcome.0, Some(200));
    assert!(!outcome.1, "bound the configured port despite LISTEN_FDS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_adds_sources_and_topics_and_rejects_a_broken_config() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = format!("127.0.0.1:{}", free_port());
    let config = common::write_config_listening(
        dir.path(),
        &addr,
        &server,
        &[("rss_guid.xml", &["tech"])],
        "",
    );
    let server_ref = &server;
    let added = || {
        common::write_config_listening(
            dir.path(),
            &addr,
            server_ref,
            &[
                ("rss_guid.xml", &["tech"]),
                ("indonesian.xml", &["indonesia"]),
            ],
            "[[topic]]\nslug = \"indonesia\"\ntitle = \"Berita Indonesia\"\n",
        )
    };
    let log = dir.path().join("stderr.log");
    let socket_path = dir.path().join("notify.sock");
    let notify = std::sync::Arc::new(UnixDatagram::bind(&socket_path).expect("notify socket"));
    notify
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    // RELOADING=1 then READY=1 around a reload; returns the READY message.
    let around_reload = |notify: std::sync::Arc<UnixDatagram>| {
        let (reloading, _) = read_until(&notify, "RELOADING=1", Duration::from_secs(20));
        let (ready, messages) = read_until(&notify, "READY=1", Duration::from_secs(20));
        (
            reloading && ready,
            messages.last().cloned().unwrap_or_default(),
        )
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env("NOTIFY_SOCKET", &socket_path)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start tributary run");
    let pid = child.id().to_string();
    let hup = || {
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .is_ok_and(|s| s.success())
    };

    let addr2 = addr.clone();
    let first = tokio::task::spawn_blocking(move || {
        let served = wait_for(
            &addr2,
            "/topics/tech.atom",
            Duration::from_secs(30),
            |s, b| s == 200 && b.contains("<entry>"),
        );
        let unknown = http_get(&addr2, "/topics/indonesia.atom").map(|r| r.0);
        (served, unknown)
    })
    .await
    .expect("join");
    assert!(first.0, "the first config was not served");
    assert_eq!(first.1, Some(404));
    assert_eq!(server.hits("indonesian.xml"), 0);

    added();
    assert!(hup());
    let addr2 = addr.clone();
    let notify2 = notify.clone();
    let (reloaded, notified) = tokio::task::spawn_blocking(move || {
        let notified = around_reload(notify2);
        let reloaded = wait_for(
            &addr2,
            "/topics/indonesia.atom",
            Duration::from_secs(30),
            |s, b| s == 200 && b.contains("Berita Indonesia") && b.contains("<entry>"),
        );
        (reloaded, notified)
    })
    .await
    .expect("join");
    assert!(notified.0, "no RELOADING=1 then READY=1 around the reload");
    assert!(
        reloaded,
        "the added topic and source did not appear without a restart"
    );
    assert_eq!(
        server.hits("indonesian.xml"),
        1,
        "the added source is polled once"
    );

    std::fs::write(&config, "[server]\nlisten = 12\n[[source]\n").expect("break config");
    assert!(hup());
    let addr2 = addr.clone();
    let log2 = log.clone();
    let notify2 = notify.clone();
    let (after, rejected) = tokio::task::spawn_blocking(move || {
        let rejected = around_reload(notify2);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let text = std::fs::read_to_string(&log2).unwrap_or_default();
            if text.contains("reload rejected") {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (
            (
                http_get(&addr2, "/topics/indonesia.atom").map(|r| r.0),
                http_get(&addr2, "/topics/tech.atom").map(|r| r.0),
            ),
            rejected,
        )
    })
    .await
    .expect("join");
    assert!(
        rejected.0,
        "no RELOADING=1 then READY=1 around the rejected reload"
    );
    assert!(
        rejected.1.contains("STATUS=reload rejected: "),
        "{:?}",
        rejected.1
    );
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.contains("reload rejected"), "{text}");
    assert!(
        text.contains("feeds.toml:"),
        "the error names the file: {text}"
    );
    assert_eq!(
        after,
        (Some(200), Some(200)),
        "the old config keeps serving"
    );

    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let code = tokio::task::spawn_blocking(move || wait_exit(&mut child, Duration::from_secs(20)))
        .await
        .expect("join");
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics_report_the_running_daemon() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = format!("127.0.0.1:{}", free_port());
    server.set("missing.xml", 404, "text/plain", b"no".to_vec());
    let config = common::write_config_listening(
        dir.path(),
        &addr,
        &server,
        &[("rss_guid.xml", &["tech"]), ("missing.xml", &["tech"])],
        "[cluster]\nnode = \"n1\"\n",
    );
    let mut child = common::spawn_run(&config, "warn", Stdio::null());
    let pid = child.id().to_string();
    let addr2 = addr.clone();
    let (served, health, metrics) = tokio::task::spawn_blocking(move || {
        let served = wait_for(
            &addr2,
            "/topics/tech.atom",
            Duration::from_secs(30),
            |s, b| s == 200 && b.contains("<entry>"),
        );
        // Both sources have been tried once both outcomes show in the metrics (the page can
        // show the stored entries before their refresh is counted: it commits first).
        let mut metrics = String::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            metrics = http_get(&addr2, "/metrics")
                .map(|r| r.1)
                .unwrap_or_default();
            if metrics.contains("outcome=\"failed\"} 1")
                && metrics.contains("outcome=\"stored\"} 1")
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (served, http_get(&addr2, "/healthz"), metrics)
    })
    .await
    .expect("join");
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let code = tokio::task::spawn_blocking(move || wait_exit(&mut child, Duration::from_secs(20)))
        .await
        .expect("join");
    assert!(served);
    assert_eq!(health, Some((200, "ok\n".to_string())));
    let lines: Vec<&str> = metrics.lines().collect();
    let value = |name: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .map(str::to_string)
    };
    for (name, expected) in [
        (
            "tributary_fetches_total{node=\"n1\",outcome=\"stored\"}",
            "1",
        ),
        (
            "tributary_fetches_total{node=\"n1\",outcome=\"failed\"}",
            "1",
        ),
        (
            "tributary_fetch_duration_seconds_bucket{node=\"n1\",le=\"30\"}",
            "2",
        ),
        ("tributary_fetch_duration_seconds_count{node=\"n1\"}", "2"),
        ("tributary_entries_total{node=\"n1\",kind=\"new\"}", "3"),
        ("tributary_entries_total{node=\"n1\",kind=\"merged\"}", "0"),
        (
            &format!(
                "tributary_source_consecutive_failures{{node=\"n1\",source=\"{}\"}}",
                server.url("missing.xml")
            ),
            "1",
        ),
        (
            &format!(
                "tributary_source_consecutive_failures{{node=\"n1\",source=\"{}\"}}",
                server.url("rss_guid.xml")
            ),
            "0",
        ),
    ] {
        assert_eq!(
            value(name).as_deref(),
            Some(expected),
            "{name} in:\n{metrics}"
        );
    }
    let requests =
        value("tributary_http_requests_total{node=\"n1\",route=\"/topics/{file}\",status=\"200\"}")
            .and_then(|v| v.parse::<u64>().ok());
    assert!(requests.is_some_and(|n| n >= 1), "{metrics}");
    let success = value(&format!(
        "tributary_source_last_success_timestamp_seconds{{node=\"n1\",source=\"{}\"}}",
        server.url("rss_guid.xml")
    ))
    .and_then(|v| v.parse::<i64>().ok());
    assert!(success.is_some_and(|t| t > 1_700_000_000), "{metrics}");
    let size =
        value("tributary_database_size_bytes{node=\"n1\"}").and_then(|v| v.parse::<u64>().ok());
    assert!(size.is_some_and(|n| n > 0), "{metrics}");
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_series_exist_at_zero_before_the_first_fetch() {
    let server = FixtureServer::start().await;
    let drip = DripServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = format!("127.0.0.1:{}", free_port());
    let config = common::write_config_listening(
        dir.path(),
        &addr,
        &server,
        &[("drip.xml", &["tech"])],
        "[cluster]\nnode = \"n1\"\n",
    );
    common::redirect_source(&config, &server, "drip.xml", &drip.url(), "600s");
    let mut child = common::spawn_run(&config, "warn", Stdio::null());
    let pid = child.id().to_string();
    let requests = drip.requests.clone();
    let metrics = tokio::task::spawn_blocking(move || {
        // The only source's refresh has begun and cannot finish: no fetch was counted yet.
        let deadline = Instant::now() + Duration::from_secs(30);
        while requests.load(std::sync::atomic::Ordering::SeqCst) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        http_get(&addr, "/metrics")
    })
    .await
    .expect("join");
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let code = tokio::task::spawn_blocking(move || wait_exit(&mut child, Duration::from_secs(30)))
        .await
        .expect("join");
    assert!(drip.requests() >= 1, "the source was never requested");
    let (status, metrics) = metrics.expect("/metrics answers");
    assert_eq!(status, 200);
    for line in [
        "tributary_fetches_total{node=\"n1\",outcome=\"stored\"} 0",
        "tributary_fetches_total{node=\"n1\",outcome=\"not_modified\"} 0",
        "tributary_fetches_total{node=\"n1\",outcome=\"unchanged\"} 0",
        "tributary_fetches_total{node=\"n1\",outcome=\"failed\"} 0",
        "tributary_entries_total{node=\"n1\",kind=\"new\"} 0",
        "tributary_entries_total{node=\"n1\",kind=\"updated\"} 0",
        "tributary_entries_total{node=\"n1\",kind=\"merged\"} 0",
        "tributary_fetch_duration_seconds_count{node=\"n1\"} 0",
        "tributary_http_connections_shed_total{node=\"n1\"} 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line:?} in:\n{metrics}"
        );
    }
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_shed_idlest_first_while_healthz_answers() {
    // More than the daemon may open files, as in a flood of silent connections.
    const OPENED: usize = 300;
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = format!("127.0.0.1:{}", free_port());
    let config = common::write_config_listening(
        dir.path(),
        &addr,
        &server,
        &[("rss_guid.xml", &["tech"])],
        "[cluster]\nnode = \"n1\"\n",
    );
    let log = dir.path().join("log.json");
    let outcome = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        // 256 open files: fewer than the connections the test opens.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("ulimit -n 256 && exec \"$0\" --log-format json --config \"$1\" run")
            .arg(env!("CARGO_BIN_EXE_tributary"))
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("start tributary run");
        let up = wait_for(&addr, "/healthz", Duration::from_secs(30), |s, _| s == 200);
        let serving = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|e| e["message"] == "serving");
        // Silent connections, oldest first, a little apart so that their ages differ.
        let mut silent = Vec::new();
        for _ in 0..OPENED {
            if let Ok(stream) = std::net::TcpStream::connect(&addr) {
                silent.push(stream);
            }
            std::thread::sleep(Duration::from_millis(3));
        }
        let health = http_get(&addr, "/healthz");
        let metrics = http_get(&addr, "/metrics").map(|r| r.1).unwrap_or_default();
        std::thread::sleep(Duration::from_millis(300));
        // Closed by the server: end of stream or reset; still open: nothing to read yet.
        let open: Vec<bool> = silent
            .iter_mut()
            .map(|s| {
                s.set_nonblocking(true).expect("nonblocking");
                matches!(s.read(&mut [0u8; 16]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            })
            .collect();
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let code = wait_exit(&mut child, Duration::from_secs(30));
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        (up, serving, health, metrics, open, code, text)
    })
    .await
    .expect("join");
    let (up, serving, health, metrics, open, code, log) = outcome;
    assert!(up, "the daemon did not start under a 256-file limit: {log}");
    let serving = serving.expect("a \"serving\" event");
    assert_eq!(serving["open_files"], 256, "{serving}");
    let cap = serving["max_connections"]
        .as_u64()
        .expect("max_connections") as usize;
    assert!(cap < 256, "cap {cap} not below the limit");
    assert_eq!(open.len(), OPENED, "could not open every connection");
    assert_eq!(
        health,
        Some((200, "ok\n".to_string())),
        "/healthz at the cap"
    );
    let still_open = open.iter().filter(|o| **o).count();
    // The cap less the one shed to let /healthz in (and perhaps /metrics).
    assert!(
        (cap - 2..cap).contains(&still_open),
        "{still_open} of {OPENED} silent connections open with a cap of {cap}"
    );
    // The oldest went, the newest stayed.
    let margin = 20;
    assert!(
        open[..OPENED - cap - margin].iter().all(|o| !o),
        "an old connection stayed open: {open:?}"
    );
    assert!(
        open[OPENED - cap + margin..].iter().all(|o| *o),
        "a new connection was closed: {open:?}"
    );
    let shed = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tributary_http_connections_shed_total{node=\"n1\"} "))
        .and_then(|v| v.parse::<usize>().ok());
    assert!(
        shed.is_some_and(|n| n >= OPENED - cap),
        "shed count in:\n{metrics}"
    );
    assert!(
        !log.contains("Too many open files"),
        "ran out of file descriptors: {log}"
    );
    assert_eq!(code, Some(0));
}
