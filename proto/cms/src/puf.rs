//! Reader for CMS Medicare Shared Savings Program ACO Public Use Files (PUFs).
//!
//! A PUF is a CSV file with one row per ACO per performance year. Every year's layout differs:
//! column names and their case change (`ACO_Num` in 2014, `ACO_ID` in 2018), rates are percents
//! in some years (`7.13`), fractions in others (`0.0713`) and `"7.13%"` strings in later ones,
//! dollars may carry `$`, thousands separators and parenthesised negatives, and blank, `-`, `*`,
//! `^`, `/` or `N/A` cells mean "missing". [`PufFile`] loads any of them, detects the year's
//! [`Layout`] from the header (no flag from the caller), and [`PufRow`] accessors take a list of
//! candidate column names so one call covers every year:
//!
//! ```no_run
//! use acorn_cms::puf::{PufFile, RateScale};
//! # fn main() -> Result<(), acorn_cms::puf::PufError> {
//! let puf = PufFile::from_path("mssp_puf_py2014.csv".as_ref())?;
//! for row in puf.rows() {
//!     let id = row.text(&["ACO_ID", "ACO_Num"]);
//!     let msr = row.rate(&["MinSavPerc"], RateScale::Detect)?;
//!     let earned = row.decimal(&["EarnSaveLoss"])?;
//!     println!("{id:?} {msr:?} {earned:?}");
//! }
//! # Ok(()) }
//! ```
//!
//! Input bytes that are not valid UTF-8 (for example a Windows-1252 ACO name) are decoded lossily,
//! cell by cell, so such a cell reads with U+FFFD replacement characters instead of failing the
//! whole file. Rows shorter than the header read their missing cells as missing; extra cells are
//! ignored. No input makes the reader panic.

use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

use acorn_domain::Date;
use csv::{ByteRecord, StringRecord};
use rust_decimal::Decimal;

/// Cell values that mean "missing" (compared case-insensitively after trimming): blank, `-` (not
/// applicable), `*` (suppressed, 1-10 beneficiaries), `^` and `/` (suppressed or not applicable in
/// later files), `N/A`, `NA`, `.`.
const MISSING: &[&str] = &["", "-", "*", "^", "/", "N/A", "NA", "."];

/// An error reading a PUF or interpreting one of its cells.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PufError {
    /// The file could not be opened.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The path given to [`PufFile::from_path`].
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },
    /// Reading the CSV failed (this includes I/O errors while reading).
    #[error("line {line}: {source}")]
    Csv {
        /// 1-based line where reading failed (approximate for I/O errors).
        line: usize,
        /// The underlying CSV error.
        source: csv::Error,
    },
    /// The input is empty: there is no header row.
    #[error("missing header row (empty input)")]
    MissingHeader,
    /// A cell is present but cannot be read as the requested type.
    #[error("line {line}, column {column}: {value:?} {reason}")]
    BadCell {
        /// 1-based line number of the row (the header is line 1).
        line: usize,
        /// The column's header, as written in the file (trimmed).
        column: String,
        /// The offending cell (trimmed).
        value: String,
        /// Why the cell was rejected.
        reason: &'static str,
    },
}

/// How [`PufRow::rate`] reads a bare number (one without a `%` suffix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateScale {
    /// Bare numbers are already fractions: `0.02` is 2% (PY2018 style).
    Fraction,
    /// Bare numbers are percents: `2.35` is 2.35% (PY2014 style).
    Percent,
    /// Decide per column over the whole file, see [`PufFile::rate_scale`].
    Detect,
}

/// The layout of a PUF, detected from its header row (the caller gives no flag).
///
/// CMS changed the file every few years; the layouts below are told apart by columns that only
/// they have (checked in this order, first match wins):
///
/// | layout | PYs | detected by | formats |
/// |---|---|---|---|
/// | [`Layout::Py2013Labels`] | 2013 | `ACO Identifier` and `Track 2 ACO` (spelled-out labels) | rates fractions with a stray `%` (`0.023373146%` is 2.34%); dollars `$613084880.40`; the labels from `Total savings/losses ($)` to `Total assigned beneficiary person years` sit one column left of their data (there is no expenditures label) |
/// | [`Layout::Py2013`] | 2013 | `EarnShrSavings` or `OweLosses` | machine names, savings and losses in two columns |
/// | [`Layout::Py2024`] | 2024+ | `Current_Track` with `ReducedSS` or an `AIP*` column | every rate a plain percent number (`8.89`, `75`) |
/// | [`Layout::Py2023`] | 2023 | `Current_Track` with `Met_AltQPS`, `FinalLossRate` or `Impact_Mid_Year_Termination` | rates `"9.09%"` strings |
/// | [`Layout::Py2022`] | 2022 | `Current_Track` (one column: `A`..`E`, `EN`) | rates `"9.09%"` strings |
/// | [`Layout::Py2019`] | 2019, 2019A | `Participation_Six_Months` | `QualPerfShare`/`FinalShareRate` whole percents `"75%"` |
/// | [`Layout::Py2020`] | 2020-2021 | `Current_BASIC_A`..`E` / `Current_ENHANCED` flags | 2020 `QualScore` percent numbers (97.81); 2021 `"4.29%"` strings, `"6,034,816"` |
/// | [`Layout::Py2016`] | 2016-2018 | `Current_Track_1`/`_2`/`_3`/`_1_Plus` flags | rates fractions (2018: `QualScore` to 4 dp) |
/// | [`Layout::Py2014`] | 2014-2015 | `Track1`/`Track2` flags | `Sav_rate`, `MinSavPerc` percent numbers (7.13); `QualScore`, `FinalShareRate` fractions; `P4R` |
///
/// Sources: the PY2014, PY2018 and PY2022 files and the first rows of the PY2013 data.cms.gov file
/// (fixtures in `proto/testdata/puf`), CMS's data dictionary and public loaders of the other years
/// (`proto/testdata/puf/README.md` lists them and says which cells are verified). The layout only
/// decides what the header or a bare number cannot say by itself: [`RateScale::Detect`] uses the
/// layout's scale where it has one
/// ([`Layout::bare_rate_scale`]), and [`Layout::Py2013Labels`] columns are reachable under their
/// machine names ([`Layout::aliases`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Layout {
    /// PY2013 as data.cms.gov serves it, with spelled-out labels (see the table).
    Py2013Labels,
    /// PY2013 with machine names (`EarnShrSavings`, `OweLosses`).
    Py2013,
    /// PY2014-2015: `Track1`/`Track2` flags.
    Py2014,
    /// PY2016-2018: `Current_Track_1`/`_2`/`_3` (and `_1_Plus` from 2018) flags.
    Py2016,
    /// PY2019 (the 12-month year and the two 6-month periods): `Participation_Six_Months`.
    Py2019,
    /// PY2020-2021: BASIC A-E / ENHANCED flag columns.
    Py2020,
    /// PY2022: one `Current_Track` column (`A`..`E`, `EN`), `Prorate_Shared_Losses`.
    Py2022,
    /// PY2023: as 2022 plus `Met_AltQPS`, `FinalLossRate`, `Impact_Mid_Year_Termination`.
    Py2023,
    /// PY2024 and later: `ReducedSS`, `AIP`, `AIPRecoup`, `AIPOwe`; rates plain percent numbers.
    Py2024,
    /// No layout recognised (for example a file cut down to a few columns): columns are read by
    /// name and bare rates by [`PufFile::rate_scale`] detection.
    Unknown,
}

