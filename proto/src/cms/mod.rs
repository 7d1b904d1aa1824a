//! Readers for CMS file formats.

// The crate root allows these lints for the generated gRPC code; hand-written readers keep them.

pub mod cclf;
pub mod puf;
