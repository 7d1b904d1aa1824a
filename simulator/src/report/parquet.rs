//! Parquet copies of `replicates.csv` and `acos.csv` (cargo feature `parquet`), converted from the
//! finished CSV so both hold the same rows. Column types: indices and counts as unsigned integers,
//! the performance year as int32, `outcome` as a string, `exited_after` as a boolean, and every dollar
//! or rate column as DECIMAL(38, s), s the largest number of decimals in that column (exact), lowered
//! only if a value would need more than 38 digits (then rounded half away from zero to s decimals).
//! Uncompressed (no codec is built in), one row group per 65,536 rows.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Decimal128Builder, Int32Builder, PrimitiveBuilder, StringBuilder,
    UInt32Builder, UInt64Builder,
};
use arrow_array::types::{Int32Type, UInt32Type, UInt64Type};
use arrow_array::{ArrayRef, ArrowPrimitiveType, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use rust_decimal::{Decimal, RoundingStrategy};
use tempfile::NamedTempFile;

use super::csv::{ACOS_HEADER, REPLICATES_HEADER};
use super::{ACOS_CSV, REPLICATES_CSV, ReportError, temp_in};

#[derive(Clone, Copy)]
enum Kind {
    U32,
    I32,
    U64,
    Money,
    Text,
    Bool,
}

use Kind::{Bool, I32, Money, Text, U32, U64};

const REPLICATES: [Kind; 16] = [
    U32, I32, Money, Money, Money, Money, Money, Money, U32, U32, U32, U32, U32, U64, Money, Money,
];
const ACOS: [Kind; 14] = [
    U32, U32, I32, U64, Money, Money, Money, Money, Money, Money, Text, Money, Money, Bool,
];
const BATCH: usize = 65_536;

/// `replicates.parquet` from the finished `replicates.csv` at `csv`.
pub(super) fn replicates(csv: &Path, dir: &Path) -> Result<NamedTempFile, ReportError> {
    convert(
        csv,
        dir,
        REPLICATES_CSV,
        "replicates.parquet",
        &REPLICATES_HEADER,
        &REPLICATES,
    )
}

/// `acos.parquet` from the finished `acos.csv` at `csv`.
pub(super) fn acos(csv: &Path, dir: &Path) -> Result<NamedTempFile, ReportError> {
    convert(csv, dir, ACOS_CSV, "acos.parquet", &ACOS_HEADER, &ACOS)
}

fn bad(file: &str, column: &str, raw: &str) -> ReportError {
    ReportError::Encode(format!("{file}: column {column} is not valid: {raw:?}"))
}

fn records(csv: &Path, file: &str) -> Result<::csv::StringRecordsIntoIter<File>, ReportError> {
    let f = File::open(csv).map_err(|e| ReportError::Io(format!("{file}: {e}")))?;
    Ok(::csv::Reader::from_reader(f).into_records())
}

/// Parses `raw` into the integer builder of `T` behind `any`: `None` when `any` is another builder,
/// `Some(false)` when `raw` does not parse.
fn append_parsed<T: ArrowPrimitiveType>(any: &mut dyn std::any::Any, raw: &str) -> Option<bool>
where
    T::Native: std::str::FromStr,
{
    any.downcast_mut::<PrimitiveBuilder<T>>()
        .map(|b| raw.parse().map(|v| b.append_value(v)).is_ok())
}

fn integer_digits(d: Decimal) -> u32 {
    let mut t = d.abs().trunc();
    let mut n = 0;
    while !t.is_zero() {
        t = (t / Decimal::TEN).trunc();
        n += 1;
    }
    n
}

/// `d` as a DECIMAL(38, scale) value, if it fits.
fn to_i128(d: Decimal, scale: u32) -> Option<i128> {
    let d = if d.scale() > scale {
        d.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero)
    } else {
        d
    };
    d.mantissa()
        .checked_mul(10i128.checked_pow(scale - d.scale())?)
}

