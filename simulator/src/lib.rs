//! simulator: Monte Carlo over synthetic beneficiary populations through the same rule engines,
//! in-process, to estimate program-wide gross and net savings; also the load generator for the
//! services.
//!
//! The model is specified in `MODEL.md` (every formula, parameter, default and source).
//!
//! - [`scenario`]: the scenario file (TOML) and the embedded presets, validated.
//! - [`model`]: one replicate ([`simulate`], [`Model::simulate`]) and many ([`run`]).
//! - [`results`]: what one replicate produces (per ACO-year records, per-year program totals).
//! - [`stats`]: mean, 95% interval and Monte Carlo standard error over replicates.
//! - [`report`]: the `--out DIR` files (summary.json, CSV, Parquet, SVG plots) and the stdout table.
//! - [`engines`]: where the benchmark and settlement steps run (in process, or the services over
//!   gRPC with `--via grpc`).
//! - [`merge`]: `simulator merge`, shard outputs into the files of one unsharded run.
//! - [`diagnose`]: `simulator diagnose`, the model's ingredients against published figures and a PUF.
//! - [`calibrate`]: `simulator calibrate`, the preset's parameters fitted to its published targets.
//! - [`load`]: `simulator load`, the load generator for the services (and the echo service).

pub mod calibrate;
pub mod diagnose;
pub mod engines;
#[cfg(feature = "grpc")]
pub mod load;
pub mod merge;
pub mod model;
pub mod report;
pub mod results;
pub mod scenario;
pub mod stats;

pub use model::{ClaimsStats, MODEL_VERSION, Model, SimError, run, run_with, simulate};
pub use scenario::{Scenario, ScenarioError};
