//! `callops numbering import FILE.csv...`: reads the official numbering plan files (Минцифры
//! open data: `ABC-3xx.csv`, `ABC-4xx.csv`, `ABC-8xx.csv`, `DEF-9xx.csv`) and stores their ranges
//! in the database, where every instance reads them at start in place of the shipped ranges of
//! the same leading digit. With `--table PATH` it writes the compact table instead (how the
//! shipped `assets/numbering/def-9xx.tsv` is made).

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::domain::numbering::{registry, Numbering};
use crate::store::Store;

/// What the import read, for the terminal.
pub struct Imported {
    pub numbering: Numbering,
    pub lines: Vec<String>,
}

/// Reads every file; a file that is not a numbering plan file fails the whole import.
pub fn read_files(files: &[PathBuf]) -> anyhow::Result<Imported> {
    let mut ranges = Vec::new();
    let mut lines = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let (mut r, report) = registry::read(&bytes).with_context(|| f.display().to_string())?;
        lines.push(format!(
            "{}: {} rows, {} ranges with a region; {} rows unreadable, {} with no single region (skipped)",
            f.display(),
            report.rows,
            r.len(),
            report.malformed,
            report.no_region
        ));
        ranges.append(&mut r);
    }
    Ok(Imported {
        numbering: Numbering::from_ranges(ranges),
        lines,
    })
}

fn source_line(files: &[PathBuf]) -> String {
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    format!(
        "{} (Минцифры open data «Российская система и план нумерации»)",
        names.join(", ")
    )
}

/// Runs the command; prints what it read and did.
pub async fn run(
    files: &[PathBuf],
    table: Option<&Path>,
    store: Option<std::sync::Arc<dyn Store>>,
) -> anyhow::Result<()> {
    let imported = read_files(files)?;
    for l in &imported.lines {
        println!("{l}");
    }
    let n = &imported.numbering;
    if n.is_empty() {
        anyhow::bail!("no ranges with a region were read; nothing changed");
    }
    let text = n.to_table(&source_line(files));
    match (table, store) {
        (Some(path), _) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            println!(
                "{} ranges written to {} ({} bytes)",
                n.len(),
                path.display(),
                text.len()
            );
        }
        (None, Some(store)) => {
            for digit in n.leading_digits() {
                let part = Numbering::from_ranges(n.ranges_of(digit));
                store
                    .save_numbering_table(digit, &part.to_table(&source_line(files)))
                    .await?;
                println!(
                    "numbers starting with {digit}: {} ranges stored; every instance uses them from its next start",
                    part.len()
                );
            }
        }
        (None, None) => anyhow::bail!("nowhere to put the ranges"),
    }
    Ok(())
}
