//! Minimum savings rate (MSR) and minimum loss rate (MLR).
//!
//! - The variable scale of 42 CFR 425.604(b) (also used by BASIC Levels A-B, 425.605(b)(1), and by
//!   two-sided ACOs choosing the variable option, 425.606(b)(1)(ii)(C), 425.610(b)(1)(iii),
//!   425.605(b)(2)(i)(C)), linearly interpolated on the ACO's exact number of assigned beneficiaries.
//!   CMS interpolates between the *printed* endpoints of each band (7,000 -> 3.4%, 7,999 -> 3.2%):
//!   every PY2014 Track 1 `MinSavPerc` in the CMS Public Use File matches this to 1e-9 points.
//!   The rule's own example (7,500 -> 3.3%) is that value rounded to one decimal.
//! - Below 5,000 beneficiaries, CMS's published scale ([`SMALL_ACO_EXTENSION_BANDS`]), by default.
//! - The fixed options of two-sided tracks: 0%, or symmetric 0.5%, 1.0%, 1.5% or 2.0%
//!   (425.606(b)(1)(ii), 425.610(b)(1), 425.605(b)(2)(i)).
//!
//! Rounding: the interpolation divides exactly in `rust_decimal` (28 significant digits); no
//! further rounding is applied, so the rate compares exactly against the savings rate.

use rust_decimal::Decimal;

/// One band: the rate falls linearly from `rate_at_min` at `min` to `rate_at_max` at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsrBand {
    /// Lowest assigned-beneficiary count of the band.
    pub min: u64,
    /// Highest count of the band (`u64::MAX` for the open-ended last band).
    pub max: u64,
    /// Rate at `min`, fraction.
    pub rate_at_min: Decimal,
    /// Rate at `max`, fraction.
    pub rate_at_max: Decimal,
}

/// An MSR scale: contiguous bands, non-increasing rates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsrSchedule {
    bands: Vec<MsrBand>,
}

/// Why a supplied schedule is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// No bands.
    #[error("a schedule needs at least one band")]
    Empty,
    /// A band whose max is below its min, or an open band that is not last.
    #[error(
        "band {0}: max_beneficiaries must be at least min_beneficiaries (0 = open-ended, last band only)"
    )]
    BadRange(usize),
    /// Bands that leave a gap or overlap.
    #[error("band {0}: min_beneficiaries must be the previous band's max_beneficiaries + 1")]
    NotContiguous(usize),
    /// A rate outside [0, 1] or a rate that rises with size.
    #[error("band {0}: rates must be fractions in [0, 1] that never increase with size")]
    BadRate(usize),
    /// The open-ended band must be flat.
    #[error("band {0}: the open-ended band must have rate_at_max equal to rate_at_min")]
    OpenBandNotFlat(usize),
}

const fn pct(tenths_of_percent: i64) -> Decimal {
    // tenths of a percent -> fraction: 39 -> 0.039
    Decimal::from_parts(tenths_of_percent as u32, 0, 0, false, 3)
}

const fn band(min: u64, max: u64, lo: i64, hi: i64) -> MsrBand {
    MsrBand {
        min,
        max,
        rate_at_min: pct(lo),
        rate_at_max: pct(hi),
    }
}

/// The 42 CFR 425.604(b) table, 5,000 beneficiaries and up (rates in tenths of a percent).
pub const REGULATION_BANDS: [MsrBand; 10] = [
    band(5_000, 5_999, 39, 36),
    band(6_000, 6_999, 36, 34),
    band(7_000, 7_999, 34, 32),
    band(8_000, 8_999, 32, 31),
    band(9_000, 9_999, 31, 30),
    band(10_000, 14_999, 30, 27),
    band(15_000, 19_999, 27, 25),
    band(20_000, 49_999, 25, 22),
    band(50_000, 59_999, 22, 20),
    band(60_000, u64::MAX, 20, 20),
];