/// PY2013 data.cms.gov labels: (machine name, label of the column that holds its data). From
/// `Total savings/losses ($)` on, each label sits one column left of its data (checked on the
/// published rows: benchmark - expenditures = gross savings to the cent, shared savings = gross x
/// final sharing rate x 0.98).
const PY2013_LABELS: &[(&str, &str)] = &[
    ("ACO_ID", "ACO Identifier"),
    ("ACO_Name", "ACO Name"),
    ("Start_Date", "Start Date"),
    ("Track2", "Track 2 ACO"),
    ("Adv_Pay", "Advance pay status"),
    ("Adv_Pay_Amt", "Advanced payment amount"),
    ("QualScore", "Quality Score"),
    ("QualPerfShare", "Quality Performance Sharing Rate"),
    ("FinalShareRate", "Final sharing rate"),
    ("MinLossPerc", "Minimum Loss Rate (%)"),
    ("MinSavPerc", "Minimum Savings Rate (%)"),
    ("ABtotBnchmk", "Total benchmark expenditures ($)"),
    ("ABtotExp", "Total savings/losses ($)"),
    ("BnchmkMinExp", "Shared Savings ($)"),
    ("EarnShrSavings", "Shared Losses ($)"),
    ("OweLosses", "Total number of assigned beneficiaries"),
    ("N_AB", "Total assigned beneficiary person years"),
];

impl Layout {
    /// Detects the layout from the header row (case-insensitive, trimmed names).
    pub fn detect<'h>(headers: impl IntoIterator<Item = &'h str>) -> Layout {
        let headers: Vec<String> = headers
            .into_iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let has = |name: &str| headers.iter().any(|h| h.eq_ignore_ascii_case(name));
        let any = |names: &[&str]| names.iter().any(|n| has(n));
        if has("ACO Identifier") && has("Track 2 ACO") {
            Layout::Py2013Labels
        } else if any(&["EarnShrSavings", "OweLosses"]) {
            Layout::Py2013
        } else if has("Current_Track") {
            if any(&["ReducedSS", "AIP", "AIPRecoup", "AIPOwe", "AIPBalance"]) {
                Layout::Py2024
            } else if any(&["Met_AltQPS", "FinalLossRate", "Impact_Mid_Year_Termination"]) {
                Layout::Py2023
            } else {
                Layout::Py2022
            }
        } else if has("Participation_Six_Months") {
            Layout::Py2019
        } else if headers
            .iter()
            .any(|h| h.starts_with("current_basic_") || h.starts_with("current_track_basic_"))
            || any(&["Current_ENHANCED", "Current_Track_ENHANCED"])
        {
            Layout::Py2020
        } else if any(&[
            "Current_Track_1",
            "Current_Track_2",
            "Current_Track_3",
            "Current_Track_1_Plus",
        ]) {
            Layout::Py2016
        } else if any(&["Track1", "Track2"]) {
            Layout::Py2014
        } else {
            Layout::Unknown
        }
    }

    /// A short name for reports: the performance years the layout was used for.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Py2013Labels => "2013 (data.cms.gov labels)",
            Layout::Py2013 => "2013",
            Layout::Py2014 => "2014-2015",
            Layout::Py2016 => "2016-2018",
            Layout::Py2019 => "2019/2019A",
            Layout::Py2020 => "2020-2021",
            Layout::Py2022 => "2022",
            Layout::Py2023 => "2023",
            Layout::Py2024 => "2024+",
            Layout::Unknown => "unknown",
        }
    }

    /// The performance year, when the layout was used for one year only.
    pub fn performance_year(self) -> Option<i32> {
        match self {
            Layout::Py2013Labels | Layout::Py2013 => Some(2013),
            Layout::Py2019 => Some(2019),
            Layout::Py2022 => Some(2022),
            Layout::Py2023 => Some(2023),
            Layout::Py2014 | Layout::Py2016 | Layout::Py2020 | Layout::Py2024 | Layout::Unknown => {
                None
            }
        }
    }

    /// How the layout writes bare numbers (without `%`) in the rate column `column`, when the
    /// layout says: PY2024+ every rate is a percent number; PY2014-2015 `Sav_rate`,
    /// `MinSavPerc` and `MinLossPerc` are percents and `QualScore`, `QualPerfShare`,
    /// `FinalShareRate` fractions; PY2013 (labels) every rate is a fraction. `None` = not fixed
    /// by the layout (read by [`PufFile::rate_scale`] detection).
    pub fn bare_rate_scale(self, column: &str) -> Option<RateScale> {
        let is = |names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(column.trim()));
        match self {
            Layout::Py2024 => Some(RateScale::Percent),
            Layout::Py2013Labels => Some(RateScale::Fraction),
            Layout::Py2014 if is(&["Sav_rate", "MinSavPerc", "MinLossPerc"]) => {
                Some(RateScale::Percent)
            }
            Layout::Py2014 if is(&["QualScore", "QualPerfShare", "FinalShareRate"]) => {
                Some(RateScale::Fraction)
            }
            _ => None,
        }
    }

    /// Machine names this layout writes differently: (machine name, the header that holds the
    /// data). Only [`Layout::Py2013Labels`] has any.
    pub fn aliases(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Layout::Py2013Labels => PY2013_LABELS,
            _ => &[],
        }
    }

    /// True when a `%` suffix does not make a cell a percent: the PY2013 data.cms.gov file writes
    /// fractions with a stray `%` in its `(%)` columns (`0.023373146%` for an MSR of 2.34%).
    fn percent_sign_is_stray(self, header: &str) -> bool {
        self == Layout::Py2013Labels && header.contains("(%)")
    }
}

/// One data row as loaded: its line number and its (trimmed) cells.
#[derive(Debug, Clone)]
struct Record {
    line: usize,
    cells: StringRecord,
}

/// A loaded ACO Public Use File: the header row and every data row, held in memory.
#[derive(Debug, Clone)]
pub struct PufFile {
    headers: Vec<String>,
    rows: Vec<Record>,
    layout: Layout,
    performance_year: Option<i32>,
    /// Lazily detected "is percent" per column, for [`RateScale::Detect`].
    percent_columns: Vec<OnceLock<bool>>,
}