fn convert(
    csv: &Path,
    dir: &Path,
    file: &str,
    name: &str,
    header: &[&str],
    kinds: &[Kind],
) -> Result<NamedTempFile, ReportError> {
    // Pass 1: the scale of each decimal column.
    let mut scale = vec![0u32; kinds.len()];
    let mut digits = vec![0u32; kinds.len()];
    for record in records(csv, file)? {
        let record = record.map_err(|e| ReportError::Io(format!("{file}: {e}")))?;
        for (k, kind) in kinds.iter().enumerate() {
            if let Money = kind {
                let raw = record.get(k).unwrap_or("");
                let d = Decimal::from_str_exact(raw).map_err(|_| bad(file, header[k], raw))?;
                scale[k] = scale[k].max(d.scale());
                digits[k] = digits[k].max(integer_digits(d));
            }
        }
    }
    for k in 0..kinds.len() {
        scale[k] = scale[k].min(38u32.saturating_sub(digits[k]));
    }
    let schema = Arc::new(Schema::new(
        kinds
            .iter()
            .zip(header)
            .zip(&scale)
            .map(|((kind, name), s)| {
                let t = match kind {
                    U32 => DataType::UInt32,
                    I32 => DataType::Int32,
                    U64 => DataType::UInt64,
                    Money => DataType::Decimal128(38, *s as i8),
                    Text => DataType::Utf8,
                    Bool => DataType::Boolean,
                };
                Field::new(*name, t, false)
            })
            .collect::<Vec<_>>(),
    ));
    let out = temp_in(dir, name)?;
    let sink = out
        .reopen()
        .map_err(|e| ReportError::Io(format!("{name}: {e}")))?;
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(BATCH))
        .build();
    let mut writer = ArrowWriter::try_new(sink, schema.clone(), Some(props))
        .map_err(|e| ReportError::Encode(format!("{name}: {e}")))?;
    let new_builders = || -> Vec<Box<dyn ArrayBuilder>> {
        kinds
            .iter()
            .zip(&scale)
            .map(|(kind, s)| -> Box<dyn ArrayBuilder> {
                match kind {
                    U32 => Box::new(UInt32Builder::new()),
                    I32 => Box::new(Int32Builder::new()),
                    U64 => Box::new(UInt64Builder::new()),
                    Money => Box::new(
                        Decimal128Builder::new()
                            .with_precision_and_scale(38, *s as i8)
                            .unwrap_or_default(),
                    ),
                    Text => Box::new(StringBuilder::new()),
                    Bool => Box::new(BooleanBuilder::new()),
                }
            })
            .collect()
    };
    let flush = |builders: &mut Vec<Box<dyn ArrayBuilder>>, writer: &mut ArrowWriter<File>| {
        let columns: Vec<ArrayRef> = builders.iter_mut().map(|b| b.finish()).collect();
        let batch = RecordBatch::try_new(schema.clone(), columns)
            .map_err(|e| ReportError::Encode(format!("{name}: {e}")))?;
        writer
            .write(&batch)
            .map_err(|e| ReportError::Encode(format!("{name}: {e}")))
    };
    let mut builders = new_builders();
    let mut rows = 0usize;
    for record in records(csv, file)? {
        let record = record.map_err(|e| ReportError::Io(format!("{file}: {e}")))?;
        for (k, kind) in kinds.iter().enumerate() {
            let raw = record.get(k).unwrap_or("");
            let b = &mut builders[k];
            let e = || bad(file, header[k], raw);
            let any = b.as_any_mut();
            let ok = match kind {
                U32 => append_parsed::<UInt32Type>(any, raw),
                I32 => append_parsed::<Int32Type>(any, raw),
                U64 => append_parsed::<UInt64Type>(any, raw),
                Bool => any
                    .downcast_mut::<BooleanBuilder>()
                    .map(|b| raw.parse().map(|v| b.append_value(v)).is_ok()),
                Text => any.downcast_mut::<StringBuilder>().map(|b| {
                    b.append_value(raw);
                    true
                }),
                Money => any.downcast_mut::<Decimal128Builder>().map(|b| {
                    Decimal::from_str_exact(raw)
                        .ok()
                        .and_then(|d| to_i128(d, scale[k]))
                        .map(|v| b.append_value(v))
                        .is_some()
                }),
            };
            if ok != Some(true) {
                return Err(e());
            }
        }
        rows += 1;
        if rows.is_multiple_of(BATCH) {
            flush(&mut builders, &mut writer)?;
        }
    }
    if !rows.is_multiple_of(BATCH) || rows == 0 {
        flush(&mut builders, &mut writer)?;
    }
    writer
        .close()
        .map_err(|e| ReportError::Encode(format!("{name}: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, Decimal128Array, StringArray, UInt32Array};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    #[test]
    fn parquet_holds_the_csv_rows_with_exact_decimals() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("acos.csv");
        let mut text = ACOS_HEADER.join(",");
        text.push('\n');
        text.push_str("0,0,2012,5000,123.45,100.5,110,10,0.02,0.1234567890123,paid,1.25,0,false\n");
        text.push_str("1,3,2013,7000,-5,7,8,1,0.03,-0.5,owes,0,2.5,true\n");
        std::fs::write(&csv, text).unwrap();
        let out = acos(&csv, dir.path()).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(out.path()).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 2);
        let b = &batches[0];
        let aco = b.column(1).as_any().downcast_ref::<UInt32Array>().unwrap();
        assert_eq!(aco.value(1), 3);
        let benchmark = b
            .column(4)
            .as_any()
            .downcast_ref::<Decimal128Array>()
            .unwrap();
        assert_eq!(
            (benchmark.scale(), benchmark.value(0), benchmark.value(1)),
            (2, 12345, -500)
        );
        let rate = b
            .column(9)
            .as_any()
            .downcast_ref::<Decimal128Array>()
            .unwrap();
        assert_eq!((rate.scale(), rate.value(0)), (13, 1_234_567_890_123));
        let outcome = b.column(10).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(outcome.value(1), "owes");
        // A bad cell is an error naming the column, not a panic.
        std::fs::write(
            &csv,
            format!(
                "{}\n0,0,2012,x,1,1,1,1,0,0,paid,0,0,false\n",
                ACOS_HEADER.join(",")
            ),
        )
        .unwrap();
        let e = acos(&csv, dir.path()).unwrap_err().to_string();
        assert!(e.contains("assigned"), "{e}");
    }
}
