//! benchmark-svc: ACO historical and updated benchmarks (42 CFR 425.601-425.603, 425.650-425.660).
//!
//! The rules themselves are the `benchmark-rules` crate (pure, exact decimals; no gRPC, storage or
//! runtime): what the simulator calls in-process. This crate is their service.
//!
//! - [`server`]: the gRPC adapter (validation, conversion, idempotent recording, beneficiary-level
//!   streaming).
//! - [`backtest`]: rebuilds the historical benchmarks of a CMS ACO Public Use File and compares them
//!   with the published ones.

pub mod backtest;
pub mod server;
