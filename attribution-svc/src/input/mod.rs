//! File readers: the documented CSV layouts ([`csv`]) and CMS CCLF files ([`cclf`]), each mapped to
//! the engine's text records (`attribution_rules::input::{RawLine, RawBeneficiary}`).

pub mod blocks;
pub mod cclf;
pub mod csv;

/// `count` inputs for the readers' never-panic tests: each `prefix` then a random number (below
/// `max_len`) of bytes drawn from `alphabet`, by xorshift64 from `seed`.
#[cfg(test)]
fn random_inputs(
    seed: u64,
    count: usize,
    max_len: u64,
    prefix: &[u8],
    alphabet: &[u8],
) -> Vec<Vec<u8>> {
    let mut s = seed;
    (0..count)
        .map(|_| {
            let mut bytes = prefix.to_vec();
            for _ in 0..(s % max_len) {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                bytes.push(alphabet[(s % alphabet.len() as u64) as usize]);
            }
            bytes
        })
        .collect()
}
