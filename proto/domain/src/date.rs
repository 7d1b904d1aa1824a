//! [`Date`]: the one calendar date of the workspace, a `jiff` civil date.
//!
//! The calendar itself (month lengths, leap years, day numbers, adding days) is `jiff`'s; nothing
//! here computes it by hand. A date is four bytes and compares as (year, month, day); where a
//! compact integer is wanted (a stored record), [`Date::day_number`] is days since 1970-01-01.
//!
//! Which years a source accepts is the source's rule, so there are two checked constructors:
//! [`Date::new`] for the contract and the rule engines (a real date in 1900-9999, [`Date::YEARS`]),
//! and [`Date::from_calendar`] for file formats that carry older dates (any real date with a year
//! 0-9999). [`Date::parse_iso`] reads the `YYYY-MM-DD` / `YYYYMMDD` forms the files use;
//! [`Date::constant`] writes a date literal in code (checked when compiled).

use std::fmt;
use std::ops::RangeInclusive;

use jiff::{SignedDuration, civil};

/// 1970-01-01, day number 0.
const EPOCH: civil::Date = civil::Date::constant(1970, 1, 1);

/// A real calendar date (years -9999 to 9999, [`Date::MIN`] to [`Date::MAX`]), ordered; the
/// constructors say which of those they accept.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(civil::Date);

impl Date {
    /// The years a contract date, a service date or an agreement start may have.
    pub const YEARS: RangeInclusive<i32> = 1900..=9999;

    /// The earliest representable date, -9999-01-01: earlier than any date a checked constructor
    /// accepts, so it serves as "no date yet" where a latest date is tracked.
    pub const MIN: Date = Date(civil::Date::MIN);

    /// The latest representable date, 9999-12-31.
    pub const MAX: Date = Date(civil::Date::MAX);

    /// A date literal for code, e.g. `Date::constant(2019, 7, 1)`: in a `const` it fails to
    /// compile when the date does not exist, elsewhere it panics, so it is for literals only and
    /// never for input (use [`Date::new`]).
    pub const fn constant(year: i16, month: i8, day: i8) -> Date {
        Date(civil::Date::constant(year, month, day))
    }

    /// The date, if it exists in the calendar and its year is in [`Date::YEARS`] (1900-9999).
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        Date::from_calendar(year, month, day).filter(|_| Date::YEARS.contains(&year))
    }

    /// The date, if it exists in the (proleptic Gregorian) calendar and its year is 0-9999: for
    /// file formats that carry dates older than [`Date::YEARS`] (birth dates, placeholders).
    pub fn from_calendar(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(0..=9999).contains(&year) {
            return None;
        }
        let date = civil::Date::new(
            i16::try_from(year).ok()?,
            i8::try_from(month).ok()?,
            i8::try_from(day).ok()?,
        )
        .ok()?;
        Some(Date(date))
    }

    /// Parses `YYYY-MM-DD` or `YYYYMMDD` (exactly those widths, ASCII digits, no sign or
    /// surrounding spaces) into a real date with any year 0-9999 ([`Date::from_calendar`]).
    pub fn parse_iso(text: &str) -> Option<Date> {
        let b = text.as_bytes();
        let (y, m, d) = match b.len() {
            10 if b[4] == b'-' && b[7] == b'-' => (&b[0..4], &b[5..7], &b[8..10]),
            8 => (&b[0..4], &b[4..6], &b[6..8]),
            _ => return None,
        };
        let number = |digits: &[u8]| -> Option<u32> {
            digits.iter().try_fold(0u32, |n, &c| {
                c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
            })
        };
        Date::from_calendar(i32::try_from(number(y)?).ok()?, number(m)?, number(d)?)
    }

    /// [`Date::parse_iso`], accepting only years in [`Date::YEARS`] (1900-9999).
    pub fn parse_iso_in_years(text: &str) -> Option<Date> {
        Date::parse_iso(text).filter(|d| Date::YEARS.contains(&d.year()))
    }

    /// The date of a day number (days since 1970-01-01); `None` outside [`Date::MIN`] to
    /// [`Date::MAX`].
    pub fn from_day_number(days: i32) -> Option<Date> {
        Date(EPOCH).add_days(days)
    }

    /// Days since 1970-01-01 (negative before).
    pub fn day_number(self) -> i32 {
        // Whole days between two dates of jiff's range: at most about 7.3 million, an i32.
        let days = self.0.duration_since(EPOCH).as_secs() / 86_400;
        i32::try_from(days).unwrap_or(if days < 0 { i32::MIN } else { i32::MAX })
    }

    /// The date `days` later (earlier when negative); `None` past [`Date::MIN`] or [`Date::MAX`].
    pub fn add_days(self, days: i32) -> Option<Date> {
        self.0
            .checked_add(SignedDuration::from_hours(i64::from(days) * 24))
            .ok()
            .map(Date)
    }

    /// Year, month (1-12) and day of the month (1-31).
    pub fn ymd(self) -> (i32, u32, u32) {
        (self.year(), self.month(), self.day())
    }

    /// The year.
    pub fn year(self) -> i32 {
        i32::from(self.0.year())
    }

    /// The month, 1-12.
    pub fn month(self) -> u32 {
        u32::from(self.0.month().unsigned_abs())
    }

    /// The day of the month, 1-31.
    pub fn day(self) -> u32 {
        u32::from(self.0.day().unsigned_abs())
    }
}

