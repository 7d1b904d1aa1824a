//! `replicates.csv` and `acos.csv`: one row per replicate and performance year (program totals), and
//! one per replicate, ACO and performance year. Dollars and rates are written exactly as the model
//! produced them (`Decimal`'s own digits, no rounding), so reading a file back gives the same values:
//! `simulator merge` relies on that to recompute the summary and plots of a sharded run.
//!
//! `replicates.csv` columns: `replicate, performance_year, savings_to_medicare, benchmark_savings,
//! shared_savings_paid, shared_losses_collected, net_to_medicare, net_benchmark_basis, acos_active,
//! acos_below_benchmark, acos_paid, acos_owing, acos_exited, beneficiaries, savings_to_medicare_itt,
//! net_to_medicare_itt` (the three net columns are derived: savings - paid + collected; `_itt` =
//! intent to treat, MODEL.md 6.2).
//!
//! `acos.csv` columns: `replicate, aco, performance_year, assigned, benchmark, spending,
//! counterfactual, savings_to_medicare, msr, savings_rate, outcome, shared_savings, shared_losses,
//! exited_after`
//! (`outcome` one of `paid, earned_nothing, corridor, owes, loss_not_shared`; `exited_after`
//! `true`/`false`).

use std::io::{Read, Write};
use std::str::FromStr;

use rust_decimal::Decimal;

use super::ReportError;
use super::summary::TOTAL_NAMES;
use crate::results::{AcoYear, Outcome, YearTotals};

/// Header of `replicates.csv`: the totals of `summary.json` under the same names, with the
/// replicate, the year, the active ACOs and the beneficiaries.
pub(crate) const REPLICATES_HEADER: [&str; 16] = {
    let t = TOTAL_NAMES;
    [
        "replicate",
        "performance_year",
        t[0],
        t[1],
        t[2],
        t[3],
        t[4],
        t[5],
        "acos_active",
        t[6],
        t[7],
        t[8],
        t[9],
        "beneficiaries",
        t[10],
        t[11],
    ]
};

/// Header of `acos.csv`.
pub(crate) const ACOS_HEADER: [&str; 14] = [
    "replicate",
    "aco",
    "performance_year",
    "assigned",
    "benchmark",
    "spending",
    "counterfactual",
    "savings_to_medicare",
    "msr",
    "savings_rate",
    "outcome",
    "shared_savings",
    "shared_losses",
    "exited_after",
];

/// Writes a header row.
pub(crate) fn header<W: Write>(w: &mut csv::Writer<W>, names: &[&str]) -> Result<(), ReportError> {
    w.write_record(names).map_err(ReportError::csv)
}

/// Writes one `replicates.csv` row.
pub(crate) fn write_year<W: Write>(
    w: &mut csv::Writer<W>,
    t: &YearTotals,
) -> Result<(), ReportError> {
    w.write_record([
        t.replicate.to_string(),
        t.performance_year.to_string(),
        t.savings_to_medicare.to_string(),
        t.benchmark_savings.to_string(),
        t.shared_savings_paid.to_string(),
        t.shared_losses_collected.to_string(),
        t.net_to_medicare().to_string(),
        t.net_benchmark_basis().to_string(),
        t.acos_active.to_string(),
        t.acos_below_benchmark.to_string(),
        t.acos_paid.to_string(),
        t.acos_owing.to_string(),
        t.acos_exited.to_string(),
        t.beneficiaries.to_string(),
        t.savings_to_medicare_itt.to_string(),
        t.net_to_medicare_itt().to_string(),
    ])
    .map_err(ReportError::csv)
}

/// Writes one `acos.csv` row.
pub(crate) fn write_aco<W: Write>(w: &mut csv::Writer<W>, a: &AcoYear) -> Result<(), ReportError> {
    w.write_record([
        a.replicate.to_string(),
        a.aco.to_string(),
        a.performance_year.to_string(),
        a.assigned.to_string(),
        a.benchmark.to_string(),
        a.spending.to_string(),
        a.counterfactual.to_string(),
        a.savings_to_medicare.to_string(),
        a.msr.to_string(),
        a.savings_rate.to_string(),
        a.outcome.name().to_owned(),
        a.shared_savings.to_string(),
        a.shared_losses.to_string(),
        a.exited_after.to_string(),
    ])
    .map_err(ReportError::csv)
}

