//! sipp as a SIP peer for tests (Debian's `sip-tester`): a scenario from `tests/sipp`, every
//! message it sends and receives logged to a file the test reads.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub fn sipp_available() -> bool {
    let found = Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        eprintln!("skipped: sipp is not installed (apt-get install sip-tester)");
    }
    found
}

pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Sipp(Child);

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn sipp(scenario: &str, port: u16) -> Sipp {
    sipp_with(scenario, port, &[])
}

pub fn sipp_with(scenario: &str, port: u16, extra: &[&str]) -> Sipp {
    let path = format!("{}/tests/sipp/{scenario}", env!("CARGO_MANIFEST_DIR"));
    let media = free_udp_port();
    let child = Command::new("sipp")
        .args(["-sf", &path, "-i", "127.0.0.1", "-p", &port.to_string()])
        .args(["-mp", &media.to_string(), "-m", "1", "-bg", "-nostdin"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp starts");
    std::thread::sleep(Duration::from_millis(300));
    Sipp(child)
}

/// sipp with every message it sends and receives logged to a file.
pub struct LoggedSipp {
    /// Kept for its drop, which stops sipp.
    _peer: Sipp,
    pub log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

pub fn sipp_logged(scenario: &str, port: u16) -> LoggedSipp {
    sipp_logged_with(scenario, port, &[])
}

pub fn sipp_logged_with(scenario: &str, port: u16, extra: &[&str]) -> LoggedSipp {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("messages.log");
    let log_arg = log.display().to_string();
    let mut args = vec!["-trace_msg", "-message_file", &log_arg];
    args.extend_from_slice(extra);
    let peer = sipp_with(scenario, port, &args);
    LoggedSipp {
        _peer: peer,
        log,
        _dir: dir,
    }
}

/// Polls sipp's log for up to `secs` until `found` holds; returns whether it did, and the log.
pub async fn wait_log(
    log: &std::path::Path,
    secs: u64,
    found: impl Fn(&str) -> bool,
) -> (bool, String) {
    let mut text = String::new();
    for _ in 0..secs * 20 {
        text = std::fs::read_to_string(log).unwrap_or_default();
        if found(&text) {
            return (true, text);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (false, text)
}

/// The numbers INVITEd, in order, from sipp's log (the trunk's format: 7XXXXXXXXXX).
pub fn invited(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.strip_prefix("INVITE sip:"))
        .filter_map(|l| l.split('@').next())
        .map(str::to_string)
        .collect()
}