impl PufFile {
    /// Reads a PUF from any reader (CSV with header row; BOM and whitespace tolerated).
    ///
    /// The performance year is taken from a `Performance_Year` or `PY` column if the file has
    /// one; otherwise it stays `None` (see [`PufFile::with_performance_year`] and
    /// [`PufFile::performance_year`]). The [`Layout`] is detected from the header.
    pub fn from_reader<R: io::Read>(mut r: R) -> Result<PufFile, PufError> {
        // Held in memory (PUFs are well under a few MB) so that line numbers are counted from the
        // bytes: the csv crate's own line count lags by one after each CRLF line end.
        let mut bytes = Vec::new();
        r.read_to_end(&mut bytes).map_err(|e| PufError::Csv {
            line: 1,
            source: csv::Error::from(e),
        })?;
        let mut lines = LineCounter::new(&bytes);
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .has_headers(false)
            .from_reader(bytes.as_slice());
        let mut records = reader.byte_records();
        let header = match records.next() {
            None => return Err(PufError::MissingHeader),
            Some(rec) => decode(&rec.map_err(|source| PufError::Csv { line: 1, source })?),
        };
        let headers: Vec<String> = header
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').trim().to_owned())
            .collect();
        let mut rows = Vec::new();
        for rec in records {
            let rec = rec.map_err(|source| {
                let line = source
                    .position()
                    .map_or(lines.last + 1, |p| lines.line_at(p.byte()));
                PufError::Csv { line, source }
            })?;
            let line = rec
                .position()
                .map_or(lines.last + 1, |p| lines.line_at(p.byte()));
            rows.push(Record {
                line,
                cells: decode(&rec),
            });
        }
        let percent_columns = headers.iter().map(|_| OnceLock::new()).collect();
        let layout = Layout::detect(headers.iter().map(String::as_str));
        let mut file = PufFile {
            headers,
            rows,
            layout,
            performance_year: None,
            percent_columns,
        };
        file.performance_year = file.year_from_column();
        Ok(file)
    }

    /// Reads a PUF from a file.
    ///
    /// Without a `Performance_Year`/`PY` column the performance year is inferred from the file
    /// name: a standalone 4-digit year 2000-2099, preferring one right after `py`
    /// (`mssp_puf_py2018.csv`, `2018_Shared_Savings_Program_..._PUF.csv`).
    pub fn from_path(path: &Path) -> Result<PufFile, PufError> {
        let open_err = |source| PufError::Open {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(open_err)?;
        let mut puf = PufFile::from_reader(file)?;
        if puf.performance_year.is_none() {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            puf.performance_year = year_in_name(&name);
        }
        Ok(puf)
    }

    /// Sets the performance year explicitly (overriding any column or file-name inference).
    #[must_use]
    pub fn with_performance_year(mut self, py: i32) -> Self {
        self.performance_year = Some(py);
        self
    }

    /// The performance year: from a `Performance_Year`/`PY` column if present (and the same in
    /// every row), else inferred from the file name given to [`PufFile::from_path`], else the
    /// year of the detected [`Layout`] when it was used for one year only, else `None`.
    pub fn performance_year(&self) -> Option<i32> {
        self.performance_year.or(self.layout.performance_year())
    }

    /// The layout detected from the header row.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The data rows, in file order.
    pub fn rows(&self) -> impl Iterator<Item = PufRow<'_>> {
        self.rows
            .iter()
            .map(move |record| PufRow { file: self, record })
    }

    /// Number of data rows (the header row not counted).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True if the file has no data rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The column headers, trimmed, as written in the file.
    pub fn headers(&self) -> impl Iterator<Item = &str> {
        self.headers.iter().map(String::as_str)
    }

    /// True if the column is present (case-insensitive, trimmed).
    pub fn has_column(&self, name: &str) -> bool {
        self.column(&[name]).is_some()
    }

    /// How bare numbers in the first present column among `column_names` should be read: the
    /// layout's scale when [`Layout::bare_rate_scale`] fixes one, else [`RateScale::Percent`] if
    /// any of its cells has a `%` suffix or any numeric cell has an absolute value above 1, else
    /// [`RateScale::Fraction`] (also when no column is present).
    /// Never returns [`RateScale::Detect`]. Computed once per column and cached.
    pub fn rate_scale(&self, column_names: &[&str]) -> RateScale {
        match self.column(column_names) {
            Some(col) if self.is_percent_column(col) => RateScale::Percent,
            _ => RateScale::Fraction,
        }
    }

    /// Index of the first present column among `names` (case-insensitive, trimmed; the first
    /// header wins if a name is duplicated).
    /// A name the file does not have is looked up among the layout's [`Layout::aliases`].
    fn column(&self, names: &[&str]) -> Option<usize> {
        let position = |name: &str| {
            self.headers
                .iter()
                .position(|h| h.eq_ignore_ascii_case(name))
        };
        names.iter().find_map(|name| {
            let name = name.trim();
            position(name).or_else(|| {
                let (_, label) = self
                    .layout
                    .aliases()
                    .iter()
                    .find(|(machine, _)| machine.eq_ignore_ascii_case(name))?;
                position(label)
            })
        })
    }

    fn cells(&self, col: usize) -> impl Iterator<Item = &str> {
        self.rows
            .iter()
            .filter_map(move |r| r.cells.get(col))
            .filter_map(present)
    }

    /// The layout's scale for the column if it has one, else: any `%` cell or any number above 1
    /// in magnitude makes the column a percent column.
    fn is_percent_column(&self, col: usize) -> bool {
        let Some(cache) = self.percent_columns.get(col) else {
            return false;
        };
        *cache.get_or_init(|| {
            let header = self.headers.get(col).map_or("", String::as_str);
            let alias = self
                .layout
                .aliases()
                .iter()
                .find(|(_, label)| label.eq_ignore_ascii_case(header))
                .map_or(header, |(machine, _)| machine);
            if let Some(scale) = self.layout.bare_rate_scale(alias) {
                return scale == RateScale::Percent;
            }
            self.cells(col).any(|cell| {
                cell.ends_with('%') || parse_number(cell).is_ok_and(|d| d.abs() > Decimal::ONE)
            })
        })
    }

    /// The year in a `Performance_Year`/`PY` column, if every non-missing cell agrees.
    fn year_from_column(&self) -> Option<i32> {
        let col = self.column(&["Performance_Year", "PY"])?;
        let mut years = self.cells(col).map(year_in_name);
        let first = years.next()??;
        years.all(|y| y == Some(first)).then_some(first)
    }
}

/// One data row of a [`PufFile`]. Accessors take candidate column names (for the different
/// years' layouts) and read the first one present in the file.
#[derive(Clone, Copy)]
pub struct PufRow<'a> {
    file: &'a PufFile,
    record: &'a Record,
}

