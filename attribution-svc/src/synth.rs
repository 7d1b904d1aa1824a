//! `attribution-svc synth`: a synthetic population ([`attribution_rules::synthetic`]) written as
//! the input files of `assign` (`participants.csv`, `beneficiaries.csv`, `claims.csv` in the
//! documented CSV layouts, or the same tables as `.parquet` files with the cargo feature
//! `parquet`), for benchmarks against other tools on the same files. Same seed and size, same
//! bytes.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::Path,
};

use anyhow::Context;
use attribution_rules::{
    ClaimType, Version,
    synthetic::{BeneficiaryRecord, ClaimRecord, Config, Synthetic},
};

/// The national-like shape of the benchmarks: 500 ACOs of 60 TINs, 200,000 unaffiliated TINs,
/// 3,000 health centers, 10% of lines in the lookback year.
pub fn national(beneficiaries: u32, seed: u64) -> Config {
    Config {
        seed,
        beneficiaries,
        acos: 500,
        tins_per_aco: 60,
        outside_tins: 200_000,
        health_centers: 3_000,
        lookback_share: 0.1,
        ..Config::default()
    }
}

/// What [`write`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Beneficiary rows.
    pub beneficiaries: u64,
    /// Claim lines.
    pub lines: u64,
    /// Participant rows.
    pub participants: u64,
}

fn create(dir: &Path, name: &str) -> anyhow::Result<BufWriter<File>> {
    let p = dir.join(name);
    Ok(BufWriter::with_capacity(
        1 << 20,
        File::create(&p).with_context(|| format!("creating {}", p.display()))?,
    ))
}

/// The `claim_type` column value.
pub fn claim_type_name(t: ClaimType) -> &'static str {
    match t {
        ClaimType::Professional => "professional",
        ClaimType::Fqhc => "fqhc",
        ClaimType::Rhc => "rhc",
        ClaimType::CahMethodII => "cah_method_ii",
        ClaimType::OtherInstitutional => "other_institutional",
    }
}

/// The `adjustment` column value.
pub fn version_name(v: Version) -> &'static str {
    match v {
        Version::Original => "original",
        Version::Cancellation => "cancellation",
        Version::Adjustment => "adjustment",
    }
}

/// The header of the synthetic `claims.csv`.
pub const CLAIMS_HEADER: &str = "beneficiary_id,claim_id,line_number,service_date,hcpcs,revenue_center,place_of_service,claim_type,tin,ccn,npi,specialty,allowed,adjustment";

/// Writes one claim line as a `claims.csv` row (synthetic fields never need quoting).
pub fn write_claim(out: &mut impl Write, r: &ClaimRecord) -> std::io::Result<()> {
    let cents = r.allowed_cents;
    writeln!(
        out,
        "{},{},{},{},{},{},{},{},{},{},{},{},{}{}.{:02},{}",
        r.beneficiary_id,
        r.claim_id,
        r.line_number,
        r.service_date,
        r.hcpcs,
        r.revenue_center,
        r.place_of_service,
        claim_type_name(r.claim_type),
        r.tin,
        r.ccn,
        r.npi,
        r.specialty,
        if cents < 0 { "-" } else { "" },
        cents.unsigned_abs() / 100,
        cents.unsigned_abs() % 100,
        version_name(r.version),
    )
}

/// Where [`write`] puts a population: its participant rows, then each beneficiary's record and
/// claim lines, in order.
pub trait Sink {
    /// A participant row (`aco_id,kind,id`).
    fn participant(&mut self, aco_id: &str, kind: &str, id: &str) -> anyhow::Result<()>;
    /// A beneficiary record.
    fn beneficiary(&mut self, b: &BeneficiaryRecord) -> anyhow::Result<()>;
    /// A claim line.
    fn claim(&mut self, l: &ClaimRecord) -> anyhow::Result<()>;
    /// Completes the files.
    fn finish(self) -> anyhow::Result<()>;
}

/// Writes the population to `sink`.
pub fn write(s: &Synthetic, mut sink: impl Sink) -> anyhow::Result<Written> {
    let mut n = Written::default();
    for a in s.acos() {
        for (kind, ids) in [("tin", &a.tins), ("ccn", &a.ccns), ("npi", &a.npis)] {
            for id in ids {
                sink.participant(&a.id, kind, id)?;
                n.participants += 1;
            }
        }
    }
    let mut lines = Vec::new();
    for i in 0..s.config().beneficiaries {
        lines.clear();
        sink.beneficiary(&s.beneficiary(i, &mut lines))?;
        n.beneficiaries += 1;
        for l in &lines {
            sink.claim(l)?;
        }
        n.lines += lines.len() as u64;
    }
    sink.finish()?;
    Ok(n)
}

/// The CSV files of the population.
struct CsvSink {
    participants: BufWriter<File>,
    beneficiaries: BufWriter<File>,
    claims: BufWriter<File>,
}

impl Sink for CsvSink {
    fn participant(&mut self, aco_id: &str, kind: &str, id: &str) -> anyhow::Result<()> {
        Ok(writeln!(self.participants, "{aco_id},{kind},{id}")?)
    }

    fn beneficiary(&mut self, r: &BeneficiaryRecord) -> anyhow::Result<()> {
        Ok(writeln!(
            self.beneficiaries,
            "{},{},{},{},{},{},{},{}",
            r.id,
            r.months_a_and_b,
            r.months_a_or_b_only,
            r.months_group_health_plan,
            r.us_resident,
            r.other_initiative,
            r.designated_npi,
            r.designated_tin
        )?)
    }

    fn claim(&mut self, l: &ClaimRecord) -> anyhow::Result<()> {
        Ok(write_claim(&mut self.claims, l)?)
    }

    fn finish(mut self) -> anyhow::Result<()> {
        self.participants.flush()?;
        self.beneficiaries.flush()?;
        self.claims.flush()?;
        Ok(())
    }
}

/// Writes the population as CSV files in `dir` (created if missing).
pub fn write_csv(s: &Synthetic, dir: &Path) -> anyhow::Result<Written> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut participants = create(dir, "participants.csv")?;
    writeln!(participants, "aco_id,kind,id")?;
    let mut beneficiaries = create(dir, "beneficiaries.csv")?;
    writeln!(
        beneficiaries,
        "beneficiary_id,months_part_a_and_b,months_part_a_or_b_only,months_group_health_plan,us_resident,other_initiative,designated_npi,designated_tin"
    )?;
    let mut claims = create(dir, "claims.csv")?;
    writeln!(claims, "{CLAIMS_HEADER}")?;
    write(
        s,
        CsvSink {
            participants,
            beneficiaries,
            claims,
        },
    )
}

/// Rows per row group of the Parquet files [`write_parquet`] writes (about DuckDB's 122,880: row
/// groups are what both read in parallel).
pub const PARQUET_GROUP_ROWS: usize = 1 << 17;

/// Writes the population as Parquet files in `dir` (created if missing), row groups of at most
/// `group_rows` rows ([`crate::parquet::PopulationSink`]).
#[cfg(feature = "parquet")]
pub fn write_parquet(s: &Synthetic, dir: &Path, group_rows: usize) -> anyhow::Result<Written> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write(s, crate::parquet::PopulationSink::create(dir, group_rows)?)
}
