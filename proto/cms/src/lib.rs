//! acorn-cms: readers for CMS result files that need no gRPC, storage or async runtime, so the
//! simulator and any rules user can read them (acorn-proto re-exports them as `acorn_proto::cms`).
//!
//! - [`puf`]: Medicare Shared Savings Program ACO Public Use Files, every year's layout.

pub mod puf;