impl std::fmt::Debug for PufRow<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PufRow")
            .field("line", &self.record.line)
            .field("cells", &self.record.cells)
            .finish()
    }
}

impl<'a> PufRow<'a> {
    /// 1-based line number in the file (header = line 1), for error messages.
    pub fn line(&self) -> usize {
        self.record.line
    }

    /// Raw trimmed cell of the first present column among `names` (case-insensitive), `None` if
    /// absent or a missing-marker (`""`, `"-"`, `"*"`, `"N/A"`, `"NA"`, `"."`). Later names are
    /// not consulted when an earlier column is present but its cell is missing.
    pub fn text(&self, names: &[&str]) -> Option<&'a str> {
        self.cell(names).map(|(_, value)| value)
    }

    /// Dollars or counts: strips `$`, thousands separators and parenthesised negatives
    /// (`"(1,234.50)"` is -1234.50); exact [`Decimal`], never via floating point.
    pub fn decimal(&self, names: &[&str]) -> Result<Option<Decimal>, PufError> {
        self.parsed(names, |_, value| {
            if value.ends_with('%') {
                return Err("is a percentage, not an amount");
            }
            parse_number(value)
        })
    }

    /// A rate as a FRACTION. `scale` says how to read bare numbers: [`RateScale::Fraction`]
    /// (2018: `0.02`), [`RateScale::Percent`] (2014: `2.35` is 0.0235) or [`RateScale::Detect`]
    /// (per column over the whole file, see [`PufFile::rate_scale`]). A cell with a `%` suffix is
    /// a percent, except in the `(%)` columns of [`Layout::Py2013Labels`], which write fractions
    /// with a stray `%`. Percents are divided by 100 exactly.
    pub fn rate(&self, names: &[&str], scale: RateScale) -> Result<Option<Decimal>, PufError> {
        self.parsed(names, |col, value| self.rate_value(col, value, scale))
    }

    /// Quality score as a fraction in [0, 1]: `"P4R"` (pay-for-reporting) is 1, anything else is
    /// read like [`PufRow::rate`] with [`RateScale::Detect`].
    pub fn quality_score(&self, names: &[&str]) -> Result<Option<Decimal>, PufError> {
        self.parsed(names, |col, value| {
            if value.eq_ignore_ascii_case("P4R") {
                return Ok(Decimal::ONE);
            }
            let score = self.rate_value(col, value, RateScale::Detect)?;
            if (Decimal::ZERO..=Decimal::ONE).contains(&score) {
                Ok(score)
            } else {
                Err("is not a quality score between 0 and 100%")
            }
        })
    }

    /// A flag: `0`/`1`, `Y`/`N`, `Yes`/`No` or `TRUE`/`FALSE` (case-insensitive).
    pub fn flag(&self, names: &[&str]) -> Result<Option<bool>, PufError> {
        self.parsed(names, |_, value| {
            match value.to_ascii_lowercase().as_str() {
                "1" | "y" | "yes" | "true" => Ok(true),
                "0" | "n" | "no" | "false" => Ok(false),
                _ => Err("is not a 0/1, Y/N, Yes/No or TRUE/FALSE flag"),
            }
        })
    }

    /// A date, validated against the calendar (any year 0-9999): `MM/DD/YYYY` (one- or
    /// two-digit month and day) or `YYYY-MM-DD`, either optionally followed by a time after a
    /// space or `T`, which is ignored (`"01/01/2018 12:00:00 AM"`, `"2018-01-01T00:00:00"`).
    pub fn date(&self, names: &[&str]) -> Result<Option<Date>, PufError> {
        self.parsed(names, |_, value| {
            parse_date(value).ok_or("is not a valid MM/DD/YYYY or YYYY-MM-DD date")
        })
    }

    /// The column index and present (non-missing) cell of the first present column.
    fn cell(&self, names: &[&str]) -> Option<(usize, &'a str)> {
        let col = self.file.column(names)?;
        Some((col, present(self.record.cells.get(col)?)?))
    }

    /// Applies `parse` to the cell, turning its rejection reason into [`PufError::BadCell`].
    fn parsed<T>(
        &self,
        names: &[&str],
        parse: impl FnOnce(usize, &str) -> Result<T, &'static str>,
    ) -> Result<Option<T>, PufError> {
        let Some((col, value)) = self.cell(names) else {
            return Ok(None);
        };
        parse(col, value)
            .map(Some)
            .map_err(|reason| PufError::BadCell {
                line: self.line(),
                column: self.file.headers[col].clone(),
                value: value.to_owned(),
                reason,
            })
    }

    fn rate_value(
        &self,
        col: usize,
        value: &str,
        scale: RateScale,
    ) -> Result<Decimal, &'static str> {
        if let Some(number) = value.strip_suffix('%') {
            let number = parse_number(number.trim_end())?;
            let header = self.file.headers.get(col).map_or("", String::as_str);
            return Ok(if self.file.layout.percent_sign_is_stray(header) {
                number
            } else {
                percent_to_fraction(number)
            });
        }
        let number = parse_number(value)?;
        let percent = match scale {
            RateScale::Fraction => false,
            RateScale::Percent => true,
            RateScale::Detect => self.file.is_percent_column(col),
        };
        Ok(if percent {
            percent_to_fraction(number)
        } else {
            number
        })
    }
}

/// Decodes a byte record to text, lossily if it is not valid UTF-8, trimming Unicode whitespace
/// (the csv crate's own trimming covers ASCII whitespace only).
fn decode(record: &ByteRecord) -> StringRecord {
    record
        .iter()
        .map(|cell| String::from_utf8_lossy(cell).trim().to_owned())
        .collect()
}

/// 1-based line numbers of record starts, counted incrementally (record starts only move forward).
struct LineCounter<'b> {
    bytes: &'b [u8],
    /// Byte offset counted up to, and the number of `\n` before it.
    offset: usize,
    newlines: usize,
    /// The last line returned.
    last: usize,
}

impl<'b> LineCounter<'b> {
    fn new(bytes: &'b [u8]) -> Self {
        LineCounter {
            bytes,
            offset: 0,
            newlines: 0,
            last: 1,
        }
    }

    /// The line of the record starting at byte `start` (a start left on the `\n` of a CRLF, as
    /// the csv crate reports it, moves past the line end first).
    fn line_at(&mut self, start: u64) -> usize {
        let start = usize::try_from(start)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        let rest = self.bytes.get(start..).unwrap_or_default();
        let start = start
            + rest
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
        if start > self.offset {
            let counted = self.bytes.get(self.offset..start).unwrap_or_default();
            self.newlines += counted.iter().filter(|&&b| b == b'\n').count();
            self.offset = start;
        }
        self.last = self.newlines + 1;
        self.last
    }
}

/// The trimmed cell, or `None` if it is a missing-marker.
fn present(cell: &str) -> Option<&str> {
    let cell = cell.trim();
    (!MISSING.iter().any(|m| m.eq_ignore_ascii_case(cell))).then_some(cell)
}

