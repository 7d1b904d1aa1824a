//! The files of `simulator run --out DIR` and `simulator merge`, written from replicates in replicate
//! order so the bytes depend only on the replicates (not on thread count or sharding).
//!
//! | file | contents |
//! | --- | --- |
//! | `summary.json` | program totals with mean, 95% interval, MCSE ([`summary`] documents every key) |
//! | `replicates.csv` | one row per replicate and performance year ([`csv`] lists the columns) |
//! | `acos.csv` | one row per replicate, ACO and performance year |
//! | `replicates.parquet`, `acos.parquet` | the same rows (cargo feature `parquet`) |
//! | `net_savings.svg`, `savings_rate_vs_msr.svg`, `benchmark_gap.svg` | plots ([`plots`]) |
//! | `shard.json` | only in a `--shard i/n` output, instead of the summary, Parquet and plots: what `merge` needs |
//!
//! Every file is written to a temporary file in DIR and renamed into place; `summary.json` (or
//! `shard.json`) is renamed last, so an interrupted run leaves no half-written summary, and a run that
//! fails leaves nothing new (DIR itself is removed again if the run created it).

pub mod compare;
pub mod csv;
mod drive;
#[cfg(feature = "parquet")]
mod parquet;
pub mod plots;
pub mod summary;
mod table;

use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tempfile::NamedTempFile;

pub use drive::{Failure, drive};
pub use summary::{RunInfo, Summary};
pub use table::summary_table;

use crate::results::{Replicate, YearTotals};
use crate::stats::StatsError;
use plots::{RatePoint, SCATTER_POINTS};

/// Why output could not be written or read back.
#[derive(Debug)]
pub enum ReportError {
    /// A file system error, with the path.
    Io(String),
    /// Bad input to `merge` (a shard directory's files), with the file and line.
    Input(String),
    /// Totals that cannot be summarised exactly.
    Stats(StatsError),
    /// A plot or Parquet file could not be drawn or encoded.
    Encode(String),
    /// Replicates pushed out of order or outside the output's range.
    Order {
        /// The replicate index expected next.
        expected: u32,
        /// The index pushed.
        got: u32,
    },
}

impl ReportError {
    fn io(path: &Path, e: impl std::fmt::Display) -> ReportError {
        ReportError::Io(format!("{}: {e}", path.display()))
    }
    pub(crate) fn csv(e: ::csv::Error) -> ReportError {
        ReportError::Io(e.to_string())
    }
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportError::Io(m) | ReportError::Input(m) | ReportError::Encode(m) => f.write_str(m),
            ReportError::Stats(e) => e.fmt(f),
            ReportError::Order { expected, got } => {
                write!(
                    f,
                    "replicate {got} arrived where replicate {expected} was expected"
                )
            }
        }
    }
}

impl std::error::Error for ReportError {}

impl From<StatsError> for ReportError {
    fn from(e: StatsError) -> Self {
        ReportError::Stats(e)
    }
}

/// `--shard i/n`: shard `index` (0-based, as a Kubernetes Indexed Job's completion index) of
/// `count`, covering replicates `[index * N / count, (index + 1) * N / count)` of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 0-based shard index, below `count`.
    pub index: u32,
    /// Number of shards, at least 1.
    pub count: u32,
}

impl Shard {
    /// Parses `i/n` with `0 <= i < n`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard must be i/n with 0 <= i < n, got {s:?}");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) =
            (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The replicate indices of this shard out of `replicates`.
    pub fn range(&self, replicates: u32) -> Range<u32> {
        let at = |i: u32| (u64::from(i) * u64::from(replicates) / u64::from(self.count)) as u32;
        at(self.index)..at(self.index + 1)
    }
}

/// `shard.json`: what a shard output holds, read back by `merge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardManifest {
    /// The run this shard is part of (`replicates` is the whole run's count).
    pub run: RunInfo,
    /// Which shard.
    pub shard: Shard,
}

/// Name of the summary file.
pub const SUMMARY_JSON: &str = "summary.json";
/// Name of a shard's manifest.
pub const SHARD_JSON: &str = "shard.json";
/// Name of the per replicate-year CSV.
pub const REPLICATES_CSV: &str = "replicates.csv";
/// Name of the per ACO-year CSV.
pub const ACOS_CSV: &str = "acos.csv";

type CsvFile = ::csv::Writer<NamedTempFile>;

/// The output files of one run (or one shard), filled one replicate at a time in replicate order.
pub struct OutputSet {
    dir: PathBuf,
    created_dir: bool,
    info: RunInfo,
    shard: Option<Shard>,
    range: Range<u32>,
    next: u32,
    files: Option<(CsvFile, CsvFile)>,
    totals: Vec<Vec<YearTotals>>,
    scatter: Vec<RatePoint>,
}

/// A temporary file in `dir` for output `name`, readable by all as a plain file would be (0644,
/// less the umask; tempfile's default is 0600).
fn temp_in(dir: &Path, name: &str) -> Result<NamedTempFile, ReportError> {
    let mut b = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o644));
    }
    b.prefix(&format!(".{name}."))
        .tempfile_in(dir)
        .map_err(|e| ReportError::io(dir, e))
}

fn persist(file: NamedTempFile, dir: &Path, name: &str) -> Result<(), ReportError> {
    let path = dir.join(name);
    file.as_file()
        .sync_all()
        .map_err(|e| ReportError::io(&path, e))?;
    file.persist(&path)
        .map_err(|e| ReportError::io(&path, e.error))?;
    Ok(())
}

fn temp_with(dir: &Path, name: &str, bytes: &[u8]) -> Result<NamedTempFile, ReportError> {
    let mut t = temp_in(dir, name)?;
    t.write_all(bytes)
        .map_err(|e| ReportError::io(&dir.join(name), e))?;
    Ok(t)
}

