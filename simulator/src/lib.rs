//! simulator: Monte Carlo over synthetic beneficiary populations through the same rule engines,
//! in-process, to estimate program-wide gross and net savings; also the load generator for the
//! services.
//!
//! Being built (the simulator issue); the model is specified in `design/MODEL.md`.
//!
//! - [`results`]: what one replicate produces (per ACO-year records, per-year program totals).
//! - [`stats`]: mean, 95% interval and Monte Carlo standard error over replicates.
//! - [`report`]: the `--out DIR` files (summary.json, CSV, Parquet, SVG plots) and the stdout table.
//! - [`merge`]: `simulator merge`, shard outputs into the files of one unsharded run.

pub mod merge;
pub mod report;
pub mod results;
pub mod stats;
