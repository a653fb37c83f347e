//! The pipeline's timeline, for performance work: when `DSR_TRACE_PIPELINE` names a file, the
//! scheduler, the I/O completions and the GPU waiter record timestamped events (reads issued
//! and done, GPU batches submitted and retired, pieces finished) and the runtime writes them to
//! that file as CSV when it is dropped (`t_us,event,a,b,c`, one line per event; what a, b and c
//! are is listed under [`Event`]). Which stage waits for which is then read off the file
//! (`scripts/trace-summary.py`), where throughput figures alone cannot say it.
//!
//! Invariants: off (the variable unset or empty), [`record`] is one load of an initialised
//! `OnceLock`; on, the event buffer is allocated once (at most [`CAPACITY`] events; later ones
//! are counted and dropped, never reallocated), so tracing adds no allocation per request.

use std::io::Write;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Instant;

/// Most events kept per runtime lifetime (24 bytes each: 24 MiB).
pub const CAPACITY: usize = 1 << 20;

/// What happened. a, b, c per kind:
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A read went to the I/O engine: chunk index, bytes, file offset.
    ReadIssued,
    /// A read completed: chunk index, bytes read (or 0 on error), file offset.
    ReadDone,
    /// A GPU batch was submitted: timeline value, pieces, tiles (decode pieces).
    BatchSubmitted,
    /// GPU pieces are ready but the pipeline's batches in flight are at their limit: pieces
    /// waiting, batches running, 0.
    BatchDeferred,
    /// The GPU waiter saw a batch complete: timeline value, 0, 0.
    BatchRetired,
    /// A piece finished and released its chunk (if it had one): chunk index (or u64::MAX), 1
    /// on success else 0, 0.
    PieceDone,
}

impl Event {
    fn name(self) -> &'static str {
        match self {
            Self::ReadIssued => "read_issued",
            Self::ReadDone => "read_done",
            Self::BatchSubmitted => "batch_submitted",
            Self::BatchDeferred => "batch_deferred",
            Self::BatchRetired => "batch_retired",
            Self::PieceDone => "piece_done",
        }
    }
}

struct Trace {
    path: String,
    start: Instant,
    events: Mutex<Events>,
}

struct Events {
    kept: Vec<(u64, Event, u64, u64, u64)>,
    dropped: u64,
}

fn trace() -> Option<&'static Trace> {
    static TRACE: OnceLock<Option<Trace>> = OnceLock::new();
    TRACE
        .get_or_init(|| {
            let path = std::env::var("DSR_TRACE_PIPELINE").ok().filter(|p| !p.is_empty())?;
            Some(Trace {
                path,
                start: Instant::now(),
                events: Mutex::new(Events { kept: Vec::with_capacity(CAPACITY), dropped: 0 }),
            })
        })
        .as_ref()
}

/// Whether events are being recorded.
pub fn enabled() -> bool {
    trace().is_some()
}

/// Records `event` with its three values (see [`Event`]), when tracing is on.
pub fn record(event: Event, a: u64, b: u64, c: u64) {
    let Some(t) = trace() else { return };
    let mut ev = t.events.lock().unwrap_or_else(PoisonError::into_inner);
    // Under the lock, so that the file's order is the time order across threads.
    let us = u64::try_from(t.start.elapsed().as_micros()).unwrap_or(u64::MAX);
    if ev.kept.len() < CAPACITY {
        ev.kept.push((us, event, a, b, c));
    } else {
        ev.dropped += 1;
    }
}

/// Appends the events recorded so far to the trace file and forgets them (called when a
/// runtime is dropped). Errors go to stderr: a trace must never fail the pipeline.
pub fn flush() {
    let Some(t) = trace() else { return };
    let mut ev = t.events.lock().unwrap_or_else(PoisonError::into_inner);
    let write = || -> std::io::Result<()> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&t.path)?;
        let mut out = std::io::BufWriter::new(file);
        for &(us, event, a, b, c) in &ev.kept {
            writeln!(out, "{us},{},{a},{b},{c}", event.name())?;
        }
        if ev.dropped > 0 {
            writeln!(out, "# {} events dropped (more than {CAPACITY})", ev.dropped)?;
        }
        out.flush()
    };
    if let Err(e) = write() {
        eprintln!("ds-runtime: cannot write the pipeline trace {}: {e}", t.path);
    }
    ev.kept.clear();
    ev.dropped = 0;
}