/// Reads the rows of a CSV file with header `names`, in file order, each parsed by `parse`.
pub(crate) struct Rows<R: Read, T> {
    records: csv::StringRecordsIntoIter<R>,
    file: String,
    parse: fn(&Field<'_>) -> Result<T, String>,
}

impl<R: Read, T> Rows<R, T> {
    /// Checks the header and returns the row iterator; `file` names the file in errors.
    pub(crate) fn new(
        reader: R,
        file: String,
        names: &[&str],
        parse: fn(&Field<'_>) -> Result<T, String>,
    ) -> Result<Self, ReportError> {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(reader);
        let found = r
            .headers()
            .map_err(|e| ReportError::Input(format!("{file}: {e}")))?;
        if found.iter().ne(names.iter().copied()) {
            return Err(ReportError::Input(format!(
                "{file}: header is not {}",
                names.join(",")
            )));
        }
        Ok(Rows {
            records: r.into_records(),
            file,
            parse,
        })
    }
}

impl<R: Read, T> Iterator for Rows<R, T> {
    type Item = Result<T, ReportError>;

    fn next(&mut self) -> Option<Self::Item> {
        let record = self.records.next()?;
        let line = record
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map_or(0, |p| p.line());
        Some(match record {
            Err(e) => Err(ReportError::Input(format!("{}: {e}", self.file))),
            Ok(record) => (self.parse)(&Field { record: &record })
                .map_err(|e| ReportError::Input(format!("{} line {line}: {e}", self.file))),
        })
    }
}

/// Column access by position for a parser, with the column named in errors.
pub(crate) struct Field<'a> {
    record: &'a csv::StringRecord,
}

impl Field<'_> {
    fn get<T: FromStr>(&self, i: usize, names: &[&str]) -> Result<T, String> {
        let raw = self.record.get(i).unwrap_or("");
        raw.parse()
            .map_err(|_| format!("column {} is not valid: {raw:?}", names[i]))
    }

    fn money(&self, i: usize, names: &[&str]) -> Result<Decimal, String> {
        let raw = self.record.get(i).unwrap_or("");
        Decimal::from_str_exact(raw)
            .map_err(|_| format!("column {} is not an exact decimal: {raw:?}", names[i]))
    }
}

/// Parses one `replicates.csv` row (the derived net columns must agree with the others).
pub(crate) fn parse_year(f: &Field<'_>) -> Result<YearTotals, String> {
    let h = &REPLICATES_HEADER;
    let t = YearTotals {
        replicate: f.get(0, h)?,
        performance_year: f.get(1, h)?,
        savings_to_medicare: f.money(2, h)?,
        benchmark_savings: f.money(3, h)?,
        shared_savings_paid: f.money(4, h)?,
        shared_losses_collected: f.money(5, h)?,
        acos_active: f.get(8, h)?,
        acos_below_benchmark: f.get(9, h)?,
        acos_paid: f.get(10, h)?,
        acos_owing: f.get(11, h)?,
        acos_exited: f.get(12, h)?,
        beneficiaries: f.get(13, h)?,
        savings_to_medicare_itt: f.money(14, h)?,
    };
    if f.money(6, h)? != t.net_to_medicare()
        || f.money(7, h)? != t.net_benchmark_basis()
        || f.money(15, h)? != t.net_to_medicare_itt()
    {
        return Err("net columns do not equal savings - paid + collected".to_owned());
    }
    Ok(t)
}

/// Parses one `acos.csv` row.
pub(crate) fn parse_aco(f: &Field<'_>) -> Result<AcoYear, String> {
    let h = &ACOS_HEADER;
    let outcome_raw = f.record.get(10).unwrap_or("");
    let outcome = Outcome::ALL
        .into_iter()
        .find(|o| o.name() == outcome_raw)
        .ok_or_else(|| format!("column outcome is not valid: {outcome_raw:?}"))?;
    Ok(AcoYear {
        replicate: f.get(0, h)?,
        aco: f.get(1, h)?,
        performance_year: f.get(2, h)?,
        assigned: f.get(3, h)?,
        benchmark: f.money(4, h)?,
        spending: f.money(5, h)?,
        counterfactual: f.money(6, h)?,
        savings_to_medicare: f.money(7, h)?,
        msr: f.money(8, h)?,
        savings_rate: f.money(9, h)?,
        outcome,
        shared_savings: f.money(11, h)?,
        shared_losses: f.money(12, h)?,
        exited_after: f.get(13, h)?,
    })
}
