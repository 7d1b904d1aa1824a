//! Backtest against CMS: recompute every ACO of an MSSP ACO Public Use File (PUF) with the
//! [`engine`](settlement_rules) and compare the result with the `EarnSaveLoss` CMS published.
//!
//! The file's [`Layout`] is detected from its header (every layout CMS used, PY2013-2024+; see
//! [`Layout`]), and each row becomes a [`SettlementInput`]:
//!
//! | input | PUF columns |
//! |---|---|
//! | track | `Current_Track` text ("Track 1+", "BASIC Level C", "ENHANCED", and the PY2022+ codes `A`..`E`, `EN`), else the flags `Current_Track_1`, `Current_Track_2`, `Current_Track_3`, `Current_Track_1_Plus`, `Current_BASIC_A`..`Current_BASIC_E`, `Current_ENHANCED`, else (2014-2015) `Track1`, `Track2`, else (2013) `Track 2 ACO` (0 = Track 1) |
//! | agreement start | `Current_Start_Date`, else `Start_Date`, else `Initial_Start_Date` |
//! | performance year | [`PufFile::performance_year`] (column, file name, else a one-year layout) |
//! | months of participation | 6 when `Participation_Six_Months` = 1, or for a PY2019 agreement starting 2019-07-01 (the 2019A period), pro-rated by 425.609 |
//! | assigned beneficiaries | `N_AB` |
//! | benchmark | `ABtotBnchmk` |
//! | expenditures | `ABtotBnchmk - BnchmkMinExp`, else `ABtotExp`, else `ABtotBnchmk - GenSaveLoss` |
//! | quality | `QualScore` (`P4R` = 1); `Met_QPS` 0 = standard not met unless `Met_AltQPS` = 1 (PY2023+ alternative standard: max rate x score); files without `Met_QPS`: `FinalShareRate` 0 |
//! | MSR/MLR | one-sided: the variable scale with the small-ACO extension below 5,000; two-sided: the published `MinSavPerc` when it is a fixed choice (0, 0.5, 1, 1.5, 2%), else the variable scale |
//! | extreme and uncontrollable | `DisAdj` (published negative) as an amount |
//! | low revenue | `Rev_Exp_Cat` "Low Revenue" (else `ReducedSS` = 1, noted) |
//! | published amount | `EarnSaveLoss`, else (2013) `EarnShrSavings` minus the amount of `OweLosses` |
//!
//! Columns used to check or explain the money: `FinalShareRate` and `QualPerfShare` (a rounded
//! published rate rebuilt from its parts is noted), `FinalLossRate`, `Risk_Model` (against the
//! track), `RevLossLimit`, `ReducedSS` (425.605(h) conditions the file contradicts),
//! `Prorate_Shared_Losses` / `Impact_Mid_Year_Termination` (losses pro-rated to the months before a
//! termination, 425.221(b)(2)(ii): the months are not published, so such a row is checked, not
//! reproduced: the cause is claimed when the published loss is the computed one x k/12 for whole
//! months k), `AIPRecoup`/`AIPOwe`/`AIPBalance` and (PY2012-2018) `Adv_Pay_Recoup` (advance
//! payments recouped from the savings: reported beside `EarnSaveLoss`, which CMS publishes before
//! the recoupment, with the net paid, in the JSON and in the table).
//!
//! Gross savings are taken from `BnchmkMinExp` rather than `ABtotBnchmk - ABtotExp`: CMS rounds each
//! total on its own, and its gross savings (the published difference) is what it settled on.
//!
//! Participant revenue is not published. BASIC Levels C-E need it for their loss limit: such a row is
//! computed with the benchmark-based limit, exact when no losses are owed and an upper bound
//! otherwise (noted); a smaller published loss is explained by the revenue it implies.
//!
//! Where the offset (`DisAdj`) cancels the whole loss (`EarnSaveLoss` 0, the PY2020-2022 COVID-19
//! relief), the comparison is the engine's shared loss before the offset against the offset
//! ([`OffsetCheck`]) instead of the net amounts (an offset within $1 implies net amounts within $1).
//!
//! The published amount is in whole dollars; the engine's in cents. An ACO is "within $1" when
//! `|computed - published| <= 1` and "within 0.1%" when it is within $1 or
//! `|computed - published| <= 0.1% x |published|`. Every ACO beyond $1 is a mismatch and gets a
//! likely cause, claimed only when a check on the numbers supports it (else "unexplained").

use acorn_proto::cms::puf::{Layout, PufError, PufFile, PufRow, RateScale};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use settlement_rules::quality::Era;
use settlement_rules::rules::{self, LossLimit, LossRate, MsrRule};
use settlement_rules::{
    Date, ExtremeUncontrollable, MsrOption, MsrSchedule, NoTrace, Outcome, Quality,
    QualityStandard, Settlement, SettlementError, SettlementInput, Track, reconcile, round_money,
};

/// One ACO compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcoComparison {
    /// 1-based line in the file (the header is line 1).
    pub line: usize,
    /// ACO identifier (`ACO_ID` / `ACO_Num`).
    pub aco_id: String,
    /// Track the ACO was reconciled under.
    pub track: Track,
    /// Published `EarnSaveLoss`: paid (+) or owed (-), dollars.
    pub published: Decimal,
    /// The engine's net amount (shared savings - shared losses), cents; `None` when the engine
    /// returned an error.
    pub computed: Option<Decimal>,
    /// The engine's error, when it returned one.
    pub error: Option<String>,
    /// For mismatches (beyond $1): the likely cause, or "unexplained".
    pub cause: Option<String>,
    /// Every input rebuilt or inferred for this row and every remark on how it was computed
    /// (e.g. a rounded published rate rebuilt from its parts, revenue not published but not
    /// needed), joined by "; ".
    pub note: Option<String>,
    /// When the published extreme-and-uncontrollable offset (`DisAdj`) cancels the whole shared
    /// loss (`EarnSaveLoss` 0, the PY2020-2022 COVID-19 relief): the offset against the engine's
    /// shared loss before the offset. `EarnSaveLoss` alone cannot check the loss rules then.
    pub offset: Option<OffsetCheck>,
    /// Advance payments recouped from the shared savings (PY2024+ `AIPRecoup`, PY2012-2018
    /// `Adv_Pay_Recoup`).
    pub aip: Option<AipRecoupment>,
}

/// The published offset (`DisAdj`, as a positive amount) against the engine's shared loss before
/// the offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetCheck {
    /// `|DisAdj|`, dollars.
    pub published: Decimal,
    /// The engine's shared loss after the loss limit and before the offset, cents.
    pub computed: Decimal,
}

impl OffsetCheck {
    /// Computed minus published.
    pub fn diff(&self) -> Decimal {
        self.computed - self.published
    }
}

/// Advance payments recouped from earned shared savings: PY2024+ advance investment payments
/// (`AIPRecoup`, `AIPOwe`) and PY2012-2018 Advance Payment Model payments (`Adv_Pay_Recoup`).
/// `EarnSaveLoss` is published before the recoupment; the ACO is paid `EarnSaveLoss - recouped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AipRecoupment {
    /// `AIPRecoup` / `Adv_Pay_Recoup`: the amount recouped from this year's shared savings.
    pub recouped: Decimal,
    /// `AIPOwe`: the amount the ACO still owes, when published.
    pub owed: Option<Decimal>,
    /// `AIPBalance`: the advance investment payments outstanding, as published (PY2024+).
    pub balance: Option<Decimal>,
    /// Published net paid: `EarnSaveLoss - AIPRecoup`.
    pub net_paid_published: Decimal,
    /// Computed net paid: the engine's shared savings less the recoupment, never below zero
    /// (a recoupment comes out of savings only); `None` when not computed.
    pub net_paid_computed: Option<Decimal>,
}