/// Parses an amount or rate body: optional sign or parentheses, optional `$`, digits with
/// optional (well-formed) thousands separators, optional fraction and exponent.
fn parse_number(cell: &str) -> Result<Decimal, &'static str> {
    let (paren, s) = match cell.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
        Some(inner) => (true, inner.trim()),
        None => (false, cell),
    };
    let (minus, s) = strip_sign(s);
    let s = s.strip_prefix('$').map_or(s, str::trim_start);
    let (minus_after_dollar, s) = strip_sign(s);
    if u8::from(paren) + u8::from(minus.is_some()) + u8::from(minus_after_dollar.is_some()) > 1 {
        return Err("has more than one sign");
    }
    let negative = paren || minus == Some(true) || minus_after_dollar == Some(true);
    if !s.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        || !s
            .chars()
            .all(|c| c.is_ascii_digit() || ".,eE+-".contains(c))
    {
        return Err("is not a number");
    }
    let (mantissa, exponent) = s
        .split_once(['e', 'E'])
        .map_or((s, None), |(m, e)| (m, Some(e)));
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (integer.contains(',') && !well_grouped(integer))
        || fraction.contains(',')
        || mantissa.contains(['+', '-'])
    {
        return Err("is not a number");
    }
    let digits = mantissa.replace(',', "");
    let value = match exponent {
        None => Decimal::from_str(&digits),
        Some(e) => Decimal::from_scientific(&format!("{digits}e{e}")),
    }
    .map_err(|_| "is not a number (or is out of range)")?;
    Ok(if negative { -value } else { value })
}

/// Strips a leading `-` (`Some(true)`) or `+` (`Some(false)`) and the whitespace after it.
fn strip_sign(s: &str) -> (Option<bool>, &str) {
    match s.strip_prefix('-') {
        Some(rest) => (Some(true), rest.trim_start()),
        None => s
            .strip_prefix('+')
            .map_or((None, s), |rest| (Some(false), rest.trim_start())),
    }
}

/// True for `1`, `12`, `123`, `1,234`, `12,345,678`: digit groups of three after the first.
fn well_grouped(integer: &str) -> bool {
    let mut groups = integer.split(',');
    let first = groups.next().unwrap_or_default();
    (1..=3).contains(&first.len()) && groups.all(|g| g.len() == 3)
}

/// Divides by 100 exactly (by moving the decimal point when the scale allows).
fn percent_to_fraction(percent: Decimal) -> Decimal {
    let mut fraction = percent;
    match fraction.set_scale(percent.scale() + 2) {
        Ok(()) => fraction,
        Err(_) => percent / Decimal::ONE_HUNDRED,
    }
}

fn parse_date(cell: &str) -> Option<Date> {
    let date = cell.split(|c: char| c.is_whitespace() || c == 'T').next()?;
    let number = |s: &str, max_len: usize| -> Option<u32> {
        let ok = (1..=max_len).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| s.parse().ok()).flatten()
    };
    let parts: Vec<&str> = date.split(['/', '-']).collect();
    let (y, m, d) = match parts[..] {
        [y, m, d] if date.contains('-') && !date.contains('/') && y.len() == 4 => (y, m, d),
        [m, d, y] if date.contains('/') && !date.contains('-') && y.len() == 4 => (y, m, d),
        _ => return None,
    };
    let year = i32::try_from(number(y, 4)?).ok()?;
    Date::from_calendar(year, number(m, 2)?, number(d, 2)?)
}

