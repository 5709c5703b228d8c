//! Settings are declared once (`src/config/sections.rs`): the README's table is generated from
//! those declarations, and `.env.example` names only settings that exist.

use std::collections::BTreeSet;

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{}/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn the_readme_table_is_the_generated_one() {
    let readme = read("README.md");
    let start = readme
        .find("<!-- settings:begin")
        .expect("README has the settings markers");
    let body = &readme[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    let end = body.find("<!-- settings:end -->").unwrap();
    assert_eq!(
        &body[..end],
        callops::config::settings_table(),
        "regenerate the README table with `callops settings`"
    );
}

#[test]
fn every_setting_is_documented_once_and_its_default_parses() {
    let mut seen = BTreeSet::new();
    for s in callops::config::settings() {
        assert!(seen.insert(s.name), "{} declared twice", s.name);
        assert!(!s.doc.is_empty(), "{} has no doc line", s.name);
        assert!(
            s.name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
            "{}",
            s.name
        );
    }
    // The defaults, read as if the user wrote them, form a valid configuration.
    callops::config::Config::from_values(&Default::default(), callops::config::Purpose::Tooling)
        .expect("the defaults parse");
}

#[test]
fn env_example_names_only_real_settings() {
    let mut known: BTreeSet<&str> = callops::config::variables().collect();
    // Read by docker-compose.yml, not by callops.
    known.extend(["POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"]);
    let mut named = 0;
    for line in read(".env.example").lines() {
        let line = line.trim_start_matches('#').trim();
        let Some((name, _)) = line.split_once('=') else {
            continue;
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
            continue;
        }
        named += 1;
        assert!(known.contains(name), ".env.example names unknown {name}");
    }
    assert!(named > 10);
}
