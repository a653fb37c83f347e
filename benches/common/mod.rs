//! What the GPU decode benchmarks share (`gpu_decode`, `wgpu_vs_ash`): their inputs (the
//! corpus streams plus named files, `$DSR_CORPUS`, `$DSR_BENCH_INPUTS`), the data every engine
//! decodes (inputs repeated, laid out back to back), environment knobs and statistics.

#![allow(dead_code)] // each bench uses its part

use ds_runtime::gpu_decode::PageJob;
use dsr_gdeflate::{TILE_SIZE, TileStream};
use std::error::Error;
use std::ops::Range;
use std::path::{Path, PathBuf};

pub type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// One source tile stream.
pub struct Input {
    pub name: String,
    pub bytes: Vec<u8>,
    /// Byte range of each page in `bytes`, and its decoded size.
    pub pages: Vec<(Range<usize>, usize)>,
    pub decoded: usize,
}

/// The data decoded by every engine: inputs repeated, laid out back to back in one output.
pub struct Data<'a> {
    /// `(input, offset of its decoded bytes in the output)`, in output order.
    pub copies: Vec<(&'a Input, usize)>,
    pub decoded: usize,
    pub compressed: usize,
    pub pages: usize,
}

impl<'a> Data<'a> {
    /// `inputs` repeated (whole set at a time) until the decoded size reaches `target`.
    pub fn repeat(inputs: &[&'a Input], target: usize) -> Self {
        Self::repeat_while(inputs, |decoded, _| decoded < target.max(1))
    }

    /// `inputs` repeated (whole set at a time) while the decoded size stays below `target`
    /// (at least one copy).
    pub fn repeat_below(inputs: &[&'a Input], target: usize) -> Self {
        Self::repeat_while(inputs, |decoded, set| decoded == 0 || decoded + set <= target)
    }

    /// Appends whole copies of `inputs` while `more(decoded so far, one copy's size)`.
    fn repeat_while(inputs: &[&'a Input], more: impl Fn(usize, usize) -> bool) -> Self {
        let mut data = Self { copies: Vec::new(), decoded: 0, compressed: 0, pages: 0 };
        let set: usize = inputs.iter().map(|i| i.decoded).sum();
        if set == 0 {
            return data;
        }
        while more(data.decoded, set) {
            for &input in inputs {
                data.copies.push((input, data.decoded));
                data.decoded += input.decoded;
                data.compressed += input.pages.iter().map(|(r, _)| r.len()).sum::<usize>();
                data.pages += input.pages.len();
            }
        }
        data
    }

    /// Every page of the data, each decoding to its place in the one output.
    pub fn page_jobs(&self) -> Vec<PageJob<'a>> {
        let mut jobs = Vec::with_capacity(self.pages);
        for &(input, at) in &self.copies {
            for (i, (range, size)) in input.pages.iter().enumerate() {
                jobs.push(PageJob {
                    page: &input.bytes[range.clone()],
                    dst_offset: (at + i * TILE_SIZE) as u64,
                    dst_size: *size as u32,
                });
            }
        }
        jobs
    }
}

pub fn env_usize(name: &str) -> Result<Option<usize>> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v.trim().parse().map_err(|e| format!("{name}={v}: {e}"))?)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(e) => Err(format!("{name}: {e}").into()),
    }
}

pub fn load(path: &Path, name: String) -> Result<Input> {
    let raw = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (bytes, name) = if raw.starts_with(&[0x04, 0xFB]) {
        (raw, name)
    } else {
        let stream = dsr_gdeflate::compress(&raw, dsr_gdeflate::Level::DEFAULT, 0)?;
        (stream, format!("{name} (compressed here, level 9)"))
    };
    let ts = TileStream::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let pages =
        (0..ts.num_tiles()).map(|i| (ts.tile_range(i), ts.tile_uncompressed_size(i))).collect::<Vec<_>>();
    let decoded = ts.uncompressed_size() as usize;
    Ok(Input { name, bytes, pages, decoded })
}

pub fn inputs() -> Result<Vec<Input>> {
    let corpus = std::env::var_os("DSR_CORPUS")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"), PathBuf::from)
        .join("gdeflate");
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(&corpus) {
        Ok(dir) => dir
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension() == Some("gdf".as_ref()))
            .collect(),
        Err(e) => {
            println!("note: corpus {}: {e}; using only the named inputs", corpus.display());
            Vec::new()
        }
    };
    paths.sort();
    // `cargo bench` passes `--bench`; other arguments are input files.
    paths.extend(std::env::args().skip(1).filter(|a| !a.starts_with("--")).map(PathBuf::from));
    if let Some(list) = std::env::var_os("DSR_BENCH_INPUTS") {
        paths.extend(std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()));
    }
    let mut inputs = Vec::new();
    for p in paths {
        let name =
            p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned());
        let input = load(&p, name)?;
        if input.pages.is_empty() {
            println!("note: {} has no tiles; left out", input.name);
        } else {
            inputs.push(input);
        }
    }
    if inputs.is_empty() {
        return Err("no input: no corpus streams (set DSR_CORPUS) and no files named".into());
    }
    Ok(inputs)
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Median, min, max.
pub fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}