/// CMS's scale below 5,000 beneficiaries (the 425.605(b)(1) sliding scale that "ranges from 2.0% to
/// 12.2%", printed in the eCFR only as an image; rows as shipped by the Tuva Project's MSSP connector,
/// [`SMALL_ACO_SOURCE`]). It is the default below 5,000 for every track's variable option: it
/// reproduces CMS's published MSRs of one-sided and two-sided ACOs alike (PY2014 Track 1: 4,845 ->
/// 3.98474%, 3,857 -> 4.52841%; PY2018 Track 1 605 -> 11.4635%, Track 3 A2011 4,324 -> 4.2714357%;
/// PY2022 ENHANCED A1769 3,933 -> 4.49%), as 425.605(b)(2)(i)(C), 425.606(b)(1)(ii)(C) and
/// 425.610(b)(1) make the two-sided variable MSR the one-sided one. A supplied schedule replaces it.
pub const SMALL_ACO_EXTENSION_BANDS: [MsrBand; 4] = [
    band(0, 499, 122, 122),
    band(500, 999, 122, 87),
    band(1_000, 2_999, 87, 50),
    band(3_000, 4_999, 50, 39),
];

/// Source tag of [`SMALL_ACO_EXTENSION_BANDS`].
pub const SMALL_ACO_SOURCE: &str = "42 CFR 425.605(b)(1) scale below 5,000 beneficiaries (an image in the eCFR) [S] Tuva Project cms_mssp_connector seeds/mssp_msr_lookup.csv; reproduces CMS's published MinSavPerc";

impl MsrSchedule {
    /// The 425.604(b) table (no value below 5,000 beneficiaries).
    pub fn regulation() -> Self {
        Self {
            bands: REGULATION_BANDS.to_vec(),
        }
    }

    /// The 425.604(b) table extended below 5,000 by [`SMALL_ACO_EXTENSION_BANDS`]: the default scale
    /// of the variable option.
    pub fn with_small_aco_extension() -> Self {
        let mut bands = SMALL_ACO_EXTENSION_BANDS.to_vec();
        bands.extend_from_slice(&REGULATION_BANDS);
        Self { bands }
    }

    /// A validated custom schedule (bands in ascending order; `max == u64::MAX` = open-ended).
    pub fn new(bands: Vec<MsrBand>) -> Result<Self, ScheduleError> {
        if bands.is_empty() {
            return Err(ScheduleError::Empty);
        }
        let last = bands.len() - 1;
        for (i, b) in bands.iter().enumerate() {
            if b.max < b.min || (b.max == u64::MAX && i != last) {
                return Err(ScheduleError::BadRange(i));
            }
            let unit = |r: Decimal| r >= Decimal::ZERO && r <= Decimal::ONE;
            if !unit(b.rate_at_min) || !unit(b.rate_at_max) || b.rate_at_max > b.rate_at_min {
                return Err(ScheduleError::BadRate(i));
            }
            if b.max == u64::MAX && b.rate_at_max != b.rate_at_min {
                return Err(ScheduleError::OpenBandNotFlat(i));
            }
            if i > 0 {
                let prev = bands[i - 1];
                if prev.max.checked_add(1) != Some(b.min) {
                    return Err(ScheduleError::NotContiguous(i));
                }
                if b.rate_at_min > prev.rate_at_max {
                    return Err(ScheduleError::BadRate(i));
                }
            }
        }
        Ok(Self { bands })
    }

    /// The bands.
    pub fn bands(&self) -> &[MsrBand] {
        &self.bands
    }

    /// Smallest population the schedule defines.
    pub fn min_beneficiaries(&self) -> u64 {
        self.bands.first().map_or(0, |b| b.min)
    }

    /// The rate for `n` assigned beneficiaries, or `None` outside the schedule.
    pub fn rate(&self, n: u64) -> Option<Decimal> {
        let b = self.bands.iter().find(|b| b.min <= n && n <= b.max)?;
        if b.max == b.min || b.rate_at_min == b.rate_at_max {
            return Some(b.rate_at_min);
        }
        // Linear interpolation between the printed endpoints (see the module docs).
        let span = Decimal::from(b.max - b.min);
        let offset = Decimal::from(n - b.min);
        Some(b.rate_at_min - (b.rate_at_min - b.rate_at_max) * offset / span)
    }
}

/// The MSR/MLR option an ACO chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsrOption {
    /// The track's default (see [`crate::rules::MsrRule`]).
    Default,
    /// Variable by population (the scale).
    Variable,
    /// Symmetric fixed rate: 0, 0.005, 0.01, 0.015 or 0.02.
    Fixed(Decimal),
}

