//! settlement-svc: shared savings and losses for every MSSP track and the Pioneer ACO Model.
//!
//! The rules themselves are the `settlement-rules` crate (pure, exact decimals; no gRPC, storage or
//! runtime): what the simulator calls in-process. This crate is their service.
//!
//! - [`server`]: the gRPC adapter (validation, conversion, idempotent recording).
//! - [`benchmarks`]: where a benchmark given by reference is read from (benchmark-svc over gRPC, or
//!   benchmarks held in process).
//! - [`backtest`]: reconciles a CMS ACO Public Use File and compares with what CMS paid.

pub mod backtest;
pub mod benchmarks;
pub mod server;
