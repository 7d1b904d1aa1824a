//! What counts as a primary care service, and who furnished it: the code and specialty tables, as
//! data. Each row carries the performance years it applies to and its source; a reader finds every
//! code in `codes/primary_care_codes.tsv` ([`code_rows`]) and every specialty in
//! `codes/specialties.tsv` ([`specialty_rows`]), one row a line.
//!
//! Evidence tags follow `mssp-rules.md`: [V] verified against the regulation text, [S] secondary,
//! [R] recalled (a parameter to confirm), [I] inference.
//!
//! Lookups are precomputed: a HCPCS/CPT code is turned into a dense key ([`hcpcs_key`]: 5 digits, or
//! a letter and 4 digits) and a 360,000-entry table maps the key to its row, so classifying a claim
//! line costs one array read and a bit test against the performance year's row mask.

use std::sync::OnceLock;

/// One group of HCPCS/CPT codes that counts as primary care for a span of performance years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeRow {
    /// First code of the (inclusive) range.
    pub first: &'static str,
    /// Last code of the range.
    pub last: &'static str,
    /// First performance year the codes count (`NEVER` = only under `phe`).
    pub from: i32,
    /// Also counted, whatever the year, when the assignment window includes a month of the COVID-19
    /// public health emergency (425.400(c)(2)).
    pub phe: bool,
    /// Not counted when furnished in a skilled nursing facility (place of service 31) from this
    /// performance year.
    pub snf_excluded_from: Option<i32>,
    /// Not counted when furnished in an inpatient hospital (place of service 21) from this year.
    pub inpatient_excluded_from: Option<i32>,
    /// What the codes are.
    pub what: &'static str,
    /// Where the row comes from.
    pub source: &'static str,
}

/// `from` of rows that only count under the public health emergency.
pub const NEVER: i32 = 9999;

/// The data rows of a tab-separated table: the lines after its `#` comments and its header line,
/// split at tabs, with their line numbers.
fn tsv(text: &'static str) -> impl Iterator<Item = (usize, Vec<&'static str>)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1)
        .map(|(i, l)| (i + 1, l.split('\t').collect()))
}

/// A performance year field: a year, or `-` for none.
fn year(field: &str) -> Result<Option<i32>, String> {
    match field {
        "-" => Ok(None),
        y => y
            .parse()
            .map(Some)
            .map_err(|_| format!("{y:?} is not a year")),
    }
}

/// Reads a table compiled into the crate (a test reads both, so a malformed row fails the build's
/// tests, never a run).
fn read<T>(
    name: &str,
    text: &'static str,
    row: impl Fn(&[&'static str]) -> Result<T, String>,
) -> Vec<T> {
    tsv(text)
        .map(|(line, fields)| row(&fields).unwrap_or_else(|e| panic!("{name} line {line}: {e}")))
        .collect()
}

/// The primary care service codes (425.20 definition, 425.400(c)), the rows of
/// `codes/primary_care_codes.tsv` in order. Rows never overlap: a code that is both a regular code
/// from some year and a public-health-emergency code is one row.
pub fn code_rows() -> &'static [CodeRow] {
    static ROWS: OnceLock<Vec<CodeRow>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let rows = read(
            "primary_care_codes.tsv",
            include_str!("codes/primary_care_codes.tsv"),
            |f| match *f {
                [first, last, from, phe, snf, inpatient, what, source] => Ok(CodeRow {
                    first,
                    last,
                    from: match from {
                        "never" => NEVER,
                        y => year(y)?.ok_or("no first year")?,
                    },
                    phe: match phe {
                        "yes" => true,
                        "no" => false,
                        other => return Err(format!("phe {other:?} is not yes or no")),
                    },
                    snf_excluded_from: year(snf)?,
                    inpatient_excluded_from: year(inpatient)?,
                    what,
                    source,
                }),
                _ => Err(format!("{} fields, not 8", f.len())),
            },
        );
        // A code set is a bit mask over the rows.
        assert!(rows.len() <= 64, "more than 64 code rows");
        rows
    })
}

/// The COVID-19 public health emergency, first and last day (42 CFR 400.200; [R] dates:
/// 2020-01-27 to 2023-05-11).
pub const PHE: ((i32, u32, u32), (i32, u32, u32)) = ((2020, 1, 27), (2023, 5, 11));

