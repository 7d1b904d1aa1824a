//! attribution-svc: beneficiary assignment to ACOs by the plurality of primary care services
//! (42 CFR 425.400-425.404).
//!
//! Not built yet. Its v1 contract is `proto/acorn/attribution/v1/attribution.proto`
//! (`acorn.attribution.v1.AttributionService`); the rule engine, the CCLF readers and the server
//! arrive with the attribution issue and follow settlement-svc's layout: a pure rule engine in the
//! library, `server.rs` for the gRPC adapter, the shared conventions of `acorn_proto::serve`.
