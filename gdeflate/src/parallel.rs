//! Tile-parallel execution: a scoped work queue that hands items (tiles) to up to `threads`
//! worker threads in index order.
//!
//! Invariants: items are handed out strictly in increasing index order, and after any item
//! fails no new item is handed out. Every item with a lower index than a failed one has
//! therefore already been started and runs to completion, so the error reported (the one of
//! the lowest-indexed failing item) is the same for every thread count and every schedule.
//! Results come back in index order, so output never depends on the thread count.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Number of worker threads to use for a request of `requested` threads (0 = one per
/// available core) over `items` work items.
pub fn effective_threads(requested: usize, items: usize) -> usize {
    let want =
        if requested == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { requested };
    want.clamp(1, items.max(1))
}

/// Runs `f(state, index, item)` over every item on up to `threads` threads (0 = all cores),
/// each thread with its own `init()` state. Returns the results in index order, or the error
/// of the lowest-indexed failing item.
pub(crate) fn try_map<I, S, R, E>(
    items: Vec<I>,
    threads: usize,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, usize, I) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E>
where
    I: Send,
    R: Send,
    E: Send,
{
    let n = items.len();
    let threads = effective_threads(threads, n);
    if threads == 1 {
        let mut state = init();
        return items.into_iter().enumerate().map(|(i, item)| f(&mut state, i, item)).collect();
    }

    let queue = Mutex::new(items.into_iter().enumerate());
    let failed = AtomicBool::new(false);
    let worker = || {
        let mut state = init();
        let mut done = Vec::new();
        loop {
            if failed.load(Ordering::Relaxed) {
                break;
            }
            // A poisoned lock means another worker panicked; its panic resurfaces at join.
            let Some((i, item)) = queue.lock().ok().and_then(|mut q| q.next()) else { break };
            let r = f(&mut state, i, item);
            if r.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            done.push((i, r));
        }
        done
    };

    let mut slots: Vec<Option<Result<R, E>>> = (0..n).map(|_| None).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(worker)).collect();
        for h in handles {
            match h.join() {
                Ok(done) => {
                    for (i, r) in done {
                        slots[i] = Some(r);
                    }
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });

    // Items after the first failure may never have run (None); everything before it did.
    let mut out = Vec::with_capacity(n);
    for slot in slots {
        match slot {
            Some(Ok(r)) => out.push(r),
            Some(Err(e)) => return Err(e),
            None => break,
        }
    }
    debug_assert_eq!(out.len(), n, "an item was skipped without an earlier error");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_in_index_order_for_any_thread_count() {
        for threads in [1, 2, 3, 8] {
            let items: Vec<u32> = (0..100).collect();
            let r: Result<Vec<u32>, ()> = try_map(
                items,
                threads,
                || (),
                |_, i, x| {
                    assert_eq!(i as u32, x);
                    Ok(x * 2)
                },
            );
            assert_eq!(r.unwrap(), (0..100).map(|x| x * 2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn lowest_indexed_error_wins_for_any_thread_count() {
        for threads in [1, 2, 4, 16] {
            let items: Vec<u32> = (0..200).collect();
            let r: Result<Vec<u32>, u32> = try_map(
                items,
                threads,
                || (),
                |_, _, x| {
                    if x % 37 == 36 { Err(x) } else { Ok(x) }
                },
            );
            assert_eq!(r, Err(36), "threads = {threads}");
        }
    }
}
