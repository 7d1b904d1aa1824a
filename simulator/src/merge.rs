//! `simulator merge DIR... --out DIR`: combines the outputs of `run --shard i/n` (each holding
//! `shard.json`, `replicates.csv`, `acos.csv`) into exactly the files an unsharded run writes: the
//! rows are read back (exact decimals), streamed in replicate order into a fresh
//! [`OutputSet`](crate::report::OutputSet), and the summary, Parquet files and plots recomputed.
//! The shards must be of one run (same scenario, seed, replicate count, model version and shard
//! count) and all present, each once.

use std::fs::File;
use std::iter::Peekable;
use std::path::{Path, PathBuf};

use crate::report::csv::{self, ACOS_HEADER, REPLICATES_HEADER, Rows};
use crate::report::{
    ACOS_CSV, OutputSet, REPLICATES_CSV, ReportError, SHARD_JSON, ShardManifest, Summary,
};
use crate::results::{AcoYear, Replicate, YearTotals};

fn read_manifest(dir: &Path) -> Result<ShardManifest, ReportError> {
    let path = dir.join(SHARD_JSON);
    let bytes = std::fs::read(&path).map_err(|e| {
        ReportError::Input(format!("{}: {e} (is it a --shard output?)", path.display()))
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ReportError::Input(format!("{}: {e}", path.display())))
}

fn open<T>(
    dir: &Path,
    name: &str,
    header: &[&str],
    parse: fn(&csv::Field<'_>) -> Result<T, String>,
) -> Result<Peekable<Rows<File, T>>, ReportError> {
    let path = dir.join(name);
    let file =
        File::open(&path).map_err(|e| ReportError::Input(format!("{}: {e}", path.display())))?;
    Ok(Rows::new(file, path.display().to_string(), header, parse)?.peekable())
}

/// Takes the rows of replicate `index` off the front of `rows`; a row of an earlier replicate (out
/// of order) or left over at the end is an error.
fn take<T>(
    rows: &mut Peekable<Rows<File, T>>,
    index: u32,
    replicate_of: fn(&T) -> u32,
    file: &Path,
) -> Result<Vec<T>, ReportError> {
    let mut out = Vec::new();
    loop {
        match rows.peek() {
            Some(Ok(row)) if replicate_of(row) == index => {}
            Some(Ok(row)) if replicate_of(row) < index => {
                return Err(ReportError::Input(format!(
                    "{}: rows of replicate {} out of order or outside the shard",
                    file.display(),
                    replicate_of(row)
                )));
            }
            Some(Ok(_)) | None => return Ok(out),
            Some(Err(_)) => {}
        }
        match rows.next() {
            Some(Ok(row)) => out.push(row),
            Some(Err(e)) => return Err(e),
            None => return Ok(out),
        }
    }
}

/// Merges the shard outputs in `dirs` into `out`; returns the summary written.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Summary, ReportError> {
    let mut shards = dirs
        .iter()
        .map(|d| Ok((read_manifest(d)?, d.as_path())))
        .collect::<Result<Vec<_>, ReportError>>()?;
    let Some((first, _)) = shards.first().cloned() else {
        return Err(ReportError::Input("no shard directories given".to_owned()));
    };
    for (m, dir) in &shards {
        if m.run != first.run || m.shard.count != first.shard.count {
            return Err(ReportError::Input(format!(
                "{} is a shard of another run (scenario, seed, replicates, model version or shard count differ)",
                dir.display()
            )));
        }
    }
    shards.sort_by_key(|(m, _)| m.shard.index);
    let have: Vec<u32> = shards.iter().map(|(m, _)| m.shard.index).collect();
    let want: Vec<u32> = (0..first.shard.count).collect();
    if have != want {
        let missing: Vec<String> = want
            .iter()
            .filter(|i| !have.contains(i))
            .map(|i| i.to_string())
            .collect();
        return Err(ReportError::Input(format!(
            "shards of {} needed once each: missing [{}], given {:?}",
            first.shard.count,
            missing.join(", "),
            have
        )));
    }
    let mut output = OutputSet::create(out, first.run.clone(), None)?;
    for (m, dir) in &shards {
        let rep_path = dir.join(REPLICATES_CSV);
        let aco_path = dir.join(ACOS_CSV);
        let mut years =
            open::<YearTotals>(dir, REPLICATES_CSV, &REPLICATES_HEADER, csv::parse_year)?;
        let mut acos = open::<AcoYear>(dir, ACOS_CSV, &ACOS_HEADER, csv::parse_aco)?;
        for index in m.shard.range(m.run.replicates) {
            let r = Replicate {
                index,
                years: take(&mut years, index, |t| t.replicate, &rep_path)?,
                acos: take(&mut acos, index, |a| a.replicate, &aco_path)?,
                claims: None,
            };
            output.push(&r)?;
        }
        for (rows_left, path) in [
            (years.next().is_some(), &rep_path),
            (acos.next().is_some(), &aco_path),
        ] {
            if rows_left {
                return Err(ReportError::Input(format!(
                    "{}: rows outside shard {}/{} or out of order",
                    path.display(),
                    m.shard.index,
                    m.shard.count
                )));
            }
        }
    }
    output
        .finish()?
        .ok_or_else(|| ReportError::Input("merge wrote a shard".to_owned()))
}
