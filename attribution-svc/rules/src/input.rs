//! Input: text fields (from gRPC, CSV or CCLF) to engine records.
//!
//! - [`parse_cents`]: decimal dollars to exact integer cents (at most two decimals; never rounds).
//! - [`RawLine`] / [`RawBeneficiary`]: a claim line and a beneficiary record with text fields, as
//!   every source carries them; [`crate::run::Run`] encodes them for the engine.
//!
//! The file readers that produce these records (the documented CSV layouts, CMS CCLF files) live in
//! attribution-svc's `input` module.

use acorn_domain::money::{FixedError, Sign, parse_fixed};

use crate::{ClaimType, Date, Enrollment, Version};

/// Largest allowed amount of one line, cents ($10 billion): anything larger is a data error.
pub const MAX_LINE_CENTS: i64 = 1_000_000_000_000;

/// Parses decimal dollars (`"123.45"`, `"-7"`, `"0.5"`) into exact cents. No exponent, `+`, spaces
/// or separators; at most two decimal places (never rounded); at most $10 billion
/// ([`acorn_domain::money::parse_fixed`] at scale 2, signed).
pub fn parse_cents(s: &str) -> Result<i64, &'static str> {
    // The common form, `-?D.DD` with 1-10 digits before the point, read directly (the same value
    // parse_fixed gives: at most 9999999999.99 dollars, under the maximum).
    let b = s.as_bytes();
    let (negative, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    let n = digits.len();
    if (4..=13).contains(&n) && digits[n - 3] == b'.' {
        let (mut cents, mut ok) = (0i64, true);
        for (i, &c) in digits.iter().enumerate() {
            if i != n - 3 {
                ok &= c.is_ascii_digit();
                cents = cents * 10 + i64::from(c.wrapping_sub(b'0'));
            }
        }
        if ok {
            return Ok(if negative { -cents } else { cents });
        }
    }
    parse_fixed(s, 2, Sign::Signed, MAX_LINE_CENTS.unsigned_abs()).map_err(|e| match e {
        FixedError::Malformed => "must be a decimal number of dollars such as \"123.45\"",
        FixedError::TooManyDecimals => "must have at most two decimal places (cents)",
        FixedError::OutOfRange => "is out of range (at most 10000000000 dollars)",
    })
}

/// A claim line with text identifiers and codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawLine<'a> {
    /// Beneficiary id.
    pub beneficiary_id: &'a str,
    /// Date of service.
    pub day: Date,
    /// HCPCS/CPT code (anything: unknown codes are not primary care).
    pub hcpcs: &'a str,
    /// Revenue center code (institutional), e.g. `0521`.
    pub revenue_center: &'a str,
    /// Place of service, e.g. `11`.
    pub place_of_service: &'a str,
    /// Claim type.
    pub claim_type: ClaimType,
    /// Billing TIN.
    pub tin: &'a str,
    /// CCN.
    pub ccn: &'a str,
    /// CMS specialty code of the rendering practitioner.
    pub specialty: &'a str,
    /// Allowed cents.
    pub allowed_cents: i64,
    /// Claim version.
    pub version: Version,
    /// Claim id (CCLF `CUR_CLM_UNIQ_ID`, CSV `claim_id`); empty when not given (then versions net
    /// by summation).
    pub claim_id: &'a str,
    /// Line number within the claim (CCLF `CLM_LINE_NUM`, CSV `line_number`).
    pub line_number: u32,
}

/// A beneficiary record with text identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawBeneficiary<'a> {
    /// Beneficiary id.
    pub id: &'a str,
    /// Enrollment facts.
    pub enrollment: Enrollment,
    /// Designated clinician NPI.
    pub designated_npi: &'a str,
    /// Designated clinician TIN.
    pub designated_tin: &'a str,
    /// Designated clinician's specialty code (PY2018 check), if given.
    pub designated_specialty: &'a str,
    /// The ACO the beneficiary was assigned to in the prior year, if known.
    pub prior_year_aco_id: &'a str,
}

/// Parses a small numeric code (revenue center `0521`, place of service `11`); `None` when blank
/// or not a number in range.
pub fn small_code<T: TryFrom<u32>>(s: &str, max_len: usize) -> Option<T> {
    if s.is_empty() || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok().and_then(|v| T::try_from(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_are_exact_and_never_rounded() {
        let ok = [
            ("123.45", 12_345),
            ("-7", -700),
            ("0.5", 50),
            (".05", 5),
            ("7.", 700),
            ("000012.30", 1_230),
            ("10000000000", MAX_LINE_CENTS),
            ("-0", 0),
            ("-12.34", -1_234),
            ("0.00", 0),
            ("9999999999.99", 999_999_999_999),
            ("-9999999999.99", -999_999_999_999),
            ("10000000000.00", MAX_LINE_CENTS),
        ];
        for (s, c) in ok {
            assert_eq!(parse_cents(s), Ok(c), "{s}");
        }
        for bad in [
            "",
            "-",
            ".",
            "1.234",
            "1e3",
            "+1",
            " 1",
            "1,000",
            "1.2.3",
            "10000000000.01",
            "1x.00",
            "12.3x",
            "--1.00",
            "1.-0",
            "99999999999999999999",
            "NaN",
            "\u{661}",
        ] {
            assert!(parse_cents(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dates_and_small_codes() {
        assert_eq!(
            Date::parse_iso_in_years("2024-02-29"),
            Date::new(2024, 2, 29)
        );
        assert_eq!(Date::parse_iso_in_years("20240229"), Date::new(2024, 2, 29));
        for bad in [
            "2023-02-29",
            "2024-2-29",
            "2024/02/29",
            "",
            "1000-01-01",
            "abcdefgh",
            "2024-02-2\u{e9}",
        ] {
            assert_eq!(Date::parse_iso_in_years(bad), None, "{bad:?}");
        }
        assert_eq!(small_code::<u16>("0521", 4), Some(521));
        assert_eq!(small_code::<u8>("31", 2), Some(31));
        assert_eq!(small_code::<u8>("311", 2), None);
        assert_eq!(small_code::<u8>("x1", 2), None);
    }

    /// Pseudo-random bytes never panic the parsers.
    #[test]
    fn parsers_never_panic_on_random_bytes() {
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..20_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let len = (s % 14) as usize;
            let bytes: Vec<u8> = (0..len).map(|i| (s >> (i * 4)) as u8).collect();
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse_cents(&text);
            let _ = Date::parse_iso_in_years(&text);
            let _ = small_code::<u16>(&text, 4);
            let _ = crate::codes::hcpcs_key(&text);
            let _ = crate::codes::specialty_key(&text);
        }
    }
}
