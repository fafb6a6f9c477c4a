//! The systemd units in packaging/systemd: the directives operators rely on are present, and
//! (with systemd's tools installed) `systemd-analyze verify` is clean and `systemd-analyze
//! security` rates the service's exposure at 2.0 or less.

use std::path::{Path, PathBuf};
use std::process::Command;

fn unit_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/systemd")
}

/// `key=value` lines of a unit file, comments and section headers left out.
fn directives(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn service_unit_has_the_required_directives() {
    let text = std::fs::read_to_string(unit_dir().join("tributary.service"))
        .expect("read the service unit");
    let found = directives(&text);
    let has = |key: &str, value: &str| found.iter().any(|(k, v)| k == key && v == value);
    for (key, value) in [
        ("Type", "notify"),
        ("WatchdogSec", "60"),
        ("Restart", "on-failure"),
        ("DynamicUser", "yes"),
        ("StateDirectory", "tributary"),
        ("ConfigurationDirectory", "tributary"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("NoNewPrivileges", "yes"),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
        ("SystemCallFilter", "@system-service"),
        ("MemoryDenyWriteExecute", "yes"),
        ("LockPersonality", "yes"),
        ("RestrictNamespaces", "yes"),
        ("CapabilityBoundingSet", ""),
        ("UMask", "0077"),
        ("LimitNOFILE", "32768"),
    ] {
        assert!(has(key, value), "tributary.service lacks {key}={value}");
    }
    let socket =
        std::fs::read_to_string(unit_dir().join("tributary.socket")).expect("read the socket unit");
    let socket = directives(&socket);
    assert!(socket.iter().any(|(k, _)| k == "ListenStream"));
    assert!(socket.iter().any(|(k, v)| k == "Accept" && v == "no"));
}

/// The units copied to a temporary directory with ExecStart pointing at the built binary, as
/// `systemd-analyze verify` checks that the command exists.
fn installed_units() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = std::fs::read_to_string(unit_dir().join("tributary.service"))
        .expect("read the service unit");
    let service = service.replace("/usr/bin/tributary", env!("CARGO_BIN_EXE_tributary"));
    std::fs::write(dir.path().join("tributary.service"), service).expect("write unit");
    std::fs::copy(
        unit_dir().join("tributary.socket"),
        dir.path().join("tributary.socket"),
    )
    .expect("copy the socket unit");
    dir
}

#[test]
#[ignore = "needs systemd-analyze (Debian package systemd); .ci/run installs it"]
fn systemd_analyze_verify_is_clean() {
    let dir = installed_units();
    let out = Command::new("systemd-analyze")
        .current_dir(dir.path())
        .args(["verify", "./tributary.service", "./tributary.socket"])
        .output()
        .expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "verify failed: {stderr}");
    assert!(
        !stderr.contains("tributary."),
        "verify reported problems with our units: {stderr}"
    );
}

#[test]
#[ignore = "needs systemd-analyze (Debian package systemd); .ci/run installs it"]
fn systemd_analyze_security_exposure_is_at_most_2() {
    let dir = installed_units();
    let out = Command::new("systemd-analyze")
        .current_dir(dir.path())
        .args(["security", "--offline=yes", "./tributary.service"])
        .output()
        .expect("systemd-analyze runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no exposure level in: {stdout}"));
    let figure: f64 = line
        .split(':')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the exposure from {line:?}"));
    eprintln!("systemd-analyze security: exposure {figure}");
    assert!(figure <= 2.0, "exposure {figure} > 2.0:\n{stdout}");
}
