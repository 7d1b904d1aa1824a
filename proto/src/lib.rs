//! acorn's interface layer: everything about how acorn speaks to the outside.
//!
//! - [`common`], [`settlement`], [`benchmark`], [`attribution`]: the versioned gRPC contracts
//!   (generated from `proto/acorn/**/v1/*.proto`).
//! - [`serve`]: the server conventions every acorn binary shares (listen address, health,
//!   reflection, tracing, graceful shutdown, request limits).
//! - [`security`]: TLS and mTLS from certificate files, bearer tokens, reflection switch.
//! - [`explain`]: the conversion of the engines' explanation steps (`acorn_domain::Step`) into the
//!   contract's `ExplanationStep`.
//! - [`fields`]: request validation helpers that turn bad input into `INVALID_ARGUMENT` with
//!   `BadRequest` field violations.
//! - [`store`]: the one durable store mechanism (SQLite, group-commit writer, checkpoint, backup)
//!   that every store is built on.
//! - [`ledger`]: the durable, idempotent record ledger each service keeps, on [`store`].
//! - [`ops`]: metrics, access log and the overload limit every server applies.
//! - [`page`]: opaque page tokens bound to their query, for every list RPC.
//! - [`cli`]: the offline commands' output conventions (a closed pipe ends output quietly).
//! - [`cms`]: readers for CMS file formats (ACO Public Use Files, CCLF).

/// Declares `pub mod $name { pub mod v1 { .. } }` holding the code generated for `$package`.
macro_rules! contract {
    ($(#[$doc:meta])* $name:ident, $package:literal) => {
        $(#[$doc])*
        pub mod $name {
            /// Version 1.
            #[allow(missing_docs, unreachable_pub, clippy::all)]
            pub mod v1 {
                tonic::include_proto!($package);
            }
        }
    };
}

contract!(
    /// Generated code for `acorn.common.v1`.
    common,
    "acorn.common.v1"
);
contract!(
    /// Generated code for `acorn.settlement.v1`.
    settlement,
    "acorn.settlement.v1"
);
contract!(
    /// Generated code for `acorn.benchmark.v1`.
    benchmark,
    "acorn.benchmark.v1"
);
contract!(
    /// Generated code for `acorn.attribution.v1`.
    attribution,
    "acorn.attribution.v1"
);

impl common::v1::EnrollmentType {
    /// The four enrollment types in the engines' index order (`acorn_domain::EnrollmentType::ALL`:
    /// ESRD, disabled, aged/dual, aged/non-dual).
    pub const ALL: [Self; 4] = [
        Self::Esrd,
        Self::Disabled,
        Self::AgedDual,
        Self::AgedNonDual,
    ];
}

/// The encoded `FileDescriptorSet` of every acorn contract (for gRPC reflection).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/acorn_descriptor.bin"));

/// The encoded `FileDescriptorSet` of googleapis' `google.rpc` error details (`BadRequest`,
/// `Status`, ...), served by reflection so clients can decode the details of acorn's errors.
pub const ERROR_DETAILS_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/error_details_descriptor.bin"));

pub mod cli;
pub mod cms;

pub mod explain;
pub mod fields;
pub mod ledger;
pub mod middleware;
pub mod ops;
pub mod page;
pub mod security;
pub mod serve;
pub mod store;
pub mod telemetry;
