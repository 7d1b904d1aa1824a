//! Runs a replicate generator over a range of replicate indices on `threads` threads and feeds the
//! results to a sink (an [`OutputSet`](super::OutputSet), a comparison) in replicate order, so what
//! the sink writes does not depend on the thread count.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc;

use indicatif::ProgressBar;

use super::ReportError;
use crate::results::Replicate;

/// Why a driven run stopped.
#[derive(Debug)]
pub enum Failure<E> {
    /// The generator failed on a replicate.
    Model {
        /// The replicate index.
        replicate: u32,
        /// The generator's error.
        error: E,
    },
    /// The output could not be written.
    Report(ReportError),
}

impl<E: std::fmt::Display> std::fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Model { replicate, error } => write!(f, "replicate {replicate}: {error}"),
            Failure::Report(e) => e.fmt(f),
        }
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> std::error::Error for Failure<E> {}

/// Generates every replicate of `range` with `generate` (called from `threads` worker threads, at
/// least one) and hands them to `sink` in index order; `progress` advances by one per replicate.
/// Stops at the first failure. Memory: the replicates finished ahead of a slower one wait in order.
pub fn drive<E, F, S>(
    range: Range<u32>,
    threads: usize,
    progress: &ProgressBar,
    generate: F,
    mut sink: S,
) -> Result<(), Failure<E>>
where
    E: Send,
    F: Fn(u32) -> Result<Replicate, E> + Sync,
    S: FnMut(Replicate) -> Result<(), ReportError>,
{
    let next_index = AtomicU32::new(range.start);
    let stop = AtomicBool::new(false);
    let threads = threads.max(1);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<(u32, Result<Replicate, E>)>(threads * 2);
        for _ in 0..threads {
            let tx = tx.clone();
            let (next_index, stop, generate, end) = (&next_index, &stop, &generate, range.end);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = next_index.fetch_add(1, Ordering::Relaxed);
                    if i >= end || tx.send((i, generate(i))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut want = range.start;
        let result = (|| {
            for (i, r) in rx.iter() {
                let r = r.map_err(|error| Failure::Model {
                    replicate: i,
                    error,
                })?;
                pending.insert(i, r);
                while let Some(r) = pending.remove(&want) {
                    sink(r).map_err(Failure::Report)?;
                    progress.inc(1);
                    want += 1;
                }
            }
            Ok(())
        })();
        stop.store(true, Ordering::Relaxed);
        // Dropping the receiver (end of this scope) unblocks any worker waiting to send.
        drop(rx);
        result
    })
}
