//! Readers for CMS file formats.

// The crate root allows these lints for the generated gRPC code; hand-written readers keep them.

pub mod cclf;
/// The PUF reader lives in the pure `acorn-cms` crate (the simulator reads PUFs without gRPC).
pub use acorn_cms::puf;