/// Within $1, or within 0.1% of `reference`.
fn within_0_1_percent_of(diff: Decimal, reference: Decimal) -> bool {
    let d = diff.abs();
    d <= Decimal::ONE || d <= reference.abs() * Decimal::new(1, 3)
}

impl AcoComparison {
    /// Computed minus published, when computed.
    pub fn diff(&self) -> Option<Decimal> {
        self.computed.map(|c| c - self.published)
    }

    /// `|computed - published| <= $1`; where the offset cancels the loss, the engine's shared loss
    /// within $1 of the published offset instead (which implies the net amounts agree within $1).
    pub fn within_1_dollar(&self) -> bool {
        self.computed.is_some()
            && match self.offset {
                Some(o) => o.diff().abs() <= Decimal::ONE,
                None => self.diff().is_some_and(|d| d.abs() <= Decimal::ONE),
            }
    }

    /// Within $1, or `|computed - published| <= 0.1% x |published|`; where the offset cancels the
    /// loss, the same test of the shared loss against the offset instead.
    pub fn within_0_1_percent(&self) -> bool {
        self.computed.is_some()
            && match self.offset {
                Some(o) => within_0_1_percent_of(o.diff(), o.published),
                None => self
                    .diff()
                    .is_some_and(|d| within_0_1_percent_of(d, self.published)),
            }
    }

    /// Not within $1 (including engine errors).
    pub fn is_mismatch(&self) -> bool {
        !self.within_1_dollar()
    }

    /// A mismatch whose cause a check on the numbers supports (not "unexplained", not an engine
    /// error).
    pub fn is_explained(&self) -> bool {
        self.is_mismatch()
            && self.error.is_none()
            && self.cause.as_deref().is_some_and(|c| c != UNEXPLAINED)
    }
}

/// Match counts of one track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackSummary {
    /// The track.
    pub track: Track,
    /// ACOs compared.
    pub acos: usize,
    /// ACOs within $1 of the published amount.
    pub within_1_dollar: usize,
    /// ACOs within $1 or within 0.1% of the published amount.
    pub within_0_1_percent: usize,
    /// ACOs beyond $1 whose difference a checked cause explains ([`AcoComparison::is_explained`]).
    pub explained: usize,
}

/// The result of [`run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Performance year of the file.
    pub performance_year: i32,
    /// The layout detected from the header.
    pub layout: Layout,
    /// Data rows in the file (used + skipped).
    pub rows: usize,
    /// Counts per track, in [`Track::ALL`] order, tracks without ACOs left out.
    pub tracks: Vec<TrackSummary>,
    /// Every ACO compared, in file order.
    pub acos: Vec<AcoComparison>,
    /// Rows not compared: (line, reason), in file order.
    pub skipped: Vec<(usize, String)>,
}

/// Why a file cannot be backtested at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BacktestError {
    /// Neither a `Performance_Year`/`PY` column, the file name nor the caller gave the year.
    #[error(
        "the performance year is unknown: the file has no Performance_Year/PY column and none was set (PufFile::with_performance_year)"
    )]
    PerformanceYearUnknown,
    /// No column says which track an ACO is in.
    #[error(
        "no track columns: expected Current_Track, Current_Track_1/_2/_3/_1_Plus, Current_BASIC_A..E, Current_ENHANCED or Track1/Track2"
    )]
    NoTrackColumns,
    /// A column every settlement needs is absent.
    #[error("the file has no {0} column")]
    MissingColumn(&'static str),
}

const ACO_ID: &[&str] = &["ACO_ID", "ACO_Num", "ACO_Number"];
const N_AB: &[&str] = &["N_AB"];
const BENCHMARK: &[&str] = &["ABtotBnchmk"];
const GROSS: &str = "BnchmkMinExp";
const EXPENDITURES: &str = "ABtotExp";
const GEN_SAVE_LOSS: &str = "GenSaveLoss";
const PUBLISHED: &[&str] = &["EarnSaveLoss"];
/// PY2013 publishes savings and losses apart.
const EARNED_2013: &str = "EarnShrSavings";
const OWED_2013: &str = "OweLosses";
const START: [&str; 3] = ["Current_Start_Date", "Start_Date", "Initial_Start_Date"];
const TRACK_TEXT: &[&str] = &["Current_Track"];
const QUAL_SCORE: &[&str] = &["QualScore"];
const MET_QPS: &[&str] = &["Met_QPS"];
const FINAL_SHARE_RATE: &[&str] = &["FinalShareRate"];
const MIN_SAV_PERC: &[&str] = &["MinSavPerc"];
const DIS_ADJ: &[&str] = &["DisAdj"];
const REV_LOSS_LIMIT: &[&str] = &["RevLossLimit"];
const REV_EXP_CAT: &[&str] = &["Rev_Exp_Cat"];
const MET_ALT_QPS: &[&str] = &["Met_AltQPS"];
const RISK_MODEL: &[&str] = &["Risk_Model"];
const QUAL_PERF_SHARE: &[&str] = &["QualPerfShare"];
const FINAL_LOSS_RATE: &[&str] = &["FinalLossRate"];
const SIX_MONTHS: &[&str] = &["Participation_Six_Months"];
const REDUCED_SS: &[&str] = &["ReducedSS"];
/// Advance payments recouped from the shared savings: PY2024+ advance investment payments
/// (`AIPRecoup`), PY2012-2018 Advance Payment Model payments (`Adv_Pay_Recoup`).
const AIP_RECOUP: &[&str] = &["AIPRecoup", "Adv_Pay_Recoup"];
const AIP_OWE: &[&str] = &["AIPOwe"];
const AIP_BALANCE: &[&str] = &["AIPBalance"];
/// Early-termination pro-ration of shared losses: PY2022 `Prorate_Shared_Losses`, PY2023+
/// `Impact_Mid_Year_Termination`.
const PRORATED_LOSSES: &[&str] = &["Prorate_Shared_Losses", "Impact_Mid_Year_Termination"];

/// Track flag columns of 2018+ layouts (aliases of one track may both appear).
const CURRENT_FLAGS: &[(&str, Track)] = &[
    ("Current_Track_1", Track::Track1),
    ("Current_Track_2", Track::Track2),
    ("Current_Track_3", Track::Track3),
    ("Current_Track_1_Plus", Track::Track1Plus),
    ("Current_BASIC_A", Track::BasicA),
    ("Current_BASIC_B", Track::BasicB),
    ("Current_BASIC_C", Track::BasicC),
    ("Current_BASIC_D", Track::BasicD),
    ("Current_BASIC_E", Track::BasicE),
    ("Current_Track_BASIC_A", Track::BasicA),
    ("Current_Track_BASIC_B", Track::BasicB),
    ("Current_Track_BASIC_C", Track::BasicC),
    ("Current_Track_BASIC_D", Track::BasicD),
    ("Current_Track_BASIC_E", Track::BasicE),
    ("Current_ENHANCED", Track::Enhanced),
    ("Current_Track_ENHANCED", Track::Enhanced),
];

