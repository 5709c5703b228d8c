//! The two backends' migrations stay in step: from the point they were aligned (0009), every
//! number exists in both, with the same name, so a change is never applied to one backend only.

use std::collections::BTreeMap;

fn migrations(backend: &str) -> BTreeMap<u32, String> {
    let dir = format!("{}/migrations/{backend}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|name| {
            let (num, rest) = name.split_once('_')?;
            let rest = rest.strip_suffix(".sql")?;
            Some((num.parse().ok()?, rest.to_string()))
        })
        .collect()
}

#[test]
fn migration_numbers_line_up_from_0009() {
    let sqlite = migrations("sqlite");
    let postgres = migrations("postgres");
    let later =
        |m: &BTreeMap<u32, String>| -> Vec<u32> { m.range(10..).map(|(n, _)| *n).collect() };
    assert_eq!(
        sqlite.keys().last(),
        postgres.keys().last(),
        "latest numbers differ"
    );
    assert_eq!(later(&sqlite), later(&postgres));
    for n in later(&sqlite) {
        assert_eq!(
            sqlite[&n], postgres[&n],
            "migration {n:04} is named differently"
        );
    }
    // No gaps: sqlx applies in order, and a gap usually means a file went to one backend only.
    for m in [&sqlite, &postgres] {
        let nums: Vec<u32> = m.keys().copied().collect();
        assert_eq!(nums, (1..=nums.len() as u32).collect::<Vec<_>>());
    }
}
