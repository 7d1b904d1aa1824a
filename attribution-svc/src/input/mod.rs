//! File readers: the documented CSV layouts ([`csv`]) and CMS CCLF files ([`cclf`]), each mapped to
//! the engine's text records (`attribution_rules::input::{RawLine, RawBeneficiary}`).

pub mod blocks;
pub mod cclf;
pub mod csv;