/// RHC revenue center codes counted as primary care before PY2019 (425.400(c)(1)(i)(C)-(iii)(C) [V]).
pub const RHC_REVENUE_CENTERS: &[u16] = &[521, 522, 524, 525];

/// CAH Method II professional revenue centers (096x, 097x, 098x) whose lines count when the HCPCS
/// code is a primary care code; attributed to the rendering practitioner [R].
pub const CAH_METHOD_II_REVENUE_CENTERS: std::ops::RangeInclusive<u16> = 960..=989;

/// Place of service: skilled nursing facility.
pub const POS_SNF: u8 = 31;
/// Place of service: inpatient hospital.
pub const POS_INPATIENT: u8 = 21;

/// Number of distinct HCPCS keys: `00000`-`99999` then `A0000`-`Z9999`.
pub const HCPCS_KEYS: usize = 360_000;

/// The dense key of a 5-character HCPCS/CPT code made of 5 digits or a letter and 4 digits (case
/// insensitive); `None` for anything else, which is never a primary care code.
pub fn hcpcs_key(code: &str) -> Option<u32> {
    let b = code.as_bytes();
    if b.len() != 5 {
        return None;
    }
    let mut tail = 0u32;
    for &c in &b[1..] {
        if !c.is_ascii_digit() {
            return None;
        }
        tail = tail * 10 + u32::from(c - b'0');
    }
    match b[0].to_ascii_uppercase() {
        c @ b'0'..=b'9' => Some(u32::from(c - b'0') * 10_000 + tail),
        c @ b'A'..=b'Z' => Some(100_000 + u32::from(c - b'A') * 10_000 + tail),
        _ => None,
    }
}

/// Row index + 1 for every HCPCS key (0 = not a primary care code in any year).
fn code_table() -> &'static [u8] {
    static TABLE: OnceLock<Box<[u8]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = vec![0u8; HCPCS_KEYS].into_boxed_slice();
        for (i, r) in code_rows().iter().enumerate() {
            let (Some(a), Some(b)) = (hcpcs_key(r.first), hcpcs_key(r.last)) else {
                continue; // every row is checked by a test
            };
            for k in a..=b {
                t[k as usize] = (i + 1) as u8;
            }
        }
        t
    })
}

/// The row of a HCPCS key, if the code is primary care in some year.
#[inline]
pub fn code_row(key: u32) -> Option<usize> {
    match code_table().get(key as usize) {
        Some(&r) if r > 0 => Some(usize::from(r) - 1),
        _ => None,
    }
}

/// Who furnished a service, as assignment sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Who {
    /// A primary care physician (425.20).
    PrimaryCarePhysician,
    /// A nurse practitioner, physician assistant or clinical nurse specialist.
    NonPhysicianPractitioner,
    /// A physician with a 425.402(c) step-2 specialty.
    Step2Specialist,
    /// Any other physician (counted in step 2 for PY2012-2015 only, 425.402(a)(2)).
    OtherPhysician,
}

impl Who {
    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Who::PrimaryCarePhysician => "primary care physician",
            Who::NonPhysicianPractitioner => "NP/PA/CNS",
            Who::Step2Specialist => "step-2 specialist",
            Who::OtherPhysician => "other physician",
        }
    }

    fn parse(name: &str) -> Result<Self, String> {
        match name {
            "PrimaryCarePhysician" => Ok(Who::PrimaryCarePhysician),
            "NonPhysicianPractitioner" => Ok(Who::NonPhysicianPractitioner),
            "Step2Specialist" => Ok(Who::Step2Specialist),
            "OtherPhysician" => Ok(Who::OtherPhysician),
            other => Err(format!("{other:?} is not a role")),
        }
    }
}

/// One CMS provider specialty code and what it means for assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialtyRow {
    /// The two-character CMS specialty code.
    pub code: &'static str,
    /// Its name.
    pub name: &'static str,
    /// Its role from `from` on.
    pub who: Who,
    /// First performance year of that role; before it the code plays `before`.
    pub from: i32,
    /// The role before `from` (`None`: not counted).
    pub before: Option<Who>,
    /// Source.
    pub source: &'static str,
}