/// A standalone 4-digit year 2000-2099 in `name`, preferring one right after `py`.
fn year_in_name(name: &str) -> Option<i32> {
    let bytes = name.as_bytes();
    let mut candidates = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let len = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if len == 0 {
            start += 1;
            continue;
        }
        if let Some(year) = name[start..start + len]
            .parse::<i32>()
            .ok()
            .filter(|y| len == 4 && (2000..=2099).contains(y))
        {
            let after_py = start >= 2 && name[..start].to_ascii_lowercase().ends_with("py");
            candidates.push((after_py, year));
        }
        start += len;
    }
    candidates
        .iter()
        .find(|(after_py, _)| *after_py)
        .or(candidates.first())
        .map(|&(_, y)| y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PufFile {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/puf")
            .join(name);
        PufFile::from_path(&path).unwrap()
    }

    fn parse(csv: &str) -> PufFile {
        PufFile::from_reader(csv.as_bytes()).unwrap()
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn py2014_fixture() {
        let puf = fixture("mssp_puf_py2014.csv");
        assert_eq!((puf.len(), puf.performance_year()), (333, Some(2014)));
        assert!(puf.has_column(" aco_num ") && !puf.has_column("ACO_ID"));
        assert_eq!(
            puf.rate_scale(&["ACO_ID_missing", "Sav_rate"]),
            RateScale::Percent
        );
        assert_eq!(puf.rate_scale(&["QualScore"]), RateScale::Fraction);
        let row = puf.rows().next().unwrap();
        assert_eq!(row.line(), 2);
        assert_eq!(row.text(&["ACO_ID", "ACO_Num"]), Some("A67373"));
        assert_eq!(row.decimal(&["N_AB"]).unwrap(), Some(dec("34601")));
        assert_eq!(
            row.rate(&["Sav_rate"], RateScale::Detect).unwrap(),
            Some(dec("0.07135345566"))
        );
        assert_eq!(
            row.rate(&["MinSavPerc"], RateScale::Detect).unwrap(),
            Some(dec("0.02353985133"))
        );
        assert_eq!(
            row.quality_score(&["QualScore"]).unwrap(),
            Some(dec("0.916964286"))
        );
        assert_eq!(
            row.decimal(&["EarnSaveLoss"]).unwrap(),
            Some(dec("14455933"))
        );
        assert_eq!(row.flag(&["Track1"]).unwrap(), Some(true));
        assert_eq!(
            row.date(&["Start_Date"]).unwrap(),
            Some(Date::constant(2012, 7, 1))
        );
        // P4R rows read as a perfect score; every row's key fields parse.
        let mut p4r = 0;
        for row in puf.rows() {
            if row
                .text(&["QualScore"])
                .is_some_and(|q| q.eq_ignore_ascii_case("P4R"))
            {
                assert_eq!(
                    row.quality_score(&["QualScore"]).unwrap(),
                    Some(Decimal::ONE)
                );
                p4r += 1;
            }
            row.rate(&["Sav_rate"], RateScale::Detect).unwrap();
            row.decimal(&["EarnSaveLoss", "ABtotBnchmk", "ABtotExp"])
                .unwrap();
            row.quality_score(&["QualScore"]).unwrap();
        }
        assert_eq!(p4r, 119);
    }

    #[test]
    fn py2018_fixture() {
        let puf = fixture("mssp_puf_py2018.csv");
        assert_eq!((puf.len(), puf.performance_year()), (548, Some(2018)));
        assert_eq!(puf.rate_scale(&["Sav_rate"]), RateScale::Fraction);
        let row = puf.rows().next().unwrap();
        assert_eq!(row.text(&["ACO_ID", "ACO_Num"]), Some("A1001"));
        assert_eq!(
            row.rate(&["Sav_rate"], RateScale::Detect).unwrap(),
            Some(dec("0.104911788"))
        );
        assert_eq!(
            row.rate(&["MinSavPerc"], RateScale::Detect).unwrap(),
            Some(dec("0.02"))
        );
        assert_eq!(row.text(&["DisAdj"]), None);
        assert_eq!(row.decimal(&["DisAdj"]).unwrap(), None);
        assert_eq!(
            row.date(&["Initial_Start_Date"]).unwrap(),
            Some(Date::constant(2012, 7, 1))
        );
        assert_eq!(row.flag(&["Met_QPS"]).unwrap(), Some(true));
        for row in puf.rows() {
            row.decimal(&["EarnSaveLoss", "DisAdj", "ABtotBnchmk"])
                .unwrap();
            row.date(&["Current_Start_Date"]).unwrap();
            row.flag(&["Current_Track_1", "Current_Track_3", "RevLossLimit"])
                .unwrap();
        }
        let last = puf.rows().last().unwrap();
        assert_eq!(last.line(), 549);
    }

    #[test]
    fn later_year_formats() {
        let puf = parse(
            "\u{feff} aco_id ,Sav_Rate , EARNSAVELOSS,QualScore,Flag,Date\n\
             A1, 4.29% ,\"6,034,816\",P4R,Y,2018-01-01\n\
             A2,-1.5%,\"$6,034,816\",91.5%,n,1/2/2020\n\
             A3,*,\"(1,234.50)\",-,0,12/31/2019 12:00:00 AM\n\
             A4,-,N/A,,1,02/29/2020\n\
             A5,n/a,\"-$1,000\"\n",
        );
        assert_eq!(puf.len(), 5);
        assert_eq!(puf.performance_year(), None);
        assert_eq!(
            puf.clone().with_performance_year(2021).performance_year(),
            Some(2021)
        );
        assert!(puf.has_column("ACO_ID") && puf.has_column("sav_rate"));
        assert_eq!(puf.headers().next(), Some("aco_id"));
        let rows: Vec<_> = puf.rows().collect();
        let rate = |i: usize| rows[i].rate(&["SAV_RATE"], RateScale::Fraction).unwrap();
        let amount = |i: usize| rows[i].decimal(&["EarnSaveLoss"]).unwrap();
        assert_eq!(rows[0].text(&["ACO_ID"]), Some("A1"));
        assert_eq!(
            (rate(0), rate(1)),
            (Some(dec("0.0429")), Some(dec("-0.015")))
        );
        assert_eq!((rate(2), rate(3), rate(4)), (None, None, None));
        assert_eq!(
            (amount(0), amount(1)),
            (Some(dec("6034816")), Some(dec("6034816")))
        );
        assert_eq!(
            (amount(2), amount(3), amount(4)),
            (Some(dec("-1234.5")), None, Some(dec("-1000")))
        );
        let score = |i: usize| rows[i].quality_score(&["QualScore"]).unwrap();
        assert_eq!(
            (score(0), score(1), score(2), score(3)),
            (Some(Decimal::ONE), Some(dec("0.915")), None, None)
        );
        let flags: Vec<_> = rows.iter().map(|r| r.flag(&["flag"]).unwrap()).collect();
        assert_eq!(
            flags,
            [Some(true), Some(false), Some(false), Some(true), None]
        );
        let dates: Vec<_> = rows.iter().map(|r| r.date(&["date"]).unwrap()).collect();
        assert_eq!(
            dates,
            [
                Some(Date::constant(2018, 1, 1)),
                Some(Date::constant(2020, 1, 2)),
                Some(Date::constant(2019, 12, 31)),
                Some(Date::constant(2020, 2, 29)),
                None
            ]
        );
        // A ragged short row reads its missing cells as missing, and absent columns are None.
        assert_eq!(rows[4].text(&["QualScore", "ACO_ID"]), None);
        assert_eq!(rows[4].text(&["NoSuchColumn", "ACO_ID"]), Some("A5"));
        assert_eq!(rows[4].decimal(&["NoSuchColumn"]).unwrap(), None);
    }

    #[test]
    fn rate_scale_detection() {
        let puf = parse("PY,a,b,c,d\n2019,0.02,2.35,0.5,\n2019,-0.5,1.0,3%,x\n");
        assert_eq!(puf.performance_year(), Some(2019));
        assert_eq!(puf.rate_scale(&["a"]), RateScale::Fraction);
        assert_eq!(puf.rate_scale(&["b"]), RateScale::Percent);
        assert_eq!(puf.rate_scale(&["c"]), RateScale::Percent);
        assert_eq!(puf.rate_scale(&["d"]), RateScale::Fraction);
        assert_eq!(puf.rate_scale(&["missing"]), RateScale::Fraction);
        let row = puf.rows().next().unwrap();
        assert_eq!(
            row.rate(&["b"], RateScale::Detect).unwrap(),
            Some(dec("0.0235"))
        );
        assert_eq!(
            row.rate(&["b"], RateScale::Fraction).unwrap(),
            Some(dec("2.35"))
        );
        assert_eq!(
            row.rate(&["a"], RateScale::Percent).unwrap(),
            Some(dec("0.0002"))
        );
        assert_eq!(
            row.rate(&["c"], RateScale::Detect).unwrap(),
            Some(dec("0.005"))
        );
        // Rows disagreeing on the PY column give no file-level year.
        assert_eq!(parse("PY,x\n2019,1\n2020,1\n").performance_year(), None);
    }

    #[test]
    fn bad_cells() {
        let puf = parse(
            "ACO_ID,N_AB,Flag,Date,Q\nA1,abc,maybe,13/01/2018,150%\nA2,\"1,2\",2,02/29/2019,1.5e1\n",
        );
        let rows: Vec<_> = puf.rows().collect();
        let err = rows[0].decimal(&["n_ab"]).unwrap_err();
        assert!(
            matches!(&err, PufError::BadCell { line: 2, column, value, .. } if column == "N_AB" && value == "abc"),
            "{err:?}"
        );
        assert!(
            err.to_string().starts_with("line 2, column N_AB: \"abc\""),
            "{err}"
        );
        assert!(matches!(
            rows[1].decimal(&["N_AB"]),
            Err(PufError::BadCell { line: 3, .. })
        ));
        assert!(rows[0].flag(&["Flag"]).is_err() && rows[1].flag(&["Flag"]).is_err());
        assert!(rows[0].date(&["Date"]).is_err() && rows[1].date(&["Date"]).is_err());
        assert!(rows[0].quality_score(&["Q"]).is_err());
        assert!(rows[0].decimal(&["Q"]).is_err());
        assert_eq!(rows[1].decimal(&["Q"]).unwrap(), Some(dec("15")));
        for bad in [
            "--1", "(-1)", "1,23", "1-2", "$", "1e99", "12,34.5", "0x10", "1 2",
        ] {
            assert!(parse_number(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            PufFile::from_reader(&b""[..]),
            Err(PufError::MissingHeader)
        ));
        let missing = PufFile::from_path(Path::new("/nonexistent/py2018.csv")).unwrap_err();
        assert!(matches!(missing, PufError::Open { .. }));
    }

    #[test]
    fn layouts_detected_from_the_header() {
        let cases: &[(&str, Layout)] = &[
            (
                "ACO Identifier,Track 2 ACO,Minimum Savings Rate (%)",
                Layout::Py2013Labels,
            ),
            ("ACO_Num,Track2,EarnShrSavings,OweLosses", Layout::Py2013),
            ("ACO_Num,Track1,Track2,Sav_rate", Layout::Py2014),
            (
                "aco_num,current_track_1,current_track_2,current_track_3",
                Layout::Py2016,
            ),
            (
                "ACO_ID,Current_Track_1,Current_Track_1_Plus",
                Layout::Py2016,
            ),
            (
                "ACO_ID,Current_Track_1,Current_BASIC_B,Participation_Six_Months",
                Layout::Py2019,
            ),
            (
                "ACO_ID,Current_Track_1_Plus,Current_BASIC_A,Current_ENHANCED",
                Layout::Py2020,
            ),
            ("ACO_ID,Current_Track_ENHANCED", Layout::Py2020),
            ("ACO_ID,Current_Track,Prorate_Shared_Losses", Layout::Py2022),
            (
                "ACO_ID,Current_Track,Met_AltQPS,FinalLossRate",
                Layout::Py2023,
            ),
            (
                "ACO_ID,Current_Track,Impact_Mid_Year_Termination",
                Layout::Py2023,
            ),
            (
                "ACO_ID,Current_Track,Met_AltQPS,ReducedSS,AIP",
                Layout::Py2024,
            ),
            ("ACO_ID,Current_Track,AIPRecoup", Layout::Py2024),
            ("ACO_ID,N_AB", Layout::Unknown),
        ];
        for (header, layout) in cases {
            let puf = parse(&format!("{header}\n"));
            assert_eq!(puf.layout(), *layout, "{header}");
        }
        let years: Vec<_> = cases.iter().map(|(_, l)| l.performance_year()).collect();
        assert_eq!(
            years,
            [2013, 2013, 0, 0, 0, 2019, 0, 0, 2022, 2023, 2023, 0, 0, 0]
                .map(|y| (y > 0).then_some(y))
        );
        // The layout's single year is the last resort, after a PY column and the file name.
        assert_eq!(
            parse("ACO_ID,Current_Track\n").performance_year(),
            Some(2022)
        );
        assert_eq!(
            parse("ACO_ID,Current_Track,PY\nA,EN,2021\n").performance_year(),
            Some(2021)
        );
        for (file, layout) in [
            ("mssp_puf_py2014.csv", Layout::Py2014),
            ("mssp_puf_py2018.csv", Layout::Py2016),
            ("mssp_puf_py2022.csv", Layout::Py2022),
            ("mssp_puf_py2013_sample.csv", Layout::Py2013Labels),
        ] {
            assert_eq!(fixture(file).layout(), layout, "{file}");
        }
        assert_eq!(Layout::Py2024.name(), "2024+");
    }

    /// PY2013 as data.cms.gov serves it: machine names reach the shifted columns, `(%)` cells are
    /// fractions despite their `%`, dollars carry cents and `$`.
    #[test]
    fn py2013_labels_sample() {
        let puf = fixture("mssp_puf_py2013_sample.csv");
        assert_eq!((puf.len(), puf.performance_year()), (18, Some(2013)));
        assert!(puf.has_column("ABtotExp") && puf.has_column("n_ab"));
        let row = puf.rows().next().unwrap();
        assert_eq!(row.text(&["ACO_ID"]), Some("A67373"));
        assert_eq!(row.flag(&["Track2"]).unwrap(), Some(false));
        assert_eq!(row.decimal(&["N_AB"]).unwrap(), Some(dec("36268")));
        let money = |name: &str| row.decimal(&[name]).unwrap().unwrap();
        assert_eq!(money("ABtotBnchmk"), dec("613084880.40"));
        assert_eq!(money("ABtotExp"), dec("573516045.50"));
        // benchmark - expenditures = the gross savings column.
        assert_eq!(money("ABtotBnchmk") - money("ABtotExp"), dec("39568834.90"));
        assert_eq!(money("BnchmkMinExp"), dec("39568834.84"));
        assert_eq!(money("EarnShrSavings"), dec("19388729.07"));
        assert_eq!(row.decimal(&["OweLosses"]).unwrap(), None);
        assert_eq!(
            row.rate(&["MinSavPerc"], RateScale::Detect).unwrap(),
            Some(dec("0.023373146"))
        );
        assert_eq!(puf.rate_scale(&["MinSavPerc"]), RateScale::Fraction);
        assert_eq!(
            row.rate(&["FinalShareRate"], RateScale::Detect).unwrap(),
            Some(dec("0.5"))
        );
        // The Track 2 row: a 40% shared loss, owed as a negative amount; MLR -2% as "-0.02%".
        let t2 = puf
            .rows()
            .find(|r| r.text(&["ACO_ID"]) == Some("A14269"))
            .unwrap();
        assert_eq!(t2.flag(&["Track2"]).unwrap(), Some(true));
        assert_eq!(
            t2.rate(&["MinLossPerc"], RateScale::Detect).unwrap(),
            Some(dec("-0.02"))
        );
        let owed = t2.decimal(&["OweLosses"]).unwrap().unwrap();
        let gross = t2.decimal(&["BnchmkMinExp"]).unwrap().unwrap();
        assert!(
            (owed - gross * dec("0.4")).abs() < dec("0.01"),
            "{owed} {gross}"
        );
    }

    #[test]
    fn py2022_fixture() {
        let puf = fixture("mssp_puf_py2022.csv");
        assert_eq!((puf.len(), puf.performance_year()), (482, Some(2022)));
        let row = puf.rows().next().unwrap();
        assert_eq!(row.text(&["ACO_ID"]), Some("A1001"));
        assert_eq!(row.text(&["Current_Track"]), Some("EN"));
        assert_eq!(
            row.rate(&["Sav_rate"], RateScale::Detect).unwrap(),
            Some(dec("0.0646"))
        );
        assert_eq!(
            row.quality_score(&["QualScore"]).unwrap(),
            Some(dec("0.8941"))
        );
        assert_eq!(row.decimal(&["DisAdj"]).unwrap(), None);
        let mut suppressed = 0;
        for row in puf.rows() {
            for name in [
                "EarnSaveLoss",
                "BnchmkMinExp",
                "ABtotBnchmk",
                "DisAdj",
                "N_AB",
            ] {
                row.decimal(&[name]).unwrap();
            }
            row.rate(&["MinSavPerc", "FinalShareRate"], RateScale::Detect)
                .unwrap();
            row.flag(&["Met_QPS", "Prorate_Shared_Losses"]).unwrap();
            suppressed += usize::from(row.text(&["N_Ben_Race_Native"]).is_none());
        }
        assert_eq!(suppressed, 236);
    }

    /// PY2024: every bare rate is a percent number, even in a column whose values are all <= 1
    /// (`MinSavPerc` 0.5 is 0.5%); PY2014-2015: `Sav_rate`/`MinSavPerc` percents, `QualScore`
    /// fractions; `^` and `/` markers; CRLF line ends; quoted and bare cells.
    #[test]
    fn layout_rate_scales_and_markers() {
        let puf = parse(
            "ACO_ID,Current_Track,MinSavPerc,Sav_rate,QualScore,FinalShareRate,ReducedSS,AIPRecoup\r\n\
             \"A1\",\"B\",\"0.5\",\"0.25\",\"77.05\",\"20.00\",\"1\",\"1,250,000\"\r\n\
             A2,EN,1,-0.75,100,75,0,^\r\n\
             A3,E,0,/,^,-,/,\"-\"\r\n",
        );
        assert_eq!(puf.layout(), Layout::Py2024);
        assert_eq!(puf.performance_year(), None);
        let rows: Vec<_> = puf.rows().collect();
        let rate = |i: usize, c: &str| rows[i].rate(&[c], RateScale::Detect).unwrap();
        assert_eq!(rate(0, "MinSavPerc"), Some(dec("0.005")));
        assert_eq!(rate(0, "Sav_rate"), Some(dec("0.0025")));
        assert_eq!(rate(1, "Sav_rate"), Some(dec("-0.0075")));
        assert_eq!(rate(0, "FinalShareRate"), Some(dec("0.2")));
        assert_eq!(
            rows[0].quality_score(&["QualScore"]).unwrap(),
            Some(dec("0.7705"))
        );
        assert_eq!(
            rows[1].quality_score(&["QualScore"]).unwrap(),
            Some(Decimal::ONE)
        );
        assert_eq!(
            rows[0].decimal(&["AIPRecoup"]).unwrap(),
            Some(dec("1250000"))
        );
        assert_eq!((rows[0].line(), rows[1].line(), rows[2].line()), (2, 3, 4));
        for c in [
            "Sav_rate",
            "QualScore",
            "FinalShareRate",
            "ReducedSS",
            "AIPRecoup",
        ] {
            assert_eq!(rows[2].text(&[c]), None, "{c}");
        }
        assert_eq!(rows[1].text(&["AIPRecoup"]), None);

        let py2014 =
            parse("ACO_Num,Track1,Track2,Sav_rate,MinSavPerc,QualScore\nA,1,0,0.5,0.9,0.9\n");
        assert_eq!(py2014.layout(), Layout::Py2014);
        let row = py2014.rows().next().unwrap();
        assert_eq!(
            row.rate(&["Sav_rate"], RateScale::Detect).unwrap(),
            Some(dec("0.005"))
        );
        assert_eq!(
            row.rate(&["MinSavPerc"], RateScale::Detect).unwrap(),
            Some(dec("0.009"))
        );
        assert_eq!(row.quality_score(&["QualScore"]).unwrap(), Some(dec("0.9")));
        // Without a layout, the same cells read as fractions (no cell above 1).
        let unknown = parse("ACO_Num,Sav_rate\nA,0.5\n");
        assert_eq!(unknown.layout(), Layout::Unknown);
        assert_eq!(
            unknown
                .rows()
                .next()
                .unwrap()
                .rate(&["Sav_rate"], RateScale::Detect)
                .unwrap(),
            Some(dec("0.5"))
        );
    }

    #[test]
    fn non_utf8_is_decoded_lossily() {
        let puf = PufFile::from_reader(&b"ACO_ID,ACO_Name,N_AB\nA1,Caf\xe9 ACO,12\n"[..]).unwrap();
        let row = puf.rows().next().unwrap();
        assert_eq!(row.text(&["ACO_Name"]), Some("Caf\u{fffd} ACO"));
        assert_eq!(row.decimal(&["N_AB"]).unwrap(), Some(dec("12")));
    }

    #[test]
    fn year_from_file_name() {
        assert_eq!(year_in_name("mssp_puf_py2018.csv"), Some(2018));
        assert_eq!(
            year_in_name("2018_Shared_Savings_Program__SSP__ACO__PUF.csv"),
            Some(2018)
        );
        assert_eq!(year_in_name("v2024_puf_PY2019.csv"), Some(2019));
        assert_eq!(year_in_name("20240115_puf.csv"), None);
        assert_eq!(year_in_name("puf.csv"), None);
    }

    #[test]
    fn garbage_never_panics() {
        const ALPHABET: &[u8] = b",,,\"\n\r 0123456789.-%$()*PYNAN/e:T\t\xef\xbb\xbf\xff";
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u8
        };
        let (mut rows_seen, mut numbers) = (0, 0);
        for case in 0..400 {
            let len = usize::from(next()) * (case % 4 + 1);
            let bytes: Vec<u8> = (0..len)
                .map(|_| match case % 2 {
                    0 => next(),
                    _ => ALPHABET[usize::from(next()) % ALPHABET.len()],
                })
                .collect();
            let Ok(puf) = PufFile::from_reader(bytes.as_slice()) else {
                continue;
            };
            let mut names: Vec<String> = puf.headers().map(str::to_owned).collect();
            names.extend(["", "PY", "nope"].map(String::from));
            let _ = (puf.len(), puf.is_empty(), puf.performance_year());
            for row in puf.rows() {
                rows_seen += row.line().min(1);
                for name in &names {
                    let n = &[name.as_str()];
                    let _ = (puf.has_column(name), puf.rate_scale(n), row.text(n));
                    numbers += usize::from(matches!(row.decimal(n), Ok(Some(_))));
                    let _ = (row.quality_score(n), row.flag(n), row.date(n));
                    for scale in [RateScale::Fraction, RateScale::Percent, RateScale::Detect] {
                        let _ = row.rate(n, scale);
                    }
                }
            }
        }
        // The generator must actually reach the accessors with rows and numeric cells.
        assert!(
            rows_seen > 1000 && numbers > 100,
            "{rows_seen} rows, {numbers} numbers"
        );
    }
}
