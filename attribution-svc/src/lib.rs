//! attribution-svc: beneficiary assignment to ACOs by the plurality of primary care services
//! (42 CFR 425.400-425.404).
//!
//! - [`engine`]: the rule engine (pure, integer cents): what the simulator calls in-process.
//! - [`run`]: a whole population's run in memory (records and lines in, assignments out).
//! - [`input`]: CSV and CMS CCLF files, and text fields, to engine records; [`files`]: the
//!   `assign` command's file path.
//! - [`synthetic`]: a seeded generator of domain-valid beneficiaries, claims and participant lists.
//! - [`codec`]: the compact stored forms of upload batches and results.
//! - [`server`]: the gRPC adapter; [`store`]: runs, batches and results in SQLite.
//! - [`loadgen`]: a streaming-ingest load generator for a running server.

pub mod codec;
pub mod engine;
pub mod files;
pub mod input;
pub mod loadgen;
pub mod run;
pub mod server;
pub mod store;
pub mod synthetic;