/// Track flag columns of the 2012-2015 layouts; used only when no `Current_*` flag exists.
const LEGACY_FLAGS: &[(&str, Track)] = &[
    ("Track1", Track::Track1),
    ("Track2", Track::Track2),
    ("Track3", Track::Track3),
];

/// PY2013 has only a Track 2 flag (`Track 2 ACO`): every other ACO is in Track 1.
const TRACK2_ONLY: &str = "Track2";

/// Largest amount magnitude accepted (dollars); larger cells are skipped, which also keeps the
/// exact arithmetic far from `Decimal`'s range.
const MAX_AMOUNT: i64 = 1_000_000_000_000_000;
/// Largest beneficiary count accepted.
const MAX_BENEFICIARIES: u64 = 1_000_000_000;
/// The cause of a mismatch no check explains.
const UNEXPLAINED: &str = "unexplained";
/// Distance from the MSR/MLR that counts as a threshold case.
const THRESHOLD_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 6);

/// Which columns of the file say the track.
struct TrackColumns {
    text: bool,
    flags: Vec<(&'static str, Track)>,
}

/// One row, mapped to the engine's inputs.
struct Prepared {
    line: usize,
    aco_id: String,
    track: Track,
    start: Date,
    n: u64,
    benchmark: Decimal,
    gross: Decimal,
    published: Decimal,
    quality: Quality,
    /// The published MinSavPerc, as a fraction.
    published_msr: Option<Decimal>,
    dis_adj: Decimal,
    /// `RevLossLimit` (PY2018-2021): 1 = the revenue-based side of the loss limit applied, 0 = the
    /// benchmark-based side; `None` where the file does not publish it.
    revenue_loss_limit: Option<bool>,
    low_revenue: bool,
    /// Months of participation (6 for the 6-month 2019 periods), `None` = 12.
    participation_months: Option<u32>,
    /// `ReducedSS`: CMS applied the 425.605(h) half rate.
    reduced_ss: Option<bool>,
    /// Published `FinalShareRate`, `QualPerfShare`, `FinalLossRate` (fractions).
    final_share_rate: Option<Decimal>,
    qual_perf_share: Option<Decimal>,
    final_loss_rate: Option<Decimal>,
    /// `Prorate_Shared_Losses` / `Impact_Mid_Year_Termination` set.
    prorated_losses: bool,
    /// The recoupment and the column it was read from.
    aip_recoup: Option<(Decimal, &'static str)>,
    aip_owe: Option<Decimal>,
    aip_balance: Option<Decimal>,
    /// Inputs rebuilt or inferred while reading the row.
    notes: Vec<String>,
}

/// Recomputes every ACO in `file` and compares it with the published `EarnSaveLoss`.
pub fn run(file: &PufFile) -> Result<Report, BacktestError> {
    let performance_year = file
        .performance_year()
        .ok_or(BacktestError::PerformanceYearUnknown)?;
    let columns = track_columns(file)?;
    for (names, label) in [
        (ACO_ID, "ACO_ID/ACO_Num"),
        (N_AB, "N_AB"),
        (BENCHMARK, "ABtotBnchmk"),
        (
            &[PUBLISHED[0], EARNED_2013, OWED_2013][..],
            "EarnSaveLoss (or EarnShrSavings/OweLosses)",
        ),
        (
            &[GROSS, EXPENDITURES, GEN_SAVE_LOSS][..],
            "BnchmkMinExp/ABtotExp/GenSaveLoss",
        ),
        (
            &START[..],
            "Current_Start_Date/Start_Date/Initial_Start_Date",
        ),
    ] {
        if !names.iter().any(|n| file.has_column(n)) {
            return Err(BacktestError::MissingColumn(label));
        }
    }

    let mut report = Report {
        performance_year,
        layout: file.layout(),
        rows: file.len(),
        tracks: Vec::new(),
        acos: Vec::new(),
        skipped: Vec::new(),
    };
    let mut prepared = Vec::with_capacity(file.len());
    for row in file.rows() {
        match prepare(&row, &columns, file) {
            Ok(p) => prepared.push(p),
            Err(reason) => report.skipped.push((row.line(), reason)),
        }
    }
    // The published quality scores' precision: the most decimals any of them has.
    let score_decimals = prepared
        .iter()
        .filter_map(|p| p.quality.score)
        .map(|s| s.normalize().scale())
        .max();

    let share_decimals = prepared
        .iter()
        .filter_map(|p| p.final_share_rate)
        .map(|s| s.normalize().scale())
        .max();
    let precision = Precision {
        score: score_decimals,
        share: share_decimals,
    };

    let schedule = MsrSchedule::with_small_aco_extension();
    for p in &prepared {
        match compare(p, performance_year, &schedule, precision) {
            Ok(c) => report.acos.push(c),
            Err(reason) => report.skipped.push((p.line, reason)),
        }
    }
    report.skipped.sort_by_key(|(line, _)| *line);

    report.tracks = Track::ALL
        .iter()
        .filter_map(|&track| {
            let of_track = || report.acos.iter().filter(move |a| a.track == track);
            let acos = of_track().count();
            (acos > 0).then(|| TrackSummary {
                track,
                acos,
                within_1_dollar: of_track().filter(|a| a.within_1_dollar()).count(),
                within_0_1_percent: of_track().filter(|a| a.within_0_1_percent()).count(),
                explained: of_track().filter(|a| a.is_explained()).count(),
            })
        })
        .collect();
    Ok(report)
}

fn track_columns(file: &PufFile) -> Result<TrackColumns, BacktestError> {
    let text = TRACK_TEXT.iter().any(|c| file.has_column(c));
    let present = |list: &[(&'static str, Track)]| -> Vec<(&'static str, Track)> {
        list.iter()
            .copied()
            .filter(|(c, _)| file.has_column(c))
            .collect()
    };
    let mut flags = present(CURRENT_FLAGS);
    if flags.is_empty() {
        flags = present(LEGACY_FLAGS);
    }
    if !text && flags.is_empty() {
        return Err(BacktestError::NoTrackColumns);
    }
    Ok(TrackColumns { text, flags })
}

fn cell_error(e: PufError) -> String {
    e.to_string()
}

/// The first of `names` whose cell is present, read with `read` (each name tried on its own, so a
/// blank cell falls through to the next column).
fn first_present<T>(
    names: &[&str],
    read: impl Fn(&[&str]) -> Result<Option<T>, PufError>,
) -> Result<Option<T>, String> {
    for name in names {
        if let Some(v) = read(&[name]).map_err(cell_error)? {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

fn amount(row: &PufRow<'_>, names: &[&str], what: &str) -> Result<Option<Decimal>, String> {
    match row.decimal(names).map_err(cell_error)? {
        Some(v) if v.abs() > Decimal::from(MAX_AMOUNT) => {
            Err(format!("{what} {v} is out of range"))
        }
        v => Ok(v),
    }
}

fn prepare(row: &PufRow<'_>, columns: &TrackColumns, file: &PufFile) -> Result<Prepared, String> {
    let aco_id = row
        .text(ACO_ID)
        .ok_or_else(|| "no ACO id".to_string())?
        .to_string();
    let track = row_track(row, columns)?;
    let start = first_present(&START, |n| row.date(n))?
        .ok_or_else(|| "no agreement start date".to_string())?;

    let n = row
        .decimal(N_AB)
        .map_err(cell_error)?
        .ok_or_else(|| "N_AB missing".to_string())?;
    let n = if n.fract().is_zero() && n >= Decimal::ZERO {
        u64::try_from(n).ok().filter(|&n| n <= MAX_BENEFICIARIES)
    } else {
        None
    }
    .ok_or_else(|| format!("N_AB {n} is not a beneficiary count"))?;

    let benchmark =
        amount(row, BENCHMARK, "ABtotBnchmk")?.ok_or_else(|| "ABtotBnchmk missing".to_string())?;
    if benchmark > Decimal::ZERO && benchmark < Decimal::ONE {
        return Err(format!("ABtotBnchmk {benchmark} is implausible"));
    }
    let gross = match amount(row, &[GROSS], GROSS)? {
        Some(g) => g,
        None => match amount(row, &[EXPENDITURES], EXPENDITURES)? {
            Some(e) => benchmark - e,
            None => amount(row, &[GEN_SAVE_LOSS], GEN_SAVE_LOSS)?
                .ok_or_else(|| "BnchmkMinExp, ABtotExp and GenSaveLoss all missing".to_string())?,
        },
    };
    let mut notes = Vec::new();
    let published = match amount(row, PUBLISHED, "EarnSaveLoss")? {
        Some(p) => p,
        None if !file.has_column(PUBLISHED[0]) => {
            // PY2013: earned shared savings and shared losses owed in two columns.
            let earned = amount(row, &[EARNED_2013], EARNED_2013)?;
            let owed = amount(row, &[OWED_2013], OWED_2013)?;
            if earned.is_none() && owed.is_none() {
                return Err(format!("{EARNED_2013} and {OWED_2013} missing"));
            }
            notes.push(format!(
                "EarnSaveLoss rebuilt as {EARNED_2013} - |{OWED_2013}| (PY2013 publishes them apart)"
            ));
            earned.unwrap_or_default() - owed.unwrap_or_default().abs()
        }
        None => return Err("EarnSaveLoss missing".to_string()),
    };

    let score = row.quality_score(QUAL_SCORE).map_err(cell_error)?;
    let met = row.flag(MET_QPS).map_err(cell_error)?;
    let alternative = row.flag(MET_ALT_QPS).map_err(cell_error)?;
    let standard = match met {
        Some(true) => Some(QualityStandard::Met),
        // PY2023+: the alternative quality performance standard (425.512(a)(4)(ii), (a)(5)).
        Some(false) if alternative == Some(true) => Some(QualityStandard::AlternativeMet),
        Some(false) => Some(QualityStandard::NotMet),
        // Layouts without Met_QPS (2012-2015): a zero final sharing rate is the failed standard
        // (PY2014: pay-for-reporting ACOs that did not report).
        None if !MET_QPS.iter().any(|c| file.has_column(c)) => {
            match row
                .rate(FINAL_SHARE_RATE, RateScale::Detect)
                .map_err(cell_error)?
            {
                Some(f) if f.is_zero() => Some(QualityStandard::NotMet),
                _ => None,
            }
        }
        None => None,
    };
    let published_msr = row
        .rate(MIN_SAV_PERC, RateScale::Detect)
        .map_err(cell_error)?;
    let dis_adj = amount(row, DIS_ADJ, "DisAdj")?.unwrap_or_default().abs();
    let revenue_loss_limit = row.flag(REV_LOSS_LIMIT).map_err(cell_error)?;
    let low_revenue_category = row
        .text(REV_EXP_CAT)
        .map(|t| t.to_ascii_lowercase().contains("low"));
    let reduced_ss = row.flag(REDUCED_SS).map_err(cell_error)?;
    let low_revenue = match (low_revenue_category, reduced_ss) {
        (Some(low), _) => low,
        // ReducedSS = 1 is CMS's finding that the ACO is a low revenue ACO (425.605(h)(ii)).
        (None, Some(true)) => {
            notes.push(
                "low revenue inferred from ReducedSS = 1 (Rev_Exp_Cat not published)".to_string(),
            );
            true
        }
        (None, _) => false,
    };
    let participation_months = match row.flag(SIX_MONTHS).map_err(cell_error)? {
        Some(true) => {
            notes.push(
                "Participation_Six_Months = 1: a 6-month 2019 period, shared savings and losses pro-rated to 6 of 12 months (425.609)".to_string(),
            );
            Some(6)
        }
        Some(false) => None,
        // The July-December 2019 period: agreements starting 2019-07-01 (425.609(c)).
        None if file.performance_year() == Some(2019) && start == Date::constant(2019, 7, 1) => {
            notes.push(
                "agreement starting 2019-07-01 in PY2019: the 6-month July-December period inferred, pro-rated to 6 of 12 months (425.609)".to_string(),
            );
            Some(6)
        }
        None => None,
    };
    let scale = RateScale::Detect;
    let final_share_rate = row.rate(FINAL_SHARE_RATE, scale).map_err(cell_error)?;
    let qual_perf_share = row.rate(QUAL_PERF_SHARE, scale).map_err(cell_error)?;
    let final_loss_rate = row.rate(FINAL_LOSS_RATE, scale).map_err(cell_error)?;
    let mut prorated_losses = false;
    for column in PRORATED_LOSSES {
        match row.decimal(&[column]) {
            Ok(Some(v)) if !v.is_zero() => prorated_losses = true,
            Ok(_) => {}
            Err(_) => {
                if row.flag(&[column]).map_err(cell_error)? == Some(true) {
                    prorated_losses = true;
                }
            }
        }
    }
    let mut aip_recoup = None;
    for &column in AIP_RECOUP {
        if let Some(v) = amount(row, &[column], column)? {
            aip_recoup = Some((v, column));
            break;
        }
    }
    let aip_owe = amount(row, AIP_OWE, "AIPOwe")?;
    let aip_balance = amount(row, AIP_BALANCE, "AIPBalance")?;
    // PY2019+ `Risk_Model` ("One-Sided" / "Two-Sided") against the track read from the row.
    if let (Some(model), Ok(rules)) = (
        row.text(RISK_MODEL),
        rules::select(
            track,
            start,
            file.performance_year().unwrap_or(start.year()),
        ),
    ) {
        let lower = model.to_ascii_lowercase();
        let said = if lower.contains("two") {
            Some(true)
        } else if lower.contains("one") {
            Some(false)
        } else {
            None
        };
        if said.is_some_and(|two| two != rules.two_sided()) {
            notes.push(format!(
                "Risk_Model {model:?} disagrees with {}, which is {}",
                track.name(),
                if rules.two_sided() {
                    "two-sided"
                } else {
                    "one-sided"
                }
            ));
        }
    }

    Ok(Prepared {
        line: row.line(),
        aco_id,
        track,
        start,
        n,
        benchmark,
        gross,
        published,
        quality: Quality { standard, score },
        published_msr,
        dis_adj,
        revenue_loss_limit,
        low_revenue,
        participation_months,
        reduced_ss,
        final_share_rate,
        qual_perf_share,
        final_loss_rate,
        prorated_losses,
        aip_recoup,
        aip_owe,
        aip_balance,
        notes,
    })
}

fn row_track(row: &PufRow<'_>, columns: &TrackColumns) -> Result<Track, String> {
    let text = if columns.text {
        row.text(TRACK_TEXT)
    } else {
        None
    };
    if let Some(text) = text {
        if let Some(track) = track_from_text(text) {
            return Ok(track);
        }
        if columns.flags.is_empty() {
            return Err(format!("unrecognised track {text:?}"));
        }
    }
    let mut found: Vec<Track> = Vec::new();
    for &(column, track) in &columns.flags {
        if row.flag(&[column]).map_err(cell_error)? == Some(true) && !found.contains(&track) {
            found.push(track);
        }
    }
    match found[..] {
        [track] => Ok(track),
        // PY2013: no Track 1 column; a Track 2 flag of 0 is Track 1.
        [] if columns.flags.iter().all(|(c, _)| *c == TRACK2_ONLY)
            && row.flag(&[TRACK2_ONLY]).map_err(cell_error)? == Some(false) =>
        {
            Ok(Track::Track1)
        }
        [] => Err(match text {
            Some(text) => format!("unrecognised track {text:?} and no track flag set"),
            None => "no track flag set".to_string(),
        }),
        _ => Err(format!(
            "several track flags set ({})",
            found
                .iter()
                .map(|t| t.name())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Reads a track name as later PUFs print it: "Track 1", "Track 1+", "Track 1 Plus", "Track 2",
/// "Track 3", "BASIC Level C", "Basic C", "BASIC_E", "ENHANCED", and the PY2022+ `Current_Track`
/// codes "A".."E" (BASIC levels) and "EN" (ENHANCED). `None` when unrecognised or ambiguous.
pub fn track_from_text(text: &str) -> Option<Track> {
    let lower = text.trim().to_ascii_lowercase();
    // PY2022+ print the BASIC level as a bare letter and ENHANCED as "EN".
    if lower == "en" {
        return Some(Track::Enhanced);
    }
    if let Some(level) = basic_level(&lower) {
        return Some(level);
    }
    let tokens: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect();
    let plus = lower.contains('+') || tokens.iter().any(|t| t.ends_with("plus"));
    let enhanced = tokens.contains(&"enhanced");
    let basic = tokens
        .iter()
        .any(|t| t.starts_with("basic") || *t == "level");
    if enhanced {
        return (!basic).then_some(Track::Enhanced);
    }
    if tokens.contains(&"pioneer") {
        return Some(Track::Pioneer);
    }
    // The one track the tokens name, read by `pick`; none or several: not recognised.
    let distinct = |pick: &dyn Fn(&str) -> Option<Track>| {
        let mut v: Vec<Track> = tokens.iter().filter_map(|t| pick(t)).collect();
        v.dedup();
        match v[..] {
            [t] => Some(t),
            _ => None,
        }
    };
    if basic {
        return distinct(&|t| {
            let t = t.strip_prefix("basic").unwrap_or(t);
            basic_level(t.strip_prefix("level").unwrap_or(t))
        });
    }
    distinct(&|t| {
        let t = t.strip_prefix("track").unwrap_or(t);
        match t.strip_suffix("plus").unwrap_or(t) {
            "1" if plus => Some(Track::Track1Plus),
            "1" => Some(Track::Track1),
            "2" if !plus => Some(Track::Track2),
            "3" if !plus => Some(Track::Track3),
            _ => None,
        }
    })
}

/// The BASIC level a lower-case letter names ("a".."e").
fn basic_level(letter: &str) -> Option<Track> {
    match letter {
        "a" => Some(Track::BasicA),
        "b" => Some(Track::BasicB),
        "c" => Some(Track::BasicC),
        "d" => Some(Track::BasicD),
        "e" => Some(Track::BasicE),
        _ => None,
    }
}

/// The MSR option: one-sided tracks use the scale; two-sided tracks the published fixed choice,
/// else the scale; tracks with a single fixed option their default.
fn msr_option(p: &Prepared, py: i32) -> MsrOption {
    let Ok(rules) = rules::select(p.track, p.start, py) else {
        return MsrOption::Default; // the engine reports why
    };
    match rules.msr {
        MsrRule::VariableOnly => MsrOption::Variable,
        MsrRule::FixedTwoPercent | MsrRule::SuppliedCorridor => MsrOption::Default,
        MsrRule::Choice => match p.published_msr {
            Some(m) => MsrOption::FIXED_CHOICES
                .iter()
                .find(|&&c| c == m)
                .map_or(MsrOption::Variable, |&c| MsrOption::Fixed(c)),
            None => MsrOption::Default, // the choice is unknown: the engine says so
        },
    }
}

/// Decimals the file publishes `QualScore` and `FinalShareRate` to (the most any cell has).
#[derive(Clone, Copy)]
struct Precision {
    score: Option<u32>,
    share: Option<u32>,
}

fn compare(
    p: &Prepared,
    py: i32,
    schedule: &MsrSchedule,
    precision: Precision,
) -> Result<AcoComparison, String> {
    let score_decimals = precision.score;
    let mut input = SettlementInput::new(
        p.track,
        p.start,
        py,
        p.n,
        p.benchmark,
        p.benchmark - p.gross,
    );
    input.quality = p.quality;
    input.msr_option = msr_option(p, py);
    input.msr_schedule = Some(schedule);
    input.low_revenue = p.low_revenue;
    input.participation_months = p.participation_months;
    if !p.dis_adj.is_zero() {
        input.extreme_uncontrollable = ExtremeUncontrollable::Amount(p.dis_adj);
    }

    let mut notes = p.notes.clone();
    let mut result = reconcile(&input, &mut NoTrace);
    if let Err(SettlementError::RevenueRequired { track }) = result {
        // Participant revenue is not published. Compute with a revenue large enough that the
        // benchmark-based limit applies: exact when no losses are owed (the limit cannot change
        // the result), an upper bound on the shared loss otherwise.
        let probe = p.benchmark.checked_mul(Decimal::ONE_HUNDRED);
        input.participant_revenue = probe;
        result = reconcile(&input, &mut NoTrace);
        match &result {
            // RevLossLimit = 0: noted below as exact.
            Ok(s) if s.outcome == Outcome::SharedLosses && p.revenue_loss_limit == Some(false) => {}
            Ok(s) if s.outcome == Outcome::SharedLosses => notes.push(format!(
                "{track}: participant revenue not published; loss limit from the benchmark only (a revenue-based limit can only be lower)"
            )),
            Ok(_) => notes.push(format!(
                "{track}: participant revenue not published; no losses are owed, so the loss limit cannot change the result"
            )),
            Err(_) if probe.is_none() => {
                return Err(format!(
                    "not comparable: {track} needs the participants' revenue, which the PUF does not publish"
                ));
            }
            Err(_) => {}
        }
    }

    // The loss limit is the lower of a share of revenue and a share of the benchmark
    // (425.605(d)(1)(iii)(D)-(v)(D); Track 1+ [R]); RevLossLimit = 0 says CMS applied the benchmark
    // side, which needs no revenue.
    if let Ok(s) = &result
        && s.outcome == Outcome::SharedLosses
        && p.revenue_loss_limit == Some(false)
        && matches!(
            rules::select(p.track, p.start, py)
                .ok()
                .and_then(|r| r.losses)
                .map(|l| l.limit),
            Some(LossLimit::RevenueCappedByBenchmark { .. })
        )
    {
        notes.push(format!(
            "{}: participant revenue not published; RevLossLimit = 0, so the benchmark-based loss limit applied and the result is exact",
            p.track.name()
        ));
    }

    // The published offset cancels the whole loss: check the shared loss against the offset.
    let mut offset = None;
    if let Ok(s) = &result
        && s.outcome == Outcome::SharedLosses
        && p.published.is_zero()
        && !p.dis_adj.is_zero()
    {
        let mut before = input.clone();
        before.extreme_uncontrollable = ExtremeUncontrollable::None;
        if let Ok(b) = reconcile(&before, &mut NoTrace) {
            offset = Some(OffsetCheck {
                published: p.dis_adj,
                computed: b.shared_losses,
            });
            notes.push(format!(
                "DisAdj offsets the whole shared loss (EarnSaveLoss 0): the shared loss before the offset, {}, compared with |DisAdj| {}",
                money(b.shared_losses),
                p.dis_adj
            ));
        }
    }
    if let Ok(s) = &result {
        notes.extend(rate_notes(p, py, s, precision));
    }

    let aip = p.aip_recoup.map(|(recouped, _)| {
        let recouped = recouped.abs();
        AipRecoupment {
            recouped,
            owed: p.aip_owe.map(|o| o.abs()),
            balance: p.aip_balance.map(|b| b.abs()),
            net_paid_published: p.published - recouped,
            net_paid_computed: result
                .as_ref()
                .ok()
                .map(|s| (s.shared_savings - recouped).max(Decimal::ZERO) - s.shared_losses),
        }
    });
    if let (Some(a), Some((_, column))) = (&aip, p.aip_recoup)
        && !a.recouped.is_zero()
    {
        let what = if column == AIP_RECOUP[0] {
            "advance investment payments"
        } else {
            "advance payments"
        };
        notes.push(format!(
            "{what}: {} recouped from the shared savings ({column}); EarnSaveLoss is before the recoupment, net paid {}",
            a.recouped, a.net_paid_published
        ));
        // A recoupment comes out of the savings only (42 CFR 425.630 [R: the paragraph was not
        // verified]; the Advance Payment Model likewise): more than the published savings is an
        // inconsistency in the file.
        if a.recouped > p.published.max(Decimal::ZERO) + Decimal::ONE {
            notes.push(format!(
                "the published recoupment exceeds the published EarnSaveLoss {}",
                p.published
            ));
        }
    }

    let mut c = AcoComparison {
        line: p.line,
        aco_id: p.aco_id.clone(),
        track: p.track,
        published: p.published,
        computed: None,
        error: None,
        cause: None,
        note: None,
        offset,
        aip,
    };
    match result {
        Ok(s) => {
            c.computed = Some(s.net_amount());
            if c.is_mismatch() {
                c.cause = Some(cause(p, py, &s, score_decimals, offset.as_ref()));
            }
        }
        Err(e) => {
            c.error = Some(e.to_string());
            c.cause = Some(match e {
                SettlementError::RevenueRequired { .. } => {
                    format!("loss limit / revenue unknown: {e}")
                }
                _ => format!("engine error: {e}"),
            });
        }
    }
    c.note = (!notes.is_empty()).then(|| notes.join("; "));
    Ok(c)
}

/// Notes on the published rates: a rounded `FinalShareRate` the engine rebuilt from its parts, a
/// published rate that differs from the rule beyond the rounding of the file, a `QualPerfShare`
/// that is not the track's maximum rate.
fn rate_notes(p: &Prepared, py: i32, s: &Settlement, precision: Precision) -> Vec<String> {
    let mut notes = Vec::new();
    let Ok(rules) = rules::select(p.track, p.start, py) else {
        return notes;
    };
    if let Some(qps) = p.qual_perf_share
        && qps != rules.max_sharing_rate
    {
        notes.push(format!(
            "published QualPerfShare {} differs from the track's maximum sharing rate {}",
            qps.normalize(),
            rules.max_sharing_rate.normalize()
        ));
    }
    let score_scaled = Era::of(py) == Era::ScoreScaled
        || p.quality.standard == Some(QualityStandard::AlternativeMet);
    if let (Some(published), Some(score), Some(decimals)) =
        (p.final_share_rate, p.quality.score, precision.share)
        && score_scaled
        && !s.final_sharing_rate.is_zero()
    {
        // Below the MSR under 425.605(h) the rate applied is half the final sharing rate.
        let halved = s.outcome == Outcome::SharedSavings && s.savings_rate < s.msr;
        let rebuilt = if halved {
            s.final_sharing_rate / Decimal::TWO
        } else {
            s.final_sharing_rate
        };
        let (parts, max) = match p.qual_perf_share {
            Some(q) => ("QualPerfShare", q),
            None => ("maximum sharing rate", rules.max_sharing_rate),
        };
        // Rounding band: half a unit of the published rate, plus the maximum rate times half a
        // unit of the (itself rounded) published score.
        let half_unit = |dp: u32| Decimal::try_new(5, dp.saturating_add(1)).unwrap_or_default();
        let band = half_unit(decimals)
            + precision
                .score
                .map_or(Decimal::ZERO, |dp| max.abs() * half_unit(dp));
        let half = if halved { " / 2 (425.605(h))" } else { "" };
        let within_rounding = rebuilt
            .checked_sub(published)
            .is_some_and(|d| d.abs() <= band);
        if rebuilt == published {
            // Published exactly: nothing rebuilt.
        } else if within_rounding {
            notes.push(format!(
                "FinalShareRate {} is published rounded to {decimals} dp: rebuilt from its parts, {parts} {} x QualScore {}{half} = {}",
                published.normalize(),
                max.normalize(),
                score.normalize(),
                rebuilt.normalize()
            ));
        } else if s.outcome == Outcome::SharedSavings {
            notes.push(format!(
                "published FinalShareRate {} differs from the rule's {parts} x QualScore{half} = {} beyond rounding",
                published.normalize(),
                rebuilt.normalize()
            ));
        }
    }
    if let (Some(published), Some(rate)) = (p.final_loss_rate, s.loss_rate)
        && s.outcome == Outcome::SharedLosses
        && rate.round_dp(published.normalize().scale()) != published.normalize()
    {
        notes.push(format!(
            "published FinalLossRate {} differs from the rule's loss rate {}",
            published.normalize(),
            rate.normalize()
        ));
    }
    notes
}

/// The likely cause of a mismatch, claimed only when a check supports it.
fn cause(
    p: &Prepared,
    py: i32,
    s: &Settlement,
    score_decimals: Option<u32>,
    offset: Option<&OffsetCheck>,
) -> String {
    let near = |a: Decimal, b: Decimal| (a - b).abs() <= THRESHOLD_TOLERANCE;
    if near(s.savings_rate, s.msr) || s.mlr.is_some_and(|mlr| near(-s.savings_rate, mlr)) {
        return format!(
            "savings rate within 1e-6 of the MSR (threshold case): savings rate {}, MSR {}",
            s.savings_rate.round_dp(9),
            s.msr.round_dp(9)
        );
    }
    if let Some(text) = quality_rounding(p, py, s, score_decimals) {
        return text;
    }
    if let Some(text) = revenue_limit(p, py, s, offset) {
        return text;
    }
    if let Some(text) = terminated_mid_year(p, s) {
        return text;
    }
    if let Some(text) = reduced_sharing(p, s) {
        return text;
    }
    UNEXPLAINED.to_string()
}

/// A termination during the year (`Prorate_Shared_Losses` / `Impact_Mid_Year_Termination` set):
/// CMS collects the shared loss pro-rated to the months of the year before the termination took
/// effect (42 CFR 425.221(b)(2)(ii)). The PUF does not publish those months, so the amount cannot
/// be recomputed, only checked: the cause is claimed when the published amount is the computed
/// shared loss x k / 12, within $1, for a whole number of months k from 1 to 11.
fn terminated_mid_year(p: &Prepared, s: &Settlement) -> Option<String> {
    if !p.prorated_losses || s.outcome != Outcome::SharedLosses || p.published >= Decimal::ZERO {
        return None;
    }
    let owed = -p.published;
    let months = (1u32..12).find(|&k| {
        s.shared_losses
            .checked_mul(Decimal::from(k))
            .and_then(|x| x.checked_div(Decimal::from(12)))
            .is_some_and(|prorated| (prorated - owed).abs() <= Decimal::ONE)
    })?;
    Some(format!(
        "shared losses pro-rated for a termination during the year (Prorate_Shared_Losses / Impact_Mid_Year_Termination set; 42 CFR 425.221(b)(2)(ii)): the published {owed} is the computed shared loss {} x {months}/12, the months before the termination, which the PUF does not publish",
        money(s.shared_losses)
    ))
}

/// BASIC C-E without published revenue, shared loss above what CMS collected (or offset): the
/// published figures imply a revenue-based loss limit below the benchmark-based one. Claimed only
/// when the implied limit lies below both the rate x loss amount and the benchmark-based limit.
fn revenue_limit(
    p: &Prepared,
    py: i32,
    s: &Settlement,
    offset: Option<&OffsetCheck>,
) -> Option<String> {
    let rules = rules::select(p.track, p.start, py).ok()?;
    let LossLimit::RevenueCappedByBenchmark {
        revenue, benchmark, ..
    } = rules.losses?.limit
    else {
        return None;
    };
    // RevLossLimit = 0: the file says the benchmark-based side applied, so revenue explains nothing.
    if s.outcome != Outcome::SharedLosses
        || revenue.is_zero()
        || p.revenue_loss_limit == Some(false)
    {
        return None;
    }
    // What CMS's shared loss was: owed + offset (before pro-ration, which these rows lack).
    let published_loss = -p.published + p.dis_adj;
    let computed = offset.map_or(s.shared_losses + p.dis_adj, |o| o.computed);
    if published_loss <= Decimal::ZERO || published_loss >= computed - Decimal::ONE {
        return None;
    }
    let by_benchmark = benchmark * s.updated_benchmark;
    let implied_revenue = published_loss / revenue;
    Some(format!(
        "loss limit / revenue unknown: {}participant revenue is not published; the published loss {} (EarnSaveLoss {} + offset {}) implies a revenue-based loss limit of {} x participant revenue {} (425.605(d)(1)(iii)(D)-(v)(D)), below the benchmark-based limit {} and the computed shared loss {}",
        if p.revenue_loss_limit == Some(true) {
            "RevLossLimit = 1 (the revenue-based side applied); "
        } else {
            ""
        },
        published_loss,
        Decimal::ZERO - p.published,
        p.dis_adj,
        revenue.normalize(),
        implied_revenue.round_dp(0),
        money(by_benchmark),
        money(computed)
    ))
}

/// `ReducedSS` = 1 (CMS applied the 425.605(h) half rate) on a row the engine did not give it, or
/// the other way round: which condition of 425.605(h) the published inputs fail.
fn reduced_sharing(p: &Prepared, s: &Settlement) -> Option<String> {
    let flagged = p.reduced_ss?;
    let applied = s.outcome == Outcome::SharedSavings && s.savings_rate < s.msr;
    if flagged == applied {
        return None;
    }
    if !flagged {
        return Some(format!(
            "ReducedSS = 0 but the engine applied the 425.605(h) half rate below the MSR (savings rate {}, MSR {})",
            s.savings_rate.round_dp(6),
            s.msr.round_dp(6)
        ));
    }
    let mut failed = Vec::new();
    if !matches!(
        p.track,
        Track::BasicA | Track::BasicB | Track::BasicC | Track::BasicD | Track::BasicE
    ) {
        failed.push(format!("{} is not a BASIC level", p.track.name()));
    }
    if p.start.year() < 2024 {
        failed.push(format!(
            "agreement start {} is before 2024-01-01 (425.605(h)(iv))",
            p.start
        ));
    }
    if p.n < 5_000 {
        failed.push(format!(
            "{} assigned beneficiaries, fewer than 5,000 (425.605(h)(iii))",
            p.n
        ));
    }
    if !p.low_revenue {
        failed.push("not a low revenue ACO per Rev_Exp_Cat (425.605(h)(ii))".to_string());
    }
    if s.gross_savings <= Decimal::ZERO {
        failed.push("no savings (425.605(h)(i))".to_string());
    }
    Some(if failed.is_empty() {
        "ReducedSS = 1 but the engine did not apply the 425.605(h) half rate".to_string()
    } else {
        format!(
            "ReducedSS = 1 (CMS applied the 425.605(h) half rate) although the published inputs fail 425.605(h): {}",
            failed.join("; ")
        )
    })
}

/// Checks whether the quality score implied by the published amount lies within the rounding
/// band of the published `QualScore` (savings: sharing rate = max x quality; losses on a
/// `1 - sharing` track between its floor and ceiling: loss rate = 1 - max x quality).
fn quality_rounding(
    p: &Prepared,
    py: i32,
    s: &Settlement,
    score_decimals: Option<u32>,
) -> Option<String> {
    let published_score = p.quality.score?;
    let decimals = score_decimals?;
    if p.quality.standard == Some(QualityStandard::NotMet) {
        return None;
    }
    let rules = rules::select(p.track, p.start, py).ok()?;
    let max = rules.max_sharing_rate;
    let half = Decimal::ONE / Decimal::TWO;
    let (published, gross) = (p.published, p.gross);
    let (q, q_lo, q_hi) = if s.outcome == Outcome::SharedSavings && published > Decimal::ZERO {
        let score_scaled = Era::of(py) == Era::ScoreScaled
            || p.quality.standard == Some(QualityStandard::AlternativeMet);
        let capped = s.shared_savings >= round_money(s.payment_limit);
        if !score_scaled || capped || gross <= half {
            return None;
        }
        let unit = max.checked_mul(Decimal::ONE - s.sequestration_rate)?;
        let per = |g: Decimal, amount: Decimal| amount.checked_div(g.checked_mul(unit)?);
        (
            per(gross, published)?,
            per(gross + half, published - half)?,
            per(gross - half, published + half)?,
        )
    } else if s.outcome == Outcome::SharedLosses
        && (published < Decimal::ZERO || (published.is_zero() && !p.dis_adj.is_zero()))
    {
        // Owed + offset is CMS's shared loss (all of it offset when EarnSaveLoss is 0).
        let Some(LossRate::OneMinusSharing { floor, ceiling }) = rules.losses.map(|l| l.rate)
        else {
            return None;
        };
        let loss = -gross;
        let (rate, limit) = (s.loss_rate?, s.loss_limit?);
        if loss <= half || rate.checked_mul(loss)? >= limit || max.is_zero() {
            return None;
        }
        let owed = -published + p.dis_adj;
        let implied_rate = owed.checked_div(loss)?;
        if implied_rate <= floor || implied_rate >= ceiling {
            return None;
        }
        let quality =
            |owed: Decimal, loss: Decimal| Some((Decimal::ONE - owed.checked_div(loss)?) / max);
        (
            quality(owed, loss)?,
            quality(owed + half, loss - half)?,
            quality(owed - half, loss + half)?,
        )
    } else {
        return None;
    };
    let band = Decimal::try_new(5, decimals.checked_add(1)?).ok()?;
    let fits = q_lo <= published_score + band && q_hi >= published_score - band;
    fits.then(|| {
        format!(
            "published QualScore rounded to {decimals} dp: implied quality {} lies within +/-{band} of {published_score}",
            q.round_dp(6)
        )
    })
}

fn money(d: Decimal) -> String {
    format!("{d:.2}")
}

impl Report {
    /// The detected layout, named by the years it was used for; a PY2019 file in the 2020-2021
    /// BASIC/ENHANCED layout is the July-December 2019 period, "2019A".
    pub fn year_layout(&self) -> &'static str {
        match (self.layout, self.performance_year) {
            (Layout::Py2020, 2019) => "2019A",
            (layout, _) => layout.name(),
        }
    }

    /// ACOs beyond $1 of the published amount (engine errors included), in file order.
    pub fn mismatches(&self) -> impl Iterator<Item = &AcoComparison> {
        self.acos.iter().filter(|a| a.is_mismatch())
    }

    /// A plain-text report: per-track counts, then every mismatch and every skipped row.
    pub fn to_table(&self) -> String {
        let mut out = format!(
            "MSSP PUF backtest, performance year {}: {} ACOs compared, {} rows skipped\n\
             Layout {} (detected from the header): {} of {} rows used\n\n",
            self.performance_year,
            self.acos.len(),
            self.skipped.len(),
            self.year_layout(),
            self.acos.len(),
            self.rows,
        );
        let mut rows = vec![vec![
            "track".to_string(),
            "ACOs".to_string(),
            "within $1".to_string(),
            "within 0.1%".to_string(),
            "explained".to_string(),
        ]];
        rows.extend(self.tracks.iter().map(|t| {
            vec![
                t.track.name().to_string(),
                t.acos.to_string(),
                t.within_1_dollar.to_string(),
                t.within_0_1_percent.to_string(),
                format!("{} of {}", t.explained, t.acos - t.within_1_dollar),
            ]
        }));
        out.push_str(&align(&rows, &[0]));

        let mismatches: Vec<&AcoComparison> = self.mismatches().collect();
        out.push_str(&format!("\nMismatches beyond $1: {}\n", mismatches.len()));
        if !mismatches.is_empty() {
            let mut rows = vec![
                [
                    "line",
                    "aco_id",
                    "track",
                    "published",
                    "computed",
                    "diff",
                    "cause",
                ]
                .map(String::from)
                .to_vec(),
            ];
            rows.extend(mismatches.iter().map(|a| {
                vec![
                    a.line.to_string(),
                    a.aco_id.clone(),
                    a.track.name().to_string(),
                    a.published.to_string(),
                    a.computed.map_or_else(|| "error".to_string(), money),
                    a.diff().map_or_else(|| "-".to_string(), money),
                    a.cause.clone().unwrap_or_default(),
                ]
            }));
            out.push_str(&align(&rows, &[1, 2, 6]));
        }

        let recouped: Vec<(&AcoComparison, &AipRecoupment)> = self
            .acos
            .iter()
            .filter_map(|a| Some((a, a.aip.as_ref().filter(|r| !r.recouped.is_zero())?)))
            .collect();
        if !recouped.is_empty() {
            out.push_str(&format!(
                "\nAdvance payments recouped from the shared savings: {} (EarnSaveLoss is before the recoupment)\n",
                recouped.len()
            ));
            let mut rows = vec![
                [
                    "line",
                    "aco_id",
                    "EarnSaveLoss",
                    "recouped",
                    "net paid",
                    "net paid computed",
                    "balance",
                    "still owed",
                ]
                .map(String::from)
                .to_vec(),
            ];
            let or_dash = |d: Option<Decimal>| d.map_or_else(|| "-".to_string(), |d| d.to_string());
            rows.extend(recouped.iter().map(|(a, r)| {
                vec![
                    a.line.to_string(),
                    a.aco_id.clone(),
                    a.published.to_string(),
                    r.recouped.to_string(),
                    r.net_paid_published.to_string(),
                    r.net_paid_computed
                        .map_or_else(|| "error".to_string(), money),
                    or_dash(r.balance),
                    or_dash(r.owed),
                ]
            }));
            out.push_str(&align(&rows, &[1]));
        }

        out.push_str(&format!("\nSkipped rows: {}\n", self.skipped.len()));
        for (line, reason) in &self.skipped {
            out.push_str(&format!("line {line}: {reason}\n"));
        }
        out
    }

    /// The report as JSON: `performance_year`, `year_layout` ([`Report::year_layout`]), `rows`
    /// and `rows_used`, `tracks` (track, acos, within_1_dollar, within_0_1_percent, explained),
    /// `acos` (aco_id, line, track, published, computed, diff, within_1_dollar,
    /// within_0_1_percent, cause, error, note, offset {published, computed, diff} or null, aip
    /// {recouped, owed, balance, net_paid_published, net_paid_computed} or null) and `skipped`
    /// (line, reason). Amounts are decimal strings; tracks are [`Track::name`]s.
    pub fn to_json(&self) -> Value {
        let tracks: Vec<Value> = self
            .tracks
            .iter()
            .map(|t| {
                json!({
                    "track": t.track.name(),
                    "acos": t.acos,
                    "within_1_dollar": t.within_1_dollar,
                    "within_0_1_percent": t.within_0_1_percent,
                    "explained": t.explained,
                })
            })
            .collect();
        let acos: Vec<Value> = self
            .acos
            .iter()
            .map(|a| {
                json!({
                    "aco_id": a.aco_id,
                    "line": a.line,
                    "track": a.track.name(),
                    "published": a.published.to_string(),
                    "computed": a.computed.map(money),
                    "diff": a.diff().map(money),
                    "within_1_dollar": a.within_1_dollar(),
                    "within_0_1_percent": a.within_0_1_percent(),
                    "cause": a.cause,
                    "error": a.error,
                    "note": a.note,
                    "offset": a.offset.map(|o| json!({
                        "published": o.published.to_string(),
                        "computed": money(o.computed),
                        "diff": money(o.diff()),
                    })),
                    "aip": a.aip.map(|r| json!({
                        "recouped": r.recouped.to_string(),
                        "owed": r.owed.map(|o| o.to_string()),
                        "balance": r.balance.map(|b| b.to_string()),
                        "net_paid_published": r.net_paid_published.to_string(),
                        "net_paid_computed": r.net_paid_computed.map(money),
                    })),
                })
            })
            .collect();
        let skipped: Vec<Value> = self
            .skipped
            .iter()
            .map(|(line, reason)| json!({ "line": line, "reason": reason }))
            .collect();
        json!({
            "performance_year": self.performance_year,
            "year_layout": self.year_layout(),
            "rows": self.rows,
            "rows_used": self.acos.len(),
            "tracks": tracks,
            "acos": acos,
            "skipped": skipped,
        })
    }
}

/// Aligns columns: the columns in `left` are left-aligned, the others right-aligned; trailing
/// blanks are trimmed.
fn align(rows: &[Vec<String>], left: &[usize]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, (cell, &width)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            if left.contains(&i) {
                line.push_str(&format!("{cell:<width$}"));
            } else {
                line.push_str(&format!("{cell:>width$}"));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
