//! simulator: Monte Carlo over synthetic beneficiary populations through the same rule engines,
//! in-process, to estimate program-wide gross and net savings; also the load generator for the
//! services.
//!
//! Being built (the simulator issue); the model is specified in `design/MODEL.md`.
//!
//! - [`results`]: what one replicate produces (per ACO-year records, per-year program totals).

pub mod results;