impl MsrOption {
    /// The fixed options two-sided ACOs may choose.
    pub const FIXED_CHOICES: [Decimal; 5] = [
        Decimal::ZERO,
        Decimal::from_parts(5, 0, 0, false, 3),
        Decimal::from_parts(1, 0, 0, false, 2),
        Decimal::from_parts(15, 0, 0, false, 3),
        Decimal::from_parts(2, 0, 0, false, 2),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn msr(n: u64) -> Decimal {
        MsrSchedule::regulation().rate(n).expect("defined")
    }

    /// 425.604(b): every printed endpoint, the band boundaries and CMS's 7,500 example.
    #[test]
    fn regulation_table_endpoints_and_boundaries() {
        let cases = [
            (5_000, dec!(0.039)),
            (5_999, dec!(0.036)),
            (6_000, dec!(0.036)),
            (6_999, dec!(0.034)),
            (7_000, dec!(0.034)),
            (7_999, dec!(0.032)),
            (8_000, dec!(0.032)),
            (9_000, dec!(0.031)),
            (10_000, dec!(0.030)),
            (14_999, dec!(0.027)),
            (15_000, dec!(0.027)),
            (20_000, dec!(0.025)),
            (49_999, dec!(0.022)),
            (50_000, dec!(0.022)),
            (59_999, dec!(0.020)),
            (60_000, dec!(0.020)),
            (1_000_000, dec!(0.020)),
        ];
        for (n, expected) in cases {
            assert_eq!(msr(n), expected, "n = {n}");
        }
    }

    /// CMS's example (CMS-1345-P p.268): 7,500 beneficiaries -> 3.3%, after rounding; the exact
    /// endpoint interpolation is 3.4% - 0.2% x 500/999.
    #[test]
    fn cms_example_7500_is_3_3_percent() {
        let r = msr(7_500);
        assert_eq!(r.round_dp(3), dec!(0.033));
        assert_eq!(r.round_dp(9), dec!(0.032998999));
    }

    /// Published PY2014 MinSavPerc values reproduced from N_AB (A67373: 34,601 -> 2.353985133%).
    #[test]
    fn reproduces_published_py2014_msrs() {
        assert_eq!(msr(34_601).round_dp(11), dec!(0.02353985133));
        let ext = MsrSchedule::with_small_aco_extension();
        assert_eq!(
            (ext.rate(4_845).expect("defined") * dec!(100)).round_dp(5),
            dec!(3.98474)
        );
        assert_eq!(
            (ext.rate(3_857).expect("defined") * dec!(100)).round_dp(5),
            dec!(4.52841)
        );
        assert_eq!(
            (ext.rate(605).expect("defined") * dec!(100)).round_dp(4),
            dec!(11.4635)
        );
        assert_eq!(ext.rate(0), Some(dec!(0.122)));
    }

    #[test]
    fn undefined_below_5000_without_a_schedule() {
        assert_eq!(MsrSchedule::regulation().rate(4_999), None);
        assert_eq!(MsrSchedule::regulation().min_beneficiaries(), 5_000);
    }

    #[test]
    fn custom_schedules_are_validated() {
        let b = |min, max, lo, hi| MsrBand {
            min,
            max,
            rate_at_min: lo,
            rate_at_max: hi,
        };
        assert_eq!(MsrSchedule::new(vec![]), Err(ScheduleError::Empty));
        assert_eq!(
            MsrSchedule::new(vec![
                b(0, 9, dec!(0.02), dec!(0.01)),
                b(11, u64::MAX, dec!(0.01), dec!(0.01))
            ]),
            Err(ScheduleError::NotContiguous(1))
        );
        assert_eq!(
            MsrSchedule::new(vec![b(0, 9, dec!(0.01), dec!(0.02))]),
            Err(ScheduleError::BadRate(0))
        );
        assert_eq!(
            MsrSchedule::new(vec![b(0, u64::MAX, dec!(0.02), dec!(0.01))]),
            Err(ScheduleError::OpenBandNotFlat(0))
        );
        let pioneer = MsrSchedule::new(vec![
            b(5_000, 14_999, dec!(0.027), dec!(0.02)),
            b(15_000, u64::MAX, dec!(0.01), dec!(0.01)),
        ]);
        assert_eq!(pioneer.expect("valid").rate(20_000), Some(dec!(0.01)));
    }
}
