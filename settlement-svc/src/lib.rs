//! settlement-svc: shared savings and losses for every MSSP track and the Pioneer ACO Model.
//!
//! The rules themselves are the `settlement-rules` crate (pure, exact decimals; no gRPC, storage or
//! runtime): what the simulator calls in-process. This crate is their service.
//!
//! - [`server`]: the gRPC adapter (validation, conversion, idempotent recording).
//! - [`backtest`]: reconciles a CMS ACO Public Use File and compares with what CMS paid.
//! - [`loadgen`]: a Reconcile load generator for a running server.

pub mod backtest;
pub mod loadgen;
pub mod server;
