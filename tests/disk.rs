//! A database on a full or read-only disk: `run` starts all the same, serves what is stored, says
//! why it cannot write on `/healthz` and in `status`, and resumes writing (and polling) once the
//! disk can be written again; commands that only read work throughout. The disk is a small tmpfs
//! mounted by the test, so these tests need root.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{FixtureServer, free_port, spawn_run, tributary, wait_exit, wait_for};

/// A tmpfs of a few MiB mounted on a temporary directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount() -> Tmpfs {
        let dir = tempfile::tempdir().expect("tempdir");
        mount(&["-t", "tmpfs", "-o", "size=8m", "tmpfs"], dir.path());
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount(&self, mode: &str) {
        mount(&["-o", &format!("remount,{mode}")], self.path());
    }

    /// Writes zeros until the file system has no space left; returns the filler's path.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler).expect("filler");
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        let _ = file.flush();
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}

fn mount(args: &[&str], target: &Path) {
    let status = Command::new("mount")
        .args(args)
        .arg(target)
        .status()
        .expect("run mount(8)");
    assert!(
        status.success(),
        "mount {args:?} failed: these tests need root"
    );
}

/// What a disk test starts from: one source fetched into a database on the tmpfs, a second source
/// configured but never fetched (it is polled as soon as the daemon can write).
struct Setup {
    disk: Tmpfs,
    server: FixtureServer,
    config: PathBuf,
    addr: String,
}

async fn setup() -> Setup {
    let server = FixtureServer::start().await;
    let disk = Tmpfs::mount();
    let addr = format!("127.0.0.1:{}", free_port());
    let config = common::write_config_listening(
        disk.path(),
        &addr,
        &server,
        &[("rss_guid.xml", &["tech"])],
        "",
    );
    let (code, stdout, stderr) = common::fetch(&config, &[]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The second source, polled only once the database can be written.
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(&format!(
        "[[source]]\nurl = \"{}\"\ntopics = [\"tech\"]\n",
        server.url("atom.xml")
    ));
    std::fs::write(&config, text).expect("config");
    Setup {
        disk,
        server,
        config,
        addr,
    }
}

const STORED: &str = "Postmortem: the cache stampede";
const FROM_THE_SECOND_SOURCE: &str = "Notes on feeds";

/// `run` serves what is stored and reports `condition` on `/healthz`; `status` warns and lists the
/// sources; then `release` lets the disk be written and polling resumes.
fn serve_degraded_then_recover(setup: &Setup, condition: &str, release: impl FnOnce()) {
    let mut daemon = spawn_run(&setup.config, "info", std::process::Stdio::null());
    let addr = setup.addr.as_str();
    assert!(
        wait_for(addr, "/healthz", Duration::from_secs(20), |status, body| {
            status == 503 && body.contains("database cannot be written") && body.contains(condition)
        }),
        "/healthz reports that the database cannot be written ({condition})"
    );
    assert!(
        wait_for(
            addr,
            "/topics/all.atom",
            Duration::from_secs(5),
            |status, body| { status == 200 && body.contains(STORED) }
        ),
        "stored entries are served"
    );
    let (code, stdout, stderr) = tributary(&setup.config, &["status"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.starts_with("warning: ") && stderr.contains("cannot be written"),
        "{stderr}"
    );
    assert!(
        stdout.contains(&setup.server.url("rss_guid.xml")),
        "{stdout}"
    );
    assert_eq!(
        setup.server.hits("atom.xml"),
        0,
        "nothing is polled meanwhile"
    );

    release();
    assert!(
        wait_for(addr, "/healthz", Duration::from_secs(30), |status, _| {
            status == 200
        }),
        "writable again: healthy"
    );
    assert!(
        wait_for(
            addr,
            "/topics/all.atom",
            Duration::from_secs(30),
            |_, body| { body.contains(FROM_THE_SECOND_SOURCE) && body.contains(STORED) }
        ),
        "polling resumed and stored the second source's entries"
    );
    let (code, _, stderr) = tributary(&setup.config, &["status"]);
    assert_eq!((code, stderr.as_str()), (0, ""));

    let pid = daemon.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    assert_eq!(wait_exit(&mut daemon, Duration::from_secs(30)), Some(0));
}

/// Regression: on a full disk `run` failed at start-up with SQLite's "disk I/O error … xShmMap".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root: mounts a small tmpfs"]
async fn start_up_on_a_full_disk_serves_what_is_stored_and_resumes_writing() {
    let setup = setup().await;
    let filler = setup.disk.fill();
    let done = tokio::task::spawn_blocking(move || {
        serve_degraded_then_recover(&setup, "the disk cannot be written", || {
            std::fs::remove_file(&filler).expect("free the space");
        });
    });
    done.await.expect("test body");
}

/// Regression: on a read-only file system `run` failed with "attempt to write a readonly
/// database", and `status` could not read the database either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root: mounts a small tmpfs"]
async fn start_up_on_a_read_only_disk_serves_what_is_stored_and_resumes_writing() {
    let setup = setup().await;
    setup.disk.remount("ro");
    let backup_dir = tempfile::tempdir().expect("tempdir");
    let copy = backup_dir.path().join("copy.db");
    let (code, stdout, stderr) = tributary(
        &setup.config,
        &["backup", copy.to_str().expect("utf-8 path")],
    );
    assert_eq!(
        code, 0,
        "backup reads a read-only database: {stdout}{stderr}"
    );
    let (code, opml, _) = tributary(&setup.config, &["export-opml"]);
    assert_eq!(code, 0);
    assert!(opml.contains(&setup.server.url("rss_guid.xml")));
    let done = tokio::task::spawn_blocking(move || {
        serve_degraded_then_recover(&setup, "cannot be opened for writing", || {
            setup.disk.remount("rw");
        });
    });
    done.await.expect("test body");
}
