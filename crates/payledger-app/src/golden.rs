//! Golden files of the binary rows this crate stores (cursors, PSP tasks,
//! payment idempotency records), for unit tests: each file lists named
//! byte strings as `name: hex`, one per line (`#` starts a comment).
//!
//! A golden file is written once, when it is missing and the tests run
//! with `PAYLEDGER_BLESS=1`, and never edited afterwards: stored data
//! must keep loading. A format change adds a new file next to the old one.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Checks `actual` (name → bytes, in a stable order) against the golden
/// file `name`; returns the stored rows so the test can decode them.
pub fn check(file: &str, actual: &[(&str, Vec<u8>)]) -> BTreeMap<String, Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/golden")
        .join(file);
    if !path.exists() {
        assert!(
            std::env::var_os("PAYLEDGER_BLESS").is_some_and(|v| v == "1"),
            "{} is missing; write it with PAYLEDGER_BLESS=1 after checking the output",
            path.display()
        );
        let text: String = actual
            .iter()
            .map(|(name, bytes)| format!("{name}: {}\n", hex::encode(bytes)))
            .collect();
        std::fs::write(&path, text).expect("write the golden file");
    }
    let text = std::fs::read_to_string(&path).expect("read the golden file");
    let stored: BTreeMap<String, Vec<u8>> = text
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (name, hex_text) = line.split_once(": ").expect("`name: hex` lines");
            let bytes = hex::decode(hex_text.trim()).expect("hex bytes");
            (name.to_owned(), bytes)
        })
        .collect();
    for (name, bytes) in actual {
        let golden = stored
            .get(*name)
            .unwrap_or_else(|| panic!("{file} has no row `{name}`"));
        assert_eq!(
            hex::encode(bytes),
            hex::encode(golden),
            "{file}: `{name}` is encoded differently now; stored rows must keep their format"
        );
    }
    stored
}
