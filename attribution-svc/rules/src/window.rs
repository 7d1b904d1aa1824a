//! Calendar days and assignment windows.
//!
//! - Retrospective (final reconciliation): the calendar performance year (425.400(a)(2)(iii) and
//!   425.402(a)(1)(i)(B): "the performance year (for purposes of final assignment)") [V].
//! - Prospective: the offset 12 months October (PY-2) to September (PY-1) [R, mssp-rules.md 2.5].
//! - Quarterly (preliminary lists, 425.400(a)(2)(ii): "the most recent 12 months of data") [V]: the 12
//!   months ending at the end of quarter q of the performance year [I: CMS's own reports use an
//!   offset that the reference does not give]; q = 4 is the calendar year.
//!
//! Every run also reads the 12 months before its window (the lookback): the PY2025+ step 3 uses the
//! 24-month expanded window (window plus lookback), and continuity (newly vs continuously assigned,
//! 425.20) looks at services in the prior 12 months. Data outside lookback + window is ignored and
//! counted.

use std::fmt;

/// A calendar day, as days since 1970-01-01 (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Day(pub i32);

impl Day {
    /// The day of a calendar date; `None` if the date does not exist or the year is outside 1900-9999.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Day> {
        if !(1900..=9999).contains(&year) || !(1..=12).contains(&month) || day == 0 {
            return None;
        }
        if day > days_in_month(year, month) {
            return None;
        }
        // Howard Hinnant's days_from_civil.
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = month as i32;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Some(Day(era * 146_097 + doe - 719_468))
    }

    /// The calendar date (year, month, day).
    pub fn ymd(self) -> (i32, u32, u32) {
        // In i64: any i32 day (e.g. from damaged stored bytes) converts without overflow; the
        // year of the extreme days still fits an i32 (|day| / 365 < 2^31).
        let z = i64::from(self.0) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = yoe + era * 400 + i64::from(m <= 2);
        (i32::try_from(y).unwrap_or(i32::MAX), m, d)
    }

    /// The calendar year.
    pub fn year(self) -> i32 {
        self.ymd().0
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Which window a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowKind {
    /// The calendar performance year.
    Retrospective,
    /// October (PY-2) to September (PY-1).
    Prospective,
    /// The 12 months ending at the end of quarter 1-4 of the performance year.
    Quarterly(u8),
}

/// An assignment window with its 12-month lookback, inclusive bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First day of the lookback (window start minus 12 months).
    pub lookback_start: Day,
    /// First day of the 12-month assignment window.
    pub start: Day,
    /// Last day of the window.
    pub end: Day,
}

/// Where a service date falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// In the 12 months before the window.
    Lookback,
    /// In the assignment window.
    Window,
}

impl Window {
    /// The window of `kind` for a performance year; `None` for a quarter outside 1-4 or a year
    /// whose window would leave 1900-9999.
    pub fn new(performance_year: i32, kind: WindowKind) -> Option<Window> {
        // (year, month) of the window's first month.
        let (y, m) = match kind {
            WindowKind::Retrospective => (performance_year, 1),
            WindowKind::Prospective => (performance_year - 2, 10),
            WindowKind::Quarterly(q @ 1..=4) => {
                // 12 months ending with month 3q of the PY: starting month 3q+1 of PY-1.
                let first = 3 * u32::from(q) + 1;
                if first > 12 {
                    (performance_year, first - 12)
                } else {
                    (performance_year - 1, first)
                }
            }
            WindowKind::Quarterly(_) => return None,
        };
        let start = Day::from_ymd(y, m, 1)?;
        let lookback_start = Day::from_ymd(y - 1, m, 1)?;
        let next = Day::from_ymd(y + 1, m, 1)?;
        Some(Window {
            lookback_start,
            start,
            end: Day(next.0 - 1),
        })
    }

    /// Where `day` falls, `None` when outside lookback and window.
    #[inline]
    pub fn period(&self, day: Day) -> Option<Period> {
        if day < self.lookback_start || day > self.end {
            None
        } else if day < self.start {
            Some(Period::Lookback)
        } else {
            Some(Period::Window)
        }
    }

    /// Whether the window (not the lookback) includes a day of `[first, last]`.
    pub fn overlaps(&self, first: Day, last: Day) -> bool {
        self.start <= last && first <= self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_reject_impossible_dates() {
        assert_eq!(Day::from_ymd(1970, 1, 1), Some(Day(0)));
        assert_eq!(Day::from_ymd(2000, 3, 1), Some(Day(11_017)));
        assert_eq!(
            Day::from_ymd(2024, 2, 29).map(Day::ymd),
            Some((2024, 2, 29))
        );
        assert_eq!(Day::from_ymd(2023, 2, 29), None);
        assert_eq!(Day::from_ymd(1900, 2, 29), None);
        assert_eq!(Day::from_ymd(2024, 13, 1), None);
        assert_eq!(Day::from_ymd(2024, 4, 31), None);
        assert_eq!(Day::from_ymd(1899, 12, 31), None);
        for d in
            (Day::from_ymd(1999, 1, 1).unwrap().0..Day::from_ymd(2031, 1, 1).unwrap().0).step_by(7)
        {
            let (y, m, dd) = Day(d).ymd();
            assert_eq!(Day::from_ymd(y, m, dd), Some(Day(d)));
        }
    }

    /// Worked windows for PY2025 (mssp-rules.md 2.5).
    #[test]
    fn windows_for_a_performance_year() {
        let d = |y, m, dd| Day::from_ymd(y, m, dd).unwrap();
        let w = Window::new(2025, WindowKind::Retrospective).unwrap();
        assert_eq!(
            (w.lookback_start, w.start, w.end),
            (d(2024, 1, 1), d(2025, 1, 1), d(2025, 12, 31))
        );
        let w = Window::new(2025, WindowKind::Prospective).unwrap();
        assert_eq!(
            (w.lookback_start, w.start, w.end),
            (d(2022, 10, 1), d(2023, 10, 1), d(2024, 9, 30))
        );
        let w = Window::new(2025, WindowKind::Quarterly(1)).unwrap();
        assert_eq!((w.start, w.end), (d(2024, 4, 1), d(2025, 3, 31)));
        let w = Window::new(2025, WindowKind::Quarterly(4)).unwrap();
        assert_eq!((w.start, w.end), (d(2025, 1, 1), d(2025, 12, 31)));
        assert_eq!(Window::new(2025, WindowKind::Quarterly(5)), None);
        assert_eq!(w.period(d(2024, 12, 31)), Some(Period::Lookback));
        assert_eq!(w.period(d(2025, 1, 1)), Some(Period::Window));
        assert_eq!(w.period(d(2023, 12, 31)), None);
        assert_eq!(w.period(d(2026, 1, 1)), None);
    }
}