/// Writes `bytes` to `dir/name` atomically (temporary file + rename), creating `dir` if needed.
pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
    persist(temp_with(dir, name, bytes)?, dir, name)
}

impl OutputSet {
    /// Starts the output of `info` (all of it, or `shard` of it) in `dir`, creating `dir` if needed.
    pub fn create(
        dir: &Path,
        info: RunInfo,
        shard: Option<Shard>,
    ) -> Result<OutputSet, ReportError> {
        let created_dir = !dir.exists();
        std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
        let range = shard.map_or(0..info.replicates, |s| s.range(info.replicates));
        let mut set = OutputSet {
            dir: dir.to_owned(),
            created_dir,
            next: range.start,
            range,
            info,
            shard,
            files: None,
            totals: Vec::new(),
            scatter: Vec::new(),
        };
        let mut replicates = ::csv::Writer::from_writer(temp_in(dir, REPLICATES_CSV)?);
        let mut acos = ::csv::Writer::from_writer(temp_in(dir, ACOS_CSV)?);
        csv::header(&mut replicates, &csv::REPLICATES_HEADER)?;
        csv::header(&mut acos, &csv::ACOS_HEADER)?;
        set.files = Some((replicates, acos));
        Ok(set)
    }

    /// The replicate indices this output holds.
    pub fn range(&self) -> Range<u32> {
        self.range.clone()
    }

    /// Adds the next replicate (its index must be the next of [`OutputSet::range`]).
    pub fn push(&mut self, r: &Replicate) -> Result<(), ReportError> {
        if r.index != self.next || !self.range.contains(&r.index) {
            return Err(ReportError::Order {
                expected: self.next,
                got: r.index,
            });
        }
        let Some((replicates, acos)) = self.files.as_mut() else {
            return Err(ReportError::Io("output already closed".to_owned()));
        };
        for t in &r.years {
            csv::write_year(replicates, t)?;
        }
        for a in &r.acos {
            csv::write_aco(acos, a)?;
            if self.scatter.len() < SCATTER_POINTS {
                self.scatter
                    .push(RatePoint::new(a.msr, a.savings_rate, a.outcome));
            }
        }
        self.totals.push(r.years.clone());
        self.next += 1;
        Ok(())
    }

    /// Writes the remaining files and renames everything into place. Returns the summary (`None` for
    /// a shard, whose summary is computed by `merge`).
    pub fn finish(mut self) -> Result<Option<Summary>, ReportError> {
        if self.next != self.range.end {
            return Err(ReportError::Order {
                expected: self.next,
                got: self.range.end,
            });
        }
        let Some((replicates, acos)) = self.files.take() else {
            return Err(ReportError::Io("output already closed".to_owned()));
        };
        let flush = |w: CsvFile, name: &str| {
            w.into_inner()
                .map_err(|e| ReportError::io(&self.dir.join(name), e.error()))
        };
        let replicates = flush(replicates, REPLICATES_CSV)?;
        let acos = flush(acos, ACOS_CSV)?;
        let dir = self.dir.clone();
        if let Some(shard) = self.shard {
            let manifest = ShardManifest {
                run: self.info.clone(),
                shard,
            };
            let json = serde_json::to_vec_pretty(&manifest)
                .map_err(|e| ReportError::Encode(e.to_string()))?;
            let manifest = temp_with(&dir, SHARD_JSON, &json)?;
            persist(replicates, &dir, REPLICATES_CSV)?;
            persist(acos, &dir, ACOS_CSV)?;
            persist(manifest, &dir, SHARD_JSON)?;
            self.created_dir = false;
            return Ok(None);
        }
        let (summary, estimates) = Summary::of(&self.info, &self.totals)?;
        let mut json =
            serde_json::to_vec_pretty(&summary).map_err(|e| ReportError::Encode(e.to_string()))?;
        json.push(b'\n');
        let net: Vec<_> = self
            .totals
            .iter()
            .map(|y| summary::scenario_values(y)[summary::NET_TO_MEDICARE])
            .collect();
        let title = &self.info.scenario;
        let plots = [
            ("net_savings.svg", plots::net_savings(&net, title)),
            (
                "savings_rate_vs_msr.svg",
                plots::savings_rate_vs_msr(&self.scatter, title),
            ),
            ("benchmark_gap.svg", plots::benchmark_gap(&estimates, title)),
        ];
        let mut staged = Vec::new();
        #[cfg(feature = "parquet")]
        {
            staged.push((
                parquet::replicates(replicates.path(), &dir)?,
                "replicates.parquet",
            ));
            staged.push((parquet::acos(acos.path(), &dir)?, "acos.parquet"));
        }
        for (name, svg) in plots {
            let svg = svg.map_err(|e| ReportError::Encode(format!("{name}: {e}")))?;
            staged.push((temp_with(&dir, name, svg.as_bytes())?, name));
        }
        let summary_file = temp_with(&dir, SUMMARY_JSON, &json)?;
        persist(replicates, &dir, REPLICATES_CSV)?;
        persist(acos, &dir, ACOS_CSV)?;
        for (file, name) in staged {
            persist(file, &dir, name)?;
        }
        let stale = dir.join(SHARD_JSON);
        if stale.exists() {
            std::fs::remove_file(&stale).map_err(|e| ReportError::io(&stale, e))?;
        }
        persist(summary_file, &dir, SUMMARY_JSON)?;
        self.created_dir = false;
        Ok(Some(summary))
    }
}

impl Drop for OutputSet {
    /// An unfinished output deletes its temporary files, and DIR if it created it and it is empty.
    fn drop(&mut self) {
        drop(self.files.take());
        if self.created_dir {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}
