//! Shared helpers for the integration tests: the corpus location and its MANIFEST.
#![allow(dead_code)]

pub mod pages;

use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// `../shared/corpus`, relative to the workspace root (override with `DSR_CORPUS`).
pub fn corpus_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("DSR_CORPUS") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

/// One MANIFEST row (the columns the tests use).
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub lvl1_sha256: String,
    pub lvl12_sha256: String,
}

/// Parses `MANIFEST.tsv` by header names. Panics with a clear message if the corpus is missing:
/// these tests must not pass vacuously.
pub fn manifest() -> Vec<Row> {
    let path = corpus_dir().join("MANIFEST.tsv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("corpus MANIFEST {} unreadable: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("MANIFEST header").split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("column {name}"));
    let (n, sz, sh, s1, s12) =
        (col("name"), col("size"), col("sha256"), col("lvl1_sha256"), col("lvl12_sha256"));
    let rows: Vec<Row> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Row {
                name: f[n].to_string(),
                size: f[sz].parse().expect("size"),
                sha256: f[sh].to_string(),
                lvl1_sha256: f[s1].to_string(),
                lvl12_sha256: f[s12].to_string(),
            }
        })
        .collect();
    assert!(rows.len() >= 20, "MANIFEST has only {} rows", rows.len());
    rows
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Every `gdeflate/*.gdf` of the corpus with the MANIFEST's expected SHA-256 of its content.
pub fn corpus_streams() -> Vec<(String, Vec<u8>, String)> {
    let rows = manifest();
    let mut out = Vec::new();
    for entry in std::fs::read_dir(corpus_dir().join("gdeflate")).expect("corpus/gdeflate") {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let stem = file.rsplit_once(".lvl").map(|(s, _)| s.to_string()).expect("NAME.lvlN.gdf");
        let row = rows.iter().find(|r| r.name == stem).unwrap_or_else(|| panic!("{file} not in MANIFEST"));
        out.push((file, std::fs::read(&path).unwrap(), row.sha256.clone()));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 17, "expected the corpus's 17 streams, found {}", out.len());
    out
}

/// Every `raw/` file with its MANIFEST row.
pub fn corpus_raw() -> Vec<(Row, Vec<u8>)> {
    let rows = manifest();
    let mut out = Vec::new();
    for r in rows {
        let p = corpus_dir().join("raw").join(&r.name);
        if let Ok(b) = std::fs::read(&p) {
            out.push((r, b));
        }
    }
    assert!(out.len() >= 13, "expected the corpus's 13 raw files, found {}", out.len());
    out
}
