//! Claim versions by claim and line: CMS claim files carry, for each claim line (CCLF
//! `CUR_CLM_UNIQ_ID` + `CLM_LINE_NUM`, CSV `claim_id` + `line_number`), an original, adjustments
//! and cancellations (CCLF `CLM_ADJSMT_TYPE_CD` 0, 2, 1). A cancellation or adjustment applies to
//! its own claim line only, never to other claims with the same amount.
//!
//! Resolution of one claim line from the versions received (in any order) [I: CMS's version
//! sequence, original -> (cancel -> adjustment)*, read without version timestamps]:
//! - each cancellation retires one version: when there are at least as many cancellations as
//!   originals and adjustments, the line is cancelled and counts nowhere (no charges, no service
//!   count in the pre-screen or steps, no date for the tie-break);
//! - otherwise the current version counts once: the last adjustment received, else the original
//!   (an adjustment replaces the original's amount, codes and date);
//! - cancellations beyond the versions they could retire (a cancellation whose original was never
//!   received) are ignored and reported (`unmatched_cancellations`).
//!
//! An original repeated with the same claim id and line number and no other version counts each
//! time ([`super::tally_lines`], and [`crate::run::Run`] after a prescan; a run without a prescan
//! keeps every claim line and counts it once) [I: CMS files do not repeat a version].
//!
//! Lines without a claim id keep the summation rule: a cancellation subtracts its absolute amount
//! and one service from the same entity's tally.

use super::Version;

/// A claim line's identity: a 64-bit FNV-1a digest of the claim id (stable across releases and
/// machines: it is stored with upload batches) and the line number. [`ClaimKey::NONE`] means no
/// claim id was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ClaimKey {
    /// Digest of the claim id (never 0 for a given id).
    pub claim: u64,
    /// Line number within the claim.
    pub line: u32,
}

impl ClaimKey {
    /// No claim id.
    pub const NONE: ClaimKey = ClaimKey { claim: 0, line: 0 };

    /// The key of `claim_id` and `line_number`; [`ClaimKey::NONE`] when `claim_id` is empty.
    pub fn new(claim_id: &str, line_number: u32) -> ClaimKey {
        if claim_id.is_empty() {
            return ClaimKey::NONE;
        }
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in claim_id.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        ClaimKey {
            claim: h.max(1),
            line: line_number,
        }
    }

    /// Whether a claim id was given.
    pub fn is_some(self) -> bool {
        self.claim != 0
    }
}

/// The versions of one claim line received so far; `T` is what the current version carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions<T> {
    current: Option<T>,
    adjusted: bool,
    live: u32,
    cancels: u32,
}

impl<T> Default for Versions<T> {
    fn default() -> Self {
        Versions {
            current: None,
            adjusted: false,
            live: 0,
            cancels: 0,
        }
    }
}

/// What a claim line's versions come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved<T> {
    /// The version that counts, if the line is not cancelled.
    pub current: Option<T>,
    /// Versions that do not count: cancelled or replaced versions and the cancellations that
    /// retired them.
    pub superseded: u64,
    /// Cancellations with no version left to retire (ignored).
    pub unmatched_cancellations: u64,
}

impl<T: Copy> Versions<T> {
    /// Adds one version (its content `value`; unused for a cancellation).
    pub fn push(&mut self, version: Version, value: T) {
        match version {
            Version::Cancellation => self.cancels = self.cancels.saturating_add(1),
            Version::Original => {
                self.live = self.live.saturating_add(1);
                if !self.adjusted {
                    self.current = Some(value);
                }
            }
            Version::Adjustment => {
                self.live = self.live.saturating_add(1);
                self.adjusted = true;
                self.current = Some(value);
            }
        }
    }

    /// Resolves the line (see the module notes).
    pub fn resolve(&self) -> Resolved<T> {
        let (live, cancels) = (u64::from(self.live), u64::from(self.cancels));
        if cancels >= live {
            let unmatched = cancels - live;
            Resolved {
                current: None,
                superseded: live + cancels - unmatched,
                unmatched_cancellations: unmatched,
            }
        } else {
            Resolved {
                current: self.current,
                superseded: live + cancels - 1,
                unmatched_cancellations: 0,
            }
        }
    }
}