impl fmt::Display for Date {
    /// `YYYY-MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Date({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> Date {
        Date::new(y, m, dd).unwrap()
    }

    #[test]
    fn calendar_dates_in_the_contract_years() {
        assert!(Date::new(2024, 2, 29).is_some());
        assert!(Date::new(2000, 2, 29).is_some());
        assert!(Date::new(1900, 1, 1).is_some());
        assert!(Date::new(9999, 12, 31).is_some());
        for (y, m, dd) in [
            (2023, 2, 29),
            (1900, 2, 29),
            (2016, 13, 1),
            (2016, 0, 1),
            (2016, 4, 31),
            (2016, 4, 0),
            (1899, 12, 31),
            (10000, 1, 1),
            (2016, 1, 256),
            (2016, 4_294_967_295, 1),
        ] {
            assert_eq!(Date::new(y, m, dd), None, "{y}-{m}-{dd}");
        }
        assert!(d(2016, 1, 1) < d(2016, 1, 2));
        assert!(d(2015, 12, 31) < d(2016, 1, 1));
        assert_eq!(d(2019, 7, 1).to_string(), "2019-07-01");
        assert_eq!(Date::constant(2019, 7, 1), d(2019, 7, 1));
        assert_eq!(format!("{:?}", d(2019, 7, 1)), "Date(2019-07-01)");
        assert_eq!(d(2024, 3, 9).ymd(), (2024, 3, 9));
        assert_eq!(
            (
                d(2024, 3, 9).year(),
                d(2024, 3, 9).month(),
                d(2024, 3, 9).day()
            ),
            (2024, 3, 9)
        );
    }

    #[test]
    fn older_dates_from_files() {
        assert_eq!(
            Date::from_calendar(1000, 1, 1).map(Date::ymd),
            Some((1000, 1, 1))
        );
        assert_eq!(
            Date::from_calendar(1, 1, 1).map(|d| d.to_string()),
            Some("0001-01-01".into())
        );
        assert!(Date::from_calendar(0, 2, 29).is_some());
        assert_eq!(Date::from_calendar(-1, 1, 1), None);
        assert_eq!(Date::from_calendar(1900, 2, 29), None);
        assert_eq!(Date::new(1000, 1, 1), None);
    }

    #[test]
    fn iso_forms() {
        assert_eq!(Date::parse_iso("2024-02-29"), Some(d(2024, 2, 29)));
        assert_eq!(Date::parse_iso("20240229"), Some(d(2024, 2, 29)));
        assert_eq!(
            Date::parse_iso("1000-01-01").map(Date::ymd),
            Some((1000, 1, 1))
        );
        assert_eq!(Date::parse_iso_in_years("1000-01-01"), None);
        assert_eq!(Date::parse_iso_in_years("1900-01-01"), Some(d(1900, 1, 1)));
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "2024-1-01",
            "2024-2-29",
            "2024/01/01",
            "2024-01-1 ",
            "202401011",
            "２０２４0101",
            "2024-02-2\u{e9}",
            "abcdefgh",
            "+2024-01-01",
            "",
        ] {
            assert_eq!(Date::parse_iso(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn day_numbers_round_trip() {
        assert_eq!(d(1970, 1, 1).day_number(), 0);
        assert_eq!(d(2000, 3, 1).day_number(), 11_017);
        assert_eq!(Date::from_calendar(9999, 12, 31), Some(Date::MAX));
        assert_eq!(Date::MIN.ymd(), (-9999, 1, 1));
        assert_eq!(
            Date::from_day_number(Date::MIN.day_number()),
            Some(Date::MIN)
        );
        assert_eq!(Date::from_day_number(Date::MIN.day_number() - 1), None);
        assert_eq!(Date::from_day_number(Date::MAX.day_number() + 1), None);
        assert_eq!(Date::from_day_number(i32::MAX), None);
        assert_eq!(Date::MIN.add_days(-1), None);
        assert_eq!(Date::from_day_number(i32::MIN), None);
        assert_eq!(Date::MAX.add_days(1), None);
        assert_eq!(Date::MAX.add_days(i32::MAX), None);
        assert_eq!(d(2024, 2, 28).add_days(1), Some(d(2024, 2, 29)));
        assert_eq!(d(2024, 3, 1).add_days(-1), Some(d(2024, 2, 29)));
        assert_eq!(d(2025, 1, 1).add_days(-1), Some(d(2024, 12, 31)));
        let mut n = Date::from_calendar(1899, 1, 1).unwrap().day_number();
        while n < d(2101, 1, 1).day_number() {
            let date = Date::from_day_number(n).unwrap();
            let (y, m, dd) = date.ymd();
            assert_eq!(Date::from_calendar(y, m, dd), Some(date));
            n += 3;
        }
    }
}
