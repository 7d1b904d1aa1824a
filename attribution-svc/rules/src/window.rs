//! Assignment windows (service dates are [`acorn_domain::Date`]s).
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

pub use acorn_domain::Date;

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
    pub lookback_start: Date,
    /// First day of the 12-month assignment window.
    pub start: Date,
    /// Last day of the window.
    pub end: Date,
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
        let start = Date::new(y, m, 1)?;
        let lookback_start = Date::new(y - 1, m, 1)?;
        let end = Date::new(y + 1, m, 1)?.add_days(-1)?;
        Some(Window {
            lookback_start,
            start,
            end,
        })
    }

    /// Where `day` falls, `None` when outside lookback and window.
    #[inline]
    pub fn period(&self, day: Date) -> Option<Period> {
        if day < self.lookback_start || day > self.end {
            None
        } else if day < self.start {
            Some(Period::Lookback)
        } else {
            Some(Period::Window)
        }
    }

    /// Whether the window (not the lookback) includes a day of `[first, last]`.
    pub fn overlaps(&self, first: Date, last: Date) -> bool {
        self.start <= last && first <= self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked windows for PY2025 (mssp-rules.md 2.5).
    #[test]
    fn windows_for_a_performance_year() {
        let d = |y, m, dd| Date::new(y, m, dd).unwrap();
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
