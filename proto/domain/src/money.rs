//! Money: exact decimal parsing and the one rounding every engine applies to dollars.

use rust_decimal::{Decimal, RoundingStrategy};

/// Rounds money to cents, half away from zero: the only rounding of a settlement or a benchmark
/// dollar amount (each engine calls it where its regulation rounds, and nowhere else).
pub fn round_money(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Parses an exact decimal string: optional `-`, digits, optional `.` and digits. No exponent, sign
/// `+`, whitespace, thousands separator, `NaN` or infinity; at most 28 significant digits.
pub fn parse_decimal(s: &str) -> Result<Decimal, &'static str> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits_only = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if body.is_empty()
        || (int.is_empty() && frac.is_empty())
        || !digits_only(int)
        || !digits_only(frac)
    {
        return Err(
            "must be a decimal number such as \"1234.56\" (no exponent, sign '+', separators or spaces)",
        );
    }
    Decimal::from_str_exact(s).map_err(|_| "has too many digits (at most 28 significant digits)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_away_from_zero() {
        let d = |s: &str| Decimal::from_str_exact(s).unwrap();
        assert_eq!(round_money(d("1.005")), d("1.01"));
        assert_eq!(round_money(d("-1.005")), d("-1.01"));
        assert_eq!(round_money(d("1.0049")), d("1.00"));
    }

    #[test]
    fn parses_exact_decimals_and_rejects_the_rest() {
        assert_eq!(parse_decimal("1234.56"), Ok(Decimal::new(123456, 2)));
        assert_eq!(parse_decimal("-0.5"), Ok(Decimal::new(-5, 1)));
        assert_eq!(parse_decimal(".5"), Ok(Decimal::new(5, 1)));
        assert_eq!(parse_decimal("7."), Ok(Decimal::new(7, 0)));
        for bad in [
            "",
            "-",
            ".",
            "NaN",
            "nan",
            "inf",
            "-Infinity",
            "1e5",
            "+1",
            " 1",
            "1 ",
            "1,000",
            "1.2.3",
            "0x10",
            "١٢",
            "--1",
            "1-",
            "123456789012345678901234567890",
        ] {
            assert!(parse_decimal(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
