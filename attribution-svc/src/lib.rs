//! attribution-svc: beneficiary assignment to ACOs by the plurality of primary care services
//! (42 CFR 425.400-425.404).
//!
//! The rules themselves are the `attribution-rules` crate (pure, integer cents; no gRPC, storage or
//! runtime): the engine, a whole population's run in memory, the text-record mapping and the seeded
//! synthetic generator, what the simulator calls in-process. This crate is their service:
//!
//! - [`input`]: CSV and CMS CCLF files to the engine's text records; [`files`]: the `assign`
//!   command's file path.
//! - [`codec`]: the compact stored forms of upload batches and results.
//! - [`server`]: the gRPC adapter ([`upload`]: an upload's claim lines, rows or columns); [`store`]: runs, batches and results in SQLite.
//! - [`synthetic`]: the seeded synthetic population in contract form (tests, `simulator load`);
//!   [`synth`]: the same population as the input files of `assign` (`attribution-svc synth`).
//! - `parquet` (cargo feature `parquet`): the input tables read from Parquet files, the assignment
//!   list and the synthetic population written as Parquet.

pub mod codec;
pub mod files;
pub mod input;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod server;
pub mod store;
pub mod synth;
pub mod synthetic;
pub mod upload;
