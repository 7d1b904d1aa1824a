//! benchmark-svc: ACO historical and updated benchmarks (42 CFR 425.601-425.603, 425.650-425.660).
//!
//! - [`engine`]: the rule engine (pure, exact decimals): what the simulator calls in-process.
//! - [`server`]: the gRPC adapter (validation, conversion, idempotent recording, beneficiary-level
//!   streaming).
//! - [`backtest`]: rebuilds the historical benchmarks of a CMS ACO Public Use File and compares them
//!   with the published ones.
//! - [`loadgen`]: a ComputeBenchmark load generator for a running server.

pub mod backtest;
pub mod engine;
pub mod loadgen;
pub mod server;