/// The CMS provider specialty codes that matter for assignment, the rows of
/// `codes/specialties.tsv` in order.
pub fn specialty_rows() -> &'static [SpecialtyRow] {
    static ROWS: OnceLock<Vec<SpecialtyRow>> = OnceLock::new();
    ROWS.get_or_init(|| {
        read(
            "specialties.tsv",
            include_str!("codes/specialties.tsv"),
            |f| match *f {
                [code, name, who, from, before, source] => Ok(SpecialtyRow {
                    code,
                    name,
                    who: Who::parse(who)?,
                    from: year(from)?.ok_or("no first year")?,
                    before: match before {
                        "-" => None,
                        role => Some(Who::parse(role)?),
                    },
                    source,
                }),
                _ => Err(format!("{} fields, not 6", f.len())),
            },
        )
    })
}

/// Number of two-character specialty keys (`0-9A-Z` squared).
pub const SPECIALTY_KEYS: usize = 36 * 36;

/// The dense key of a two-character specialty code (digits and letters, case insensitive).
pub fn specialty_key(code: &str) -> Option<u16> {
    let b = code.as_bytes();
    if b.len() != 2 {
        return None;
    }
    let d = |c: u8| match c.to_ascii_uppercase() {
        c @ b'0'..=b'9' => Some(u16::from(c - b'0')),
        c @ b'A'..=b'Z' => Some(u16::from(c - b'A') + 10),
        _ => None,
    };
    Some(d(b[0])? * 36 + d(b[1])?)
}

fn specialty_table() -> &'static [u8] {
    static TABLE: OnceLock<Box<[u8]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = vec![0u8; SPECIALTY_KEYS].into_boxed_slice();
        for (i, r) in specialty_rows().iter().enumerate() {
            if let Some(k) = specialty_key(r.code) {
                t[usize::from(k)] = (i + 1) as u8;
            }
        }
        t
    })
}

/// The role of a specialty key in a performance year (`None`: not counted for assignment).
#[inline]
pub fn who(key: u16, performance_year: i32) -> Option<Who> {
    let r = *specialty_table().get(usize::from(key))?;
    let row = specialty_rows().get(usize::from(r).checked_sub(1)?)?;
    if performance_year >= row.from {
        Some(row.who)
    } else {
        row.before
    }
}

/// The specialty row of a key, if any.
pub fn specialty_row(key: u16) -> Option<&'static SpecialtyRow> {
    let r = *specialty_table().get(usize::from(key))?;
    specialty_rows().get(usize::from(r).checked_sub(1)?)
}

/// Which code rows count in one performance year and window, as bit masks over [`code_rows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeSet {
    counted: u64,
    snf_excluded: u64,
    inpatient_excluded: u64,
}

impl CodeSet {
    /// The codes of `performance_year`; `phe_window` when the window includes a PHE month.
    pub fn new(performance_year: i32, phe_window: bool) -> Self {
        let mut s = Self {
            counted: 0,
            snf_excluded: 0,
            inpatient_excluded: 0,
        };
        for (i, r) in code_rows().iter().enumerate() {
            let bit = 1u64 << i;
            if performance_year >= r.from || (r.phe && phe_window) {
                s.counted |= bit;
            }
            if r.snf_excluded_from.is_some_and(|y| performance_year >= y) {
                s.snf_excluded |= bit;
            }
            if r.inpatient_excluded_from
                .is_some_and(|y| performance_year >= y)
            {
                s.inpatient_excluded |= bit;
            }
        }
        s
    }

    /// Whether a code (by key) at a place of service (`None`: not given) counts.
    #[inline]
    pub fn counts(&self, key: u32, pos: Option<u8>) -> bool {
        let Some(r) = code_row(key) else {
            return false;
        };
        let bit = 1u64 << r;
        if self.counted & bit == 0 {
            return false;
        }
        match pos {
            Some(POS_SNF) => self.snf_excluded & bit == 0,
            Some(POS_INPATIENT) => self.inpatient_excluded & bit == 0,
            _ => true,
        }
    }

    /// Whether a code row is counted (ignoring place of service).
    pub fn row_counted(&self, row: usize) -> bool {
        row < 64 && self.counted & (1u64 << row) != 0
    }
}
