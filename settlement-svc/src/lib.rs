//! settlement-svc: shared savings and losses for every MSSP track and the Pioneer ACO Model.
//!
//! - [`engine`]: the rule engine (pure, exact decimals) - what the simulator calls in-process.

pub mod engine;
