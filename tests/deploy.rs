//! The shipped monitoring matches the code: every series the Grafana dashboard and the alert
//! rules read is one callops records, and the files parse.

use std::collections::BTreeSet;

/// `callops_*` series names in `text`, with Prometheus's histogram suffixes taken off.
fn series(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("callops_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len()
            && (bytes[end].is_ascii_lowercase()
                || bytes[end] == b'_'
                || bytes[end].is_ascii_digit())
        {
            end += 1;
        }
        let name = &text[start..end];
        let base = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        names.insert(base.to_string());
        i = end;
    }
    names
}

/// Every metric name the code records (`metrics::counter!/gauge!/histogram!("callops_…"`).
fn recorded() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut stack = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for kind in ["counter!(", "gauge!(", "histogram!("] {
                    for part in text.split(kind).skip(1) {
                        let part = part.trim_start();
                        if let Some(rest) = part.strip_prefix('"') {
                            if let Some(name) = rest.split('"').next() {
                                names.insert(name.to_string());
                            }
                        }
                    }
                }
            }
        }
    }
    names
}

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn the_dashboard_and_the_alerts_read_only_recorded_series() {
    let recorded = recorded();
    let dashboard = read("deploy/grafana/dashboards/callops.json");
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).expect("dashboard JSON");
    assert!(parsed["panels"].as_array().is_some_and(|p| p.len() >= 10));
    let alerts = read("deploy/prometheus/alerts.yml");
    for (file, text) in [("dashboard", &dashboard), ("alerts", &alerts)] {
        let used = series(text);
        assert!(!used.is_empty(), "{file} reads callops series");
        let missing: Vec<_> = used.difference(&recorded).collect();
        assert!(
            missing.is_empty(),
            "{file} reads series callops never records: {missing:?}"
        );
    }
    for alert in [
        "CallopsDeadJobs",
        "CallopsQueueStalled",
        "CallopsPollerBehind",
        "CallopsHttp5xx",
        "CallopsTelegram429",
        "CallopsCallFailures",
        "CallopsVendorErrors",
    ] {
        assert!(alerts.contains(alert), "alert {alert} is shipped");
    }
}

#[test]
fn compose_binds_http_to_localhost_and_hard_codes_no_password() {
    let compose = read("docker-compose.yml");
    assert!(compose.contains("\"127.0.0.1:${HTTP_PORT:-8080}:8080\""));
    assert!(!compose.contains("POSTGRES_PASSWORD: callops"));
    assert!(compose.contains("profiles: [\"monitoring\"]"));
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("HEALTHCHECK") && dockerfile.contains("callops\", \"healthcheck"));
    assert!(read(".dockerignore").lines().any(|l| l.trim() == "target"));
}
