//! settlement-svc: shared savings and losses for every MSSP track and the Pioneer ACO Model.
//!
//! - [`engine`]: the rule engine (pure, exact decimals): what the simulator calls in-process.
//! - [`server`]: the gRPC adapter (validation, conversion, idempotent recording).
//! - [`backtest`]: reconciles a CMS ACO Public Use File and compares with what CMS paid.
//! - [`loadgen`]: a Reconcile load generator for a running server.

pub mod backtest;
pub mod engine;
pub mod loadgen;
pub mod server;
