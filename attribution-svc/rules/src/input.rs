//! Input: text fields (from gRPC, CSV or CCLF) to engine records.
//!
//! - [`parse_cents`]: decimal dollars to exact integer cents (at most two decimals; never rounds).
//! - [`RawLine`] / [`RawBeneficiary`]: a claim line and a beneficiary record with text fields, as
//!   every source carries them; [`crate::run::Run`] encodes them for the engine.
//!
//! The file readers that produce these records (the documented CSV layouts, CMS CCLF files) live in
//! attribution-svc's `input` module.

use crate::{ClaimType, Day, Enrollment, Version};

/// Largest allowed amount of one line, cents ($10 billion): anything larger is a data error.
pub const MAX_LINE_CENTS: i64 = 1_000_000_000_000;

/// Parses decimal dollars (`"123.45"`, `"-7"`, `"0.5"`) into exact cents. No exponent, `+`, spaces
/// or separators; at most two decimal places (never rounded); at most $10 billion.
pub fn parse_cents(s: &str) -> Result<i64, &'static str> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err("must be a decimal number of dollars such as \"123.45\"");
    }
    if frac.len() > 2 {
        return Err("must have at most two decimal places (cents)");
    }
    let int = int.trim_start_matches('0');
    if int.len() > 11 {
        return Err("is out of range (at most 10000000000 dollars)");
    }
    let whole: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| "is out of range")?
    };
    let mut cents = whole * 100;
    if let Some(f) = frac.bytes().next() {
        cents += i64::from(f - b'0') * 10;
    }
    if let Some(&f) = frac.as_bytes().get(1) {
        cents += i64::from(f - b'0');
    }
    if cents > MAX_LINE_CENTS {
        return Err("is out of range (at most 10000000000 dollars)");
    }
    Ok(if neg { -cents } else { cents })
}

/// A claim line with text identifiers and codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawLine<'a> {
    /// Beneficiary id.
    pub beneficiary_id: &'a str,
    /// Date of service.
    pub day: Day,
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

/// Parses `YYYY-MM-DD` or `YYYYMMDD`.
pub fn parse_day(s: &str) -> Option<Day> {
    let b = s.as_bytes();
    let (y, m, d) = match b.len() {
        10 if b[4] == b'-' && b[7] == b'-' => (&s[0..4], &s[5..7], &s[8..10]),
        8 => (s.get(0..4)?, s.get(4..6)?, s.get(6..8)?),
        _ => return None,
    };
    let num = |x: &str| small_code::<u32>(x, 4);
    Day::from_ymd(num(y)? as i32, num(m)?, num(d)?)
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
            "99999999999999999999",
            "NaN",
            "\u{661}",
        ] {
            assert!(parse_cents(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dates_and_small_codes() {
        assert_eq!(parse_day("2024-02-29"), Day::from_ymd(2024, 2, 29));
        assert_eq!(parse_day("20240229"), Day::from_ymd(2024, 2, 29));
        for bad in [
            "2023-02-29",
            "2024-2-29",
            "2024/02/29",
            "",
            "1000-01-01",
            "abcdefgh",
            "2024-02-2\u{e9}",
        ] {
            assert_eq!(parse_day(bad), None, "{bad:?}");
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
            let _ = parse_day(&text);
            let _ = small_code::<u16>(&text, 4);
            let _ = crate::codes::hcpcs_key(&text);
            let _ = crate::codes::specialty_key(&text);
        }
    }
}
