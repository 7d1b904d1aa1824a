//! Parquet (cargo feature `parquet`): the input tables of `assign` read from Parquet files, and the
//! assignment list and the synthetic population written as Parquet.
//!
//! Reading. A Parquet file holds one of the CSV layouts ([`crate::input::csv`]): the columns are
//! found by name as in the CSV header (any order, any case; columns the layout does not read are
//! not decoded). Each row is parsed by the CSV layout's own parser, so a Parquet file gives
//! exactly the records, rejections and reasons the same rows give as CSV: a claims row as a
//! [`Row`] (strings borrowed from the decoded columns, a DATE, a DECIMAL of scale 2 and an integer
//! read as the value their text gives), any other row written out as the text of its CSV fields.
//! A column may be a string (or binary) column, or:
//!
//! | columns | also |
//! |---|---|
//! | `months_*`, `line_number`, `adjustment` | an integer column |
//! | `us_resident`, `other_initiative` | a BOOLEAN column |
//! | `service_date` | a DATE column |
//! | `allowed` | a DECIMAL column of at most 38 digits (exact: no floating point) |
//!
//! A string column whose data pages are all dictionary encoded (what writers do with a column of
//! few distinct values, e.g. `hcpcs`) is decoded as a dictionary: each distinct value once per row
//! group, not copied out row by row.
//!
//! A null is a blank field. A rejected row is at its row number counting from 1; a file that is
//! rejected as a whole (not Parquet or truncated, a column missing or of another type) at row 0,
//! naming the column; a row group that cannot be decoded at its first row, naming the row group
//! and the column. Row groups are read in parallel (`assign --threads`), merged in file order.
//! Pages may be uncompressed or compressed with Snappy (DuckDB's, Spark's and pandas' default),
//! Zstandard (Polars' default), LZ4 or gzip; brotli is not built in (such a file is rejected
//! whole, naming the codec).
//!
//! Writing: the assignment list ([`write_results`], the columns of the CSV list, a blank field as
//! a null, `winning_allowed` as DECIMAL(18, 2), `continuously_assigned` as BOOLEAN) and the
//! synthetic population ([`PopulationSink`]), Snappy-compressed.

use std::{
    fs::File,
    io::{BufWriter, Write},
    panic::{AssertUnwindSafe, catch_unwind},
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::Context;
use arrow_array::{
    Array, ArrayRef, BinaryArray, BinaryViewArray, BooleanArray, Date32Array, Decimal32Array,
    Decimal64Array, Decimal128Array, Int32Array, Int64Array, LargeBinaryArray, LargeStringArray,
    RecordBatch, StringArray, StringViewArray, UInt32Array,
    builder::{
        BooleanBuilder, Date32Builder, Decimal128Builder, Int32Builder, StringBuilder,
        UInt32Builder,
    },
    cast::AsArray,
    types::{
        Date32Type, Decimal32Type, Decimal64Type, Decimal128Type, Int8Type, Int16Type, Int32Type,
        Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
    },
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use attribution_rules::{
    Version,
    run::{AcoCounts, Run},
    synthetic::{BeneficiaryRecord, ClaimRecord},
};
use parquet::arrow::{
    ArrowWriter, ProjectionMask,
    arrow_reader::{
        ArrowPredicateFn, ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
        ParquetRecordBatchReaderBuilder, RowFilter,
    },
};
use parquet::basic::Encoding;
use parquet::file::{metadata::ParquetMetaData, properties::WriterProperties};

use crate::files::{self, RESULT_COLUMNS};
use crate::input::csv::{self, Fields};
use crate::synth::{self, Sink};

/// The reason when the parquet crate fails (panics) on corrupt data.
const CORRUPT: &str = "not a readable Parquet file: the {} is corrupt";

/// Rows per record batch read or written.
const BATCH: usize = 8192;

/// The input tables of `assign`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `aco_id,kind,id`.
    Participants,
    /// `beneficiaries.csv`.
    Beneficiaries,
    /// `claims.csv`.
    Claims,
    /// `npi,specialty`.
    Clinicians,
}

/// What a column holds: the Parquet types it may have besides a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Whole,
    Bool,
    Date,
    Money,
}

impl Layout {
    /// Every column the layout reads (as in [`crate::input::csv`]) and what it holds.
    fn columns(self) -> &'static [(&'static str, Kind)] {
        use Kind::*;
        match self {
            Layout::Participants => &[("aco_id", Text), ("kind", Text), ("id", Text)],
            Layout::Clinicians => &[("npi", Text), ("specialty", Text)],
            Layout::Beneficiaries => &[
                ("beneficiary_id", Text),
                ("months_part_a_and_b", Whole),
                ("months_part_a_or_b_only", Whole),
                ("months_part_a_only", Whole),
                ("months_part_b_only", Whole),
                ("months_group_health_plan", Whole),
                ("us_resident", Bool),
                ("other_initiative", Bool),
                ("designated_npi", Text),
                ("designated_tin", Text),
                ("designated_specialty", Text),
                ("prior_year_aco_id", Text),
            ],
            Layout::Claims => &[
                ("beneficiary_id", Text),
                ("service_date", Date),
                ("hcpcs", Text),
                ("allowed", Money),
                ("claim_id", Text),
                ("line_number", Whole),
                ("revenue_center", Text),
                ("place_of_service", Text),
                ("claim_type", Text),
                ("tin", Text),
                ("ccn", Text),
                ("npi", Text),
                ("specialty", Text),
                ("adjustment", Whole),
            ],
        }
    }
}

impl Kind {
    fn accepts(self, t: &DataType) -> bool {
        use DataType as T;
        let text = matches!(
            t,
            T::Utf8 | T::LargeUtf8 | T::Utf8View | T::Binary | T::LargeBinary | T::BinaryView
        );
        text || match self {
            Kind::Text => false,
            Kind::Whole => t.is_integer(),
            Kind::Bool => *t == T::Boolean,
            Kind::Date => *t == T::Date32,
            Kind::Money => matches!(
                t,
                T::Decimal32(_, s) | T::Decimal64(_, s) | T::Decimal128(_, s) if *s >= 0
            ),
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Kind::Text => "a string column",
            Kind::Whole => "an integer or string column",
            Kind::Bool => "a BOOLEAN or string column",
            Kind::Date => "a DATE or string column",
            Kind::Money => "a DECIMAL (at most 38 digits) or string column: amounts are exact",
        }
    }
}

/// A Parquet file of one of the layouts, its footer read: the header (the column names) and its
/// row groups, each read on its own (so on any thread).
#[derive(Debug, Clone)]
pub struct Table {
    path: PathBuf,
    meta: ArrowReaderMetadata,
    header: ::csv::StringRecord,
    /// The columns of the layout, by position (ascending): the only ones decoded.
    decoded: Vec<usize>,
    /// The number (from 0) of each row group's first row, and the row count at the end.
    starts: Vec<u64>,
}

impl Table {
    /// Opens the Parquet file at `path` of `layout`: the table,
    /// or why the file is rejected as a whole (not Parquet or truncated, a column of a type the
    /// layout does not take). Missing columns are for the layout's reader to say, from
    /// [`Table::header`]. Only a file that cannot be opened is an error.
    pub fn open(path: &Path, layout: Layout) -> anyhow::Result<Result<Table, String>> {
        let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        // The Parquet types, not an Arrow schema a writer may have stored: strings come as Utf8
        // or Binary, whatever dictionary or view type they were written from.
        let options = ArrowReaderOptions::new().with_skip_arrow_metadata(true);
        // The parquet crate panics on some corrupt footers: that is a rejection too.
        let meta = match catch_unwind(AssertUnwindSafe(|| ArrowReaderMetadata::load(&f, options))) {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => {
                return Ok(Err(format!(
                    "not a readable Parquet file (truncated?): {e}"
                )));
            }
            Err(_) => return Ok(Err(CORRUPT.replace("{}", "footer"))),
        };
        let schema = meta.schema().clone();
        let header: ::csv::StringRecord = schema.fields().iter().map(|f| f.name()).collect();
        let mut decoded = Vec::new();
        for (i, field) in schema.fields().iter().enumerate() {
            let name = field.name().trim().to_ascii_lowercase();
            let Some(&(name, kind)) = layout.columns().iter().find(|(n, _)| *n == name) else {
                continue;
            };
            if !kind.accepts(field.data_type()) {
                return Ok(Err(format!(
                    "{name}: must be {} (this is {})",
                    kind.expected(),
                    field.data_type()
                )));
            }
            decoded.push(i);
        }
        // String columns whose every data page is dictionary encoded are decoded as dictionary
        // arrays: their values are read once per row group instead of copied out row by row.
        let hinted: Vec<Arc<Field>> = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| match f.data_type() {
                t @ (DataType::Utf8 | DataType::Binary)
                    if decoded.contains(&i) && all_dictionary(meta.metadata(), i) =>
                {
                    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(t.clone()));
                    Arc::new(f.as_ref().clone().with_data_type(dict))
                }
                _ => f.clone(),
            })
            .collect();
        let meta = if hinted.iter().zip(schema.fields()).any(|(h, f)| h != f) {
            let options = ArrowReaderOptions::new()
                .with_skip_arrow_metadata(true)
                .with_schema(Arc::new(Schema::new(hinted)));
            match ArrowReaderMetadata::try_new(meta.metadata().clone(), options) {
                Ok(m) => m,
                Err(_) => meta,
            }
        } else {
            meta
        };
        let mut starts = vec![0u64];
        for g in meta.metadata().row_groups() {
            let last = starts.last().copied().unwrap_or(0);
            starts.push(last + u64::try_from(g.num_rows()).unwrap_or(0));
        }
        Ok(Ok(Table {
            path: path.to_path_buf(),
            meta,
            header,
            decoded,
            starts,
        }))
    }

    /// The column names, as a CSV header row.
    pub fn header(&self) -> &::csv::StringRecord {
        &self.header
    }

    /// The position of the column `name` (as the CSV layouts find it: trimmed, any case).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    }

    /// Number of row groups.
    pub fn row_groups(&self) -> usize {
        self.starts.len() - 1
    }

    /// The compressed bytes of row group `g` (for progress).
    pub fn group_bytes(&self, g: usize) -> u64 {
        self.meta
            .metadata()
            .row_groups()
            .get(g)
            .map_or(0, |r| u64::try_from(r.compressed_size()).unwrap_or(0))
    }

    fn reader(
        &self,
        g: usize,
        columns: &[usize],
        only: Option<usize>,
    ) -> Result<ParquetRecordBatchReader, String> {
        let f = File::open(&self.path).map_err(|e| format!("cannot open the file again: {e}"))?;
        let schema = self.meta.parquet_schema();
        let mut b = ParquetRecordBatchReaderBuilder::new_with_metadata(f, self.meta.clone())
            .with_row_groups(vec![g])
            .with_projection(ProjectionMask::roots(schema, columns.iter().copied()))
            .with_batch_size(BATCH);
        if let Some(k) = only {
            let keep = ArrowPredicateFn::new(ProjectionMask::roots(schema, [k]), |batch| {
                let (mut text, mut dates) = (Vec::new(), DateText::default());
                let column = Cells::of(batch.column(0).as_ref());
                Ok(BooleanArray::from_iter((0..batch.num_rows()).map(|i| {
                    text.clear();
                    column.render(i, &mut text, Some(&mut dates));
                    let v = std::str::from_utf8(&text).map(|t| csv::version(t.trim()));
                    Some(v != Ok(Some(Version::Original)))
                })))
            });
            b = b.with_row_filter(RowFilter::new(vec![Box::new(keep)]));
        }
        b.build().map_err(|e| e.to_string())
    }

    /// Calls `each` with every row of row group `g` (its row number from 1, and its fields as
    /// text; columns the layout does not read are blank). With `only` (the `adjustment`
    /// column), only the rows that are not an original, unnumbered (0). A row group that cannot
    /// be read is one rejection at its first row naming the row group and the column; the rows
    /// before it in the group have been given.
    pub fn read_group(
        &self,
        g: usize,
        only: Option<usize>,
        each: &mut dyn FnMut(u64, Result<Fields<'_, '_>, String>),
    ) {
        let (mut bytes, mut spans) = (Vec::new(), Vec::new());
        // The service dates' text, kept across the row group's batches.
        let mut dates = DateText::default();
        let mut row = self.starts.get(g).copied().unwrap_or(0);
        let read = self.batches(g, only, &mut |batch| {
            let columns = self.cells(batch);
            for i in 0..batch.num_rows() {
                bytes.clear();
                spans.clear();
                for c in &columns {
                    let start = bytes.len();
                    if let Some(c) = c {
                        c.render(i, &mut bytes, Some(&mut dates));
                    }
                    spans.push((start, bytes.len()));
                }
                row += 1;
                let n = if only.is_some() { 0 } else { row };
                each(n, Ok(Fields::new(&bytes, &spans)));
            }
        });
        if let Err((at, why)) = read {
            each(at, Err(why));
        }
    }

    /// [`Table::read_group`] of a claims file, each row as a [`Row`]: its strings borrowed from
    /// the decoded columns and its typed cells read as values, not written out as text (the
    /// same records, rejections and reasons).
    pub fn read_rows(
        &self,
        g: usize,
        only: Option<usize>,
        each: &mut dyn FnMut(u64, Result<Row<'_>, String>),
    ) {
        let mut row = self.starts.get(g).copied().unwrap_or(0);
        let read = self.batches(g, only, &mut |batch| {
            self.rows(batch, &mut row, &mut |n, r| {
                each(if only.is_some() { 0 } else { n }, Ok(r))
            })
        });
        if let Err((at, why)) = read {
            each(at, Err(why));
        }
    }

    /// [`Table::read_rows`] of a row group decoded whole and read twice: `each` is called with
    /// every row as [`Visit::First`] (a claims file read in one pass prescans the group and finds
    /// its edges), then with every row as [`Visit::Then`], then with the rejection of a row group
    /// that cannot be read (past the rows decoded before it).
    pub fn read_rows_twice(&self, g: usize, each: &mut RowVisitor<'_>) {
        let mut batches = Vec::new();
        let read = self.batches(g, None, &mut |b| batches.push(b.clone()));
        let start = self.starts.get(g).copied().unwrap_or(0);
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let last = start + rows as u64;
        let mut row = start;
        for b in &batches {
            self.rows(b, &mut row, &mut |n, r| {
                let edge = n == start + 1 || n == last;
                each(Visit::First { edge }, n, Ok(r))
            });
        }
        let mut row = start;
        for b in &batches {
            self.rows(b, &mut row, &mut |n, r| each(Visit::Then, n, Ok(r)));
        }
        if let Err((at, why)) = read {
            each(Visit::Then, at, Err(why));
        }
    }

    /// Calls `each` with every row of `batch` (claims) as a [`Row`], numbered from `row` + 1
    /// (`row` is advanced).
    fn rows(&self, batch: &RecordBatch, row: &mut u64, each: &mut dyn FnMut(u64, Row<'_>)) {
        let columns = self.cells(batch);
        let plain = columns.iter().flatten().all(Cells::all_plain);
        for i in 0..batch.num_rows() {
            let plain = plain || columns.iter().flatten().all(|c| c.plain(i));
            *row += 1;
            each(
                *row,
                Row {
                    columns: &columns,
                    i,
                    plain,
                },
            );
        }
    }

    /// The columns of `batch` (the decoded ones, in file order) by their position in the file,
    /// `None` where not decoded.
    fn cells<'b>(&self, batch: &'b RecordBatch) -> Vec<Option<Cells<'b>>> {
        (0..self.header.len())
            .map(|p| {
                self.decoded
                    .binary_search(&p)
                    .ok()
                    .and_then(|j| batch.columns().get(j))
                    .map(|a| Cells::of(a.as_ref()))
            })
            .collect()
    }

    /// Calls `batch` with each record batch of row group `g` ([`Table::cells`] gives its
    /// columns); `only` as in [`Table::read_group`].
    /// A row group that cannot be read is its first row and the reason.
    fn batches(
        &self,
        g: usize,
        only: Option<usize>,
        batch: &mut dyn FnMut(&RecordBatch),
    ) -> Result<(), (u64, String)> {
        let first = self.starts.get(g).copied().unwrap_or(0);
        // The parquet crate panics on some corrupt data: the row group is rejected.
        match catch_unwind(AssertUnwindSafe(|| self.try_batches(g, only, &mut *batch))) {
            Ok(r) => r.map_err(|why| (first + 1, why)),
            Err(_) => Err((first + 1, CORRUPT.replace("{}", &format!("row group {g}")))),
        }
    }

    fn try_batches(
        &self,
        g: usize,
        only: Option<usize>,
        each: &mut dyn FnMut(&RecordBatch),
    ) -> Result<(), String> {
        let first = self.starts.get(g).copied().unwrap_or(0);
        let fail = |why: String| {
            let last = self.starts.get(g + 1).copied().unwrap_or(first);
            let column = self
                .decoded
                .iter()
                .copied()
                .find(|&c| {
                    self.reader(g, &[c], None)
                        .map_or(true, |mut r| r.any(|b| b.is_err()))
                })
                .and_then(|c| self.header.get(c))
                .map_or(String::new(), |c| format!(", column {}", c.trim()));
            format!(
                "row group {g} (rows {}-{last}){column}: unreadable: {why}",
                first + 1
            )
        };
        let reader = self.reader(g, &self.decoded, only).map_err(fail)?;
        for batch in reader {
            each(&batch.map_err(|e| fail(e.to_string()))?);
        }
        Ok(())
    }
}

/// What [`Table::read_rows_twice`] calls with each row: which reading, its row number, the row.
pub type RowVisitor<'v> = dyn FnMut(Visit, u64, Result<Row<'_>, String>) + 'v;

/// Which reading of a row group [`Table::read_rows_twice`] gives a row to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    /// The first (never a rejection): `edge` when the row is the group's first or last.
    First {
        /// The row is the row group's first or last.
        edge: bool,
    },
    /// The second.
    Then,
}

/// A row of a claims file's record batch as [`csv::Record`] ([`Table::read_rows`]): text cells are
/// borrowed from their arrays; a DATE, a DECIMAL of scale 2 and an integer are read as the value
/// their text gives, and any other typed cell (a DECIMAL of another scale, say) is written out as
/// text and parsed, so every value is the text parser's.
#[derive(Clone, Copy)]
pub struct Row<'b> {
    columns: &'b [Option<Cells<'b>>],
    i: usize,
    /// Every text cell is printable ASCII.
    plain: bool,
}

impl<'b> Row<'b> {
    fn cell(&self, i: Option<usize>) -> Option<&'b Cells<'b>> {
        self.columns.get(i?)?.as_ref()
    }

    /// Cell `i` written out as its text (nothing for a null), parsed by `parse`: the path of a
    /// typed cell without a direct reading.
    fn parsed<T>(&self, i: Option<usize>, parse: impl FnOnce(&str) -> T) -> T {
        match self.cell(i) {
            Some(c) if c.bytes(self.i).is_none() => {
                let mut text = Vec::new();
                c.render(self.i, &mut text, None);
                parse(std::str::from_utf8(&text).map_or("", csv::trimmed))
            }
            _ => parse(csv::Record::text(self, i)),
        }
    }
}

/// The largest amount in cents whose text `parse_cents` reads directly (at most ten digits of
/// dollars): a DECIMAL of scale 2 up to it is its cents; any other goes through text.
const DIRECT_CENTS: i128 = 999_999_999_999;

impl<'b> csv::Record<'b> for Row<'b> {
    fn check(&self, _width: usize) -> Result<(), String> {
        // A row has the header's width; a string column is UTF-8 (the reader checks), a binary
        // one may not be.
        let utf8 = |c: &Cells<'_>| {
            c.bytes(self.i)
                .flatten()
                .is_none_or(|b| b.is_ascii() || std::str::from_utf8(b).is_ok())
        };
        if self.plain || self.columns.iter().flatten().all(utf8) {
            Ok(())
        } else {
            Err("malformed row: not UTF-8".into())
        }
    }

    #[inline]
    fn text(&self, i: Option<usize>) -> &'b str {
        self.cell(i)
            .and_then(|c| c.str(self.i))
            .flatten()
            .map_or("", csv::trimmed)
    }

    fn may_have_control(&self) -> bool {
        !self.plain
    }

    fn date(&self, i: usize) -> Option<acorn_domain::Date> {
        match self.cell(Some(i)) {
            Some(Cells::Date(a)) => a
                .is_valid(self.i)
                .then(|| acorn_domain::Date::from_day_number(a.value(self.i)))
                .flatten()
                .filter(|d| acorn_domain::Date::YEARS.contains(&d.year())),
            _ => self.parsed(Some(i), acorn_domain::Date::parse_iso_in_years),
        }
    }

    fn cents(&self, i: usize) -> Result<i64, &'static str> {
        let v = match self.cell(Some(i)) {
            Some(Cells::Decimal128(a, 2)) if a.is_valid(self.i) => a.value(self.i),
            Some(Cells::Decimal64(a, 2)) if a.is_valid(self.i) => a.value(self.i).into(),
            Some(Cells::Decimal32(a, 2)) if a.is_valid(self.i) => a.value(self.i).into(),
            _ => return self.parsed(Some(i), attribution_rules::input::parse_cents),
        };
        match i64::try_from(v) {
            Ok(c) if v.abs() <= DIRECT_CENTS => Ok(c),
            _ => self.parsed(Some(i), attribution_rules::input::parse_cents),
        }
    }

    fn line_number(&self, i: Option<usize>) -> Option<u32> {
        match self.cell(i) {
            Some(Cells::UInt32(a)) if a.is_valid(self.i) => Some(a.value(self.i)),
            Some(Cells::Int32(a)) if a.is_valid(self.i) => u32::try_from(a.value(self.i)).ok(),
            Some(Cells::Int64(a)) if a.is_valid(self.i) => u32::try_from(a.value(self.i)).ok(),
            _ => self.parsed(i, csv::line_number),
        }
    }

    fn version(&self, i: Option<usize>) -> Option<Version> {
        let n: i64 = match self.cell(i) {
            Some(Cells::UInt32(a)) if a.is_valid(self.i) => a.value(self.i).into(),
            Some(Cells::Int32(a)) if a.is_valid(self.i) => a.value(self.i).into(),
            Some(Cells::Int64(a)) if a.is_valid(self.i) => a.value(self.i),
            _ => return self.parsed(i, csv::version),
        };
        match n {
            0 => Some(Version::Original),
            1 => Some(Version::Cancellation),
            2 => Some(Version::Adjustment),
            _ => None,
        }
    }
}

impl csv::Table for Table {
    fn header(&mut self) -> Result<::csv::StringRecord, String> {
        Ok(self.header.clone())
    }

    fn header_line(&self) -> u64 {
        0
    }

    fn records(self, each: &mut dyn FnMut(u64, Result<Fields<'_, '_>, String>)) {
        for g in 0..self.row_groups() {
            self.read_group(g, None, each);
        }
    }
}

/// Whether every data page of the top-level column `i` is dictionary encoded in every row group
/// (a column of one leaf; the page encodings as the footer reports them).
fn all_dictionary(meta: &ParquetMetaData, i: usize) -> bool {
    let leaves = meta.file_metadata().schema_descr();
    let mut of_i = (0..leaves.num_columns()).filter(|&j| leaves.get_column_root_idx(j) == i);
    let (Some(leaf), None) = (of_i.next(), of_i.next()) else {
        return false;
    };
    !meta.row_groups().is_empty()
        && meta.row_groups().iter().all(|g| {
            let c = g.column(leaf);
            c.dictionary_page_offset().is_some()
                && c.page_encoding_stats_mask().is_some_and(|m| {
                    m.is_only(Encoding::RLE_DICTIONARY) || m.is_only(Encoding::PLAIN_DICTIONARY)
                })
        })
}

/// One column of a record batch, its type resolved once per batch (not per cell): appends the
/// text of the CSV field of each row ([`Cells::render`]). A column of a type [`Kind::accepts`]
/// does not take has been rejected before it is read.
#[derive(Clone, Copy)]
enum Cells<'a> {
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    Utf8View(&'a StringViewArray),
    Binary(&'a BinaryArray),
    LargeBinary(&'a LargeBinaryArray),
    BinaryView(&'a BinaryViewArray),
    Bool(&'a BooleanArray),
    /// A dictionary-encoded string column: keys into its values.
    DictUtf8(&'a Int32Array, &'a StringArray),
    DictBinary(&'a Int32Array, &'a BinaryArray),
    /// Days since 1970-01-01 (written through a [`DateText`]).
    Date(&'a Date32Array),
    Int32(&'a Int32Array),
    Int64(&'a Int64Array),
    UInt32(&'a UInt32Array),
    /// DECIMAL(p, s) of each width, and the scale `s`.
    Decimal32(&'a Decimal32Array, i8),
    Decimal64(&'a Decimal64Array, i8),
    Decimal128(&'a Decimal128Array, i8),
    /// Any other integer width.
    Other(&'a dyn Array),
}

impl<'a> Cells<'a> {
    fn of(a: &'a dyn Array) -> Cells<'a> {
        use DataType as T;
        match a.data_type() {
            T::Utf8 => Cells::Utf8(a.as_string::<i32>()),
            T::LargeUtf8 => Cells::LargeUtf8(a.as_string::<i64>()),
            T::Utf8View => Cells::Utf8View(a.as_string_view()),
            T::Binary => Cells::Binary(a.as_binary::<i32>()),
            T::LargeBinary => Cells::LargeBinary(a.as_binary::<i64>()),
            T::BinaryView => Cells::BinaryView(a.as_binary_view()),
            T::Boolean => Cells::Bool(a.as_boolean()),
            T::Dictionary(k, v) if **k == T::Int32 => {
                let d = a.as_dictionary::<Int32Type>();
                match **v {
                    T::Utf8 => Cells::DictUtf8(d.keys(), d.values().as_string::<i32>()),
                    T::Binary => Cells::DictBinary(d.keys(), d.values().as_binary::<i32>()),
                    _ => Cells::Other(a),
                }
            }
            T::Date32 => Cells::Date(a.as_primitive::<Date32Type>()),
            T::Int32 => Cells::Int32(a.as_primitive::<Int32Type>()),
            T::Int64 => Cells::Int64(a.as_primitive::<Int64Type>()),
            T::UInt32 => Cells::UInt32(a.as_primitive::<UInt32Type>()),
            T::Decimal32(_, s) => Cells::Decimal32(a.as_primitive::<Decimal32Type>(), *s),
            T::Decimal64(_, s) => Cells::Decimal64(a.as_primitive::<Decimal64Type>(), *s),
            T::Decimal128(_, s) => Cells::Decimal128(a.as_primitive::<Decimal128Type>(), *s),
            _ => Cells::Other(a),
        }
    }

    /// The bytes of row `i` of a string (or binary) column (`None` for a null), or `None` for a
    /// column of another type.
    #[inline]
    fn bytes(self, i: usize) -> Option<Option<&'a [u8]>> {
        let valid = |a: &dyn Array| a.is_valid(i);
        let dict = |k: &Int32Array, v: &dyn Array| {
            let j = k.value(i) as usize;
            (k.is_valid(i) && j < v.len() && v.is_valid(j)).then_some(j)
        };
        Some(match self {
            Cells::Utf8(a) => valid(a).then(|| a.value(i).as_bytes()),
            Cells::LargeUtf8(a) => valid(a).then(|| a.value(i).as_bytes()),
            Cells::Utf8View(a) => valid(a).then(|| a.value(i).as_bytes()),
            Cells::Binary(a) => valid(a).then(|| a.value(i)),
            Cells::LargeBinary(a) => valid(a).then(|| a.value(i)),
            Cells::BinaryView(a) => valid(a).then(|| a.value(i)),
            Cells::DictUtf8(k, v) => dict(k, v).map(|j| v.value(j).as_bytes()),
            Cells::DictBinary(k, v) => dict(k, v).map(|j| v.value(j)),
            _ => return None,
        })
    }

    /// [`Cells::bytes`] as text (a binary cell that is not UTF-8 is blank), strings not
    /// checked again.
    #[inline]
    fn str(self, i: usize) -> Option<Option<&'a str>> {
        let valid = |a: &dyn Array| a.is_valid(i);
        Some(match self {
            Cells::Utf8(a) => valid(a).then(|| a.value(i)),
            Cells::LargeUtf8(a) => valid(a).then(|| a.value(i)),
            Cells::Utf8View(a) => valid(a).then(|| a.value(i)),
            Cells::DictUtf8(k, v) => {
                let j = k.value(i) as usize;
                (k.is_valid(i) && j < v.len() && v.is_valid(j)).then(|| v.value(j))
            }
            _ => self.bytes(i)?.and_then(|b| std::str::from_utf8(b).ok()),
        })
    }

    /// Whether every byte of the column's values is printable ASCII (a column of another type
    /// than a string: yes), so each of its cells is; `false` when not known cheaply.
    fn all_plain(&self) -> bool {
        let plain = csv::printable;
        match self {
            Cells::Utf8(a) => plain(a.value_data()),
            Cells::LargeUtf8(a) => plain(a.value_data()),
            Cells::Binary(a) => plain(a.value_data()),
            Cells::LargeBinary(a) => plain(a.value_data()),
            Cells::DictUtf8(_, v) => plain(v.value_data()),
            Cells::DictBinary(_, v) => plain(v.value_data()),
            Cells::Utf8View(_) | Cells::BinaryView(_) => false,
            _ => true,
        }
    }

    /// Whether the text of row `i` is printable ASCII.
    fn plain(&self, i: usize) -> bool {
        self.bytes(i).flatten().is_none_or(csv::printable)
    }

    /// Appends the text of the CSV field of row `i` (nothing for a null); dates through `dates`
    /// when given.
    #[inline]
    fn render(&self, i: usize, out: &mut Vec<u8>, dates: Option<&mut DateText>) {
        let mut n = itoa::Buffer::new();
        match self {
            Cells::Utf8(a) if a.is_valid(i) => out.extend_from_slice(a.value(i).as_bytes()),
            Cells::LargeUtf8(a) if a.is_valid(i) => out.extend_from_slice(a.value(i).as_bytes()),
            Cells::Utf8View(a) if a.is_valid(i) => out.extend_from_slice(a.value(i).as_bytes()),
            Cells::Binary(a) if a.is_valid(i) => out.extend_from_slice(a.value(i)),
            Cells::LargeBinary(a) if a.is_valid(i) => out.extend_from_slice(a.value(i)),
            Cells::BinaryView(a) if a.is_valid(i) => out.extend_from_slice(a.value(i)),
            Cells::Bool(a) if a.is_valid(i) => {
                out.extend_from_slice(if a.value(i) { b"true" } else { b"false" })
            }
            Cells::DictUtf8(k, v) if k.is_valid(i) => {
                let j = k.value(i) as usize;
                if j < v.len() && v.is_valid(j) {
                    out.extend_from_slice(v.value(j).as_bytes());
                }
            }
            Cells::DictBinary(k, v) if k.is_valid(i) => {
                let j = k.value(i) as usize;
                if j < v.len() && v.is_valid(j) {
                    out.extend_from_slice(v.value(j));
                }
            }
            Cells::Date(a) if a.is_valid(i) => match dates {
                Some(dates) => out.extend_from_slice(dates.get(a.value(i))),
                None => {
                    if let Some(d) = acorn_domain::Date::from_day_number(a.value(i)) {
                        let _ = write!(out, "{d}");
                    }
                }
            },
            Cells::Int32(a) if a.is_valid(i) => {
                out.extend_from_slice(n.format(a.value(i)).as_bytes())
            }
            Cells::Int64(a) if a.is_valid(i) => {
                out.extend_from_slice(n.format(a.value(i)).as_bytes())
            }
            Cells::UInt32(a) if a.is_valid(i) => {
                out.extend_from_slice(n.format(a.value(i)).as_bytes())
            }
            Cells::Decimal32(a, s) if a.is_valid(i) => decimal(a.value(i).into(), *s, out),
            Cells::Decimal64(a, s) if a.is_valid(i) => decimal(a.value(i).into(), *s, out),
            Cells::Decimal128(a, s) if a.is_valid(i) => decimal(a.value(i), *s, out),
            Cells::Other(a) if a.is_valid(i) => {
                let v: i128 = match a.data_type() {
                    DataType::Int8 => a.as_primitive::<Int8Type>().value(i).into(),
                    DataType::Int16 => a.as_primitive::<Int16Type>().value(i).into(),
                    DataType::UInt8 => a.as_primitive::<UInt8Type>().value(i).into(),
                    DataType::UInt16 => a.as_primitive::<UInt16Type>().value(i).into(),
                    DataType::UInt64 => a.as_primitive::<UInt64Type>().value(i).into(),
                    _ => return,
                };
                out.extend_from_slice(n.format(v).as_bytes());
            }
            _ => {}
        }
    }
}

/// The text of dates by day number (`YYYY-MM-DD`, as [`acorn_domain::Date`] writes it; blank for
/// a day number no calendar date has: an invalid date), remembered in a direct-mapped table of
/// [`DateText::SLOTS`] slots: a claims file's service dates fall in a few years, so most are
/// rendered once per row group.
struct DateText {
    /// The day number held by each slot (`i32::MIN`, whose text is blank, when empty).
    days: Vec<i32>,
    /// Each slot's text: its length, then the bytes (at most `-9999-12-31`, 11).
    text: Vec<[u8; 12]>,
}

impl DateText {
    const SLOTS: usize = 2048;

    fn get(&mut self, day: i32) -> &[u8] {
        let k = (day as u32 as usize) % Self::SLOTS;
        if self.days[k] != day {
            let mut t = [0u8; 12];
            if let Some(d) = acorn_domain::Date::from_day_number(day) {
                let mut w = &mut t[1..];
                let _ = write!(w, "{d}");
                let left = w.len();
                t[0] = (11 - left) as u8;
            }
            self.days[k] = day;
            self.text[k] = t;
        }
        let t = &self.text[k];
        &t[1..1 + usize::from(t[0])]
    }
}

impl Default for DateText {
    fn default() -> DateText {
        DateText {
            days: vec![i32::MIN; Self::SLOTS],
            text: vec![[0; 12]; Self::SLOTS],
        }
    }
}

/// Writes the DECIMAL `v` of scale `scale` (0-38) as decimal text, with trailing zeros past two
/// decimals dropped (`120.5000` is `120.50`: the same exact amount, which the CSV parser takes).
fn decimal(v: i128, scale: i8, out: &mut Vec<u8>) {
    let mut n = itoa::Buffer::new();
    if v < 0 {
        out.push(b'-');
    }
    let abs = v.unsigned_abs();
    // Cents (the common scale) of an amount below 2^64: 64-bit division, the same text.
    if let (2, Ok(abs)) = (scale, u64::try_from(abs)) {
        out.extend_from_slice(n.format(abs / 100).as_bytes());
        let c = (abs % 100) as u8;
        out.extend_from_slice(&[b'.', b'0' + c / 10, b'0' + c % 10]);
        return;
    }
    let mut digits = u32::try_from(scale).unwrap_or(0).min(38);
    let unit = 10u128.pow(digits);
    let (int, mut frac) = (abs / unit, abs % unit);
    while digits > 2 && frac % 10 == 0 {
        frac /= 10;
        digits -= 1;
    }
    out.extend_from_slice(n.format(int).as_bytes());
    if digits > 0 {
        let _ = write!(out, ".{frac:0w$}", w = digits as usize);
    }
}

/// A value of a row written ([`Columns::push`]): empty text is a null.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Text(&'a str),
    Int(i32),
    UInt(u32),
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// Cents, DECIMAL(18, 2); `None` is a null.
    Money(Option<i64>),
}

/// The builders of one record batch of `schema`.
struct Columns {
    schema: SchemaRef,
    builders: Vec<Builder>,
}

enum Builder {
    Text(StringBuilder),
    Int(Int32Builder),
    UInt(UInt32Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Money(Decimal128Builder),
}

impl Columns {
    fn new(schema: &SchemaRef) -> anyhow::Result<Columns> {
        let builders = schema
            .fields()
            .iter()
            .map(|f| {
                Ok(match f.data_type() {
                    DataType::Int32 => Builder::Int(Int32Builder::with_capacity(BATCH)),
                    DataType::UInt32 => Builder::UInt(UInt32Builder::with_capacity(BATCH)),
                    DataType::Boolean => Builder::Bool(BooleanBuilder::with_capacity(BATCH)),
                    DataType::Date32 => Builder::Date(Date32Builder::with_capacity(BATCH)),
                    DataType::Decimal128(p, s) => Builder::Money(
                        Decimal128Builder::with_capacity(BATCH).with_precision_and_scale(*p, *s)?,
                    ),
                    _ => Builder::Text(StringBuilder::with_capacity(BATCH, 16 * BATCH)),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Columns {
            schema: schema.clone(),
            builders,
        })
    }

    /// Appends a row (its values in the schema's order, of its types).
    fn push(&mut self, row: &[Value<'_>]) {
        for (b, v) in self.builders.iter_mut().zip(row) {
            match (b, *v) {
                (Builder::Text(b), Value::Text("")) => b.append_null(),
                (Builder::Text(b), Value::Text(s)) => b.append_value(s),
                (Builder::Int(b), Value::Int(n)) => b.append_value(n),
                (Builder::UInt(b), Value::UInt(n)) => b.append_value(n),
                (Builder::Bool(b), Value::Bool(x)) => b.append_value(x),
                (Builder::Date(b), Value::Date(d)) => b.append_value(d),
                (Builder::Money(b), Value::Money(c)) => b.append_option(c.map(i128::from)),
                _ => unreachable!("a value of another type than its column"),
            }
        }
    }

    /// The rows pushed since the last batch, as a batch.
    fn finish(&mut self) -> anyhow::Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    Builder::Text(b) => Arc::new(b.finish()),
                    Builder::Int(b) => Arc::new(b.finish()),
                    Builder::UInt(b) => Arc::new(b.finish()),
                    Builder::Bool(b) => Arc::new(b.finish()),
                    Builder::Date(b) => Arc::new(b.finish()),
                    Builder::Money(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}

fn schema(columns: &[(&str, DataType, bool)]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, t, nullable)| Field::new(*name, t.clone(), *nullable))
            .collect::<Vec<_>>(),
    ))
}

const MONEY: DataType = DataType::Decimal128(18, 2);

/// Snappy pages (what DuckDB and Spark write by default), row groups of `rows` rows.
fn properties(rows: usize) -> WriterProperties {
    WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows.max(1)))
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build()
}

/// Writes the assignment list as Parquet to `out` (the columns of [`RESULT_COLUMNS`], with `order`
/// a first column `input_order`; the rows of [`files::write_rows_with`], assigned in pieces on
/// `threads` threads and written in order, so the bytes are the same for any thread count) and
/// returns the per-ACO counts.
pub fn write_results(
    run: &Run,
    out: &mut (impl Write + Send),
    order: bool,
    threads: usize,
) -> anyhow::Result<Vec<AcoCounts>> {
    use DataType::{Boolean, UInt32, Utf8};
    let types = [Utf8, Utf8, Utf8, Utf8, Utf8, MONEY, Boolean, Utf8];
    let nullable = [false, true, true, false, true, true, false, true];
    let mut cols: Vec<(&str, DataType, bool)> = Vec::new();
    if order {
        cols.push(("input_order", UInt32, false));
    }
    for ((name, t), null) in RESULT_COLUMNS.iter().zip(types).zip(nullable) {
        cols.push((name, t, null));
    }
    let schema = schema(&cols);
    let mut w = ArrowWriter::try_new(out, schema.clone(), Some(properties(1 << 20)))?;
    let counts = files::in_pieces(
        run,
        threads,
        |range| {
            let mut c = Columns::new(&schema)?;
            let counts = files::result_rows(run, range, |r| {
                let row = [
                    Value::UInt(r.input_order),
                    Value::Text(r.beneficiary_id),
                    Value::Text(r.aco_id),
                    Value::Text(r.step),
                    Value::Text(r.reason),
                    Value::Text(r.winning_entity),
                    Value::Money(r.winning_allowed),
                    Value::Bool(r.continuously_assigned),
                    Value::Text(r.ineligibility),
                ];
                c.push(&row[usize::from(!order)..]);
            });
            Ok((c.finish()?, counts))
        },
        |batch| Ok(w.write(&batch)?),
    )?;
    w.close()?;
    Ok(counts)
}

/// One Parquet file being written in batches.
struct Sheet {
    path: PathBuf,
    w: ArrowWriter<BufWriter<File>>,
    cols: Columns,
    rows: usize,
}

impl Sheet {
    fn create(
        dir: &Path,
        name: &str,
        schema: SchemaRef,
        group_rows: usize,
    ) -> anyhow::Result<Sheet> {
        let path = dir.join(name);
        let f = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Sheet {
            w: ArrowWriter::try_new(
                BufWriter::with_capacity(1 << 20, f),
                schema.clone(),
                Some(properties(group_rows)),
            )?,
            cols: Columns::new(&schema)?,
            path,
            rows: 0,
        })
    }

    fn push(&mut self, row: &[Value<'_>]) -> anyhow::Result<()> {
        self.cols.push(row);
        self.rows += 1;
        if self.rows == BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        self.w.write(&self.cols.finish()?)?;
        self.rows = 0;
        Ok(())
    }

    fn close(mut self) -> anyhow::Result<()> {
        self.flush()?;
        let mut out = self.w.into_inner()?;
        out.flush()
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

/// The synthetic population as `participants.parquet`, `beneficiaries.parquet` and
/// `claims.parquet` ([`synth::write`]): the columns of the CSV files, text as strings (blank as
/// null), months as INT32, flags as BOOLEAN, `line_number` as UINT32, `service_date` as DATE and
/// `allowed` as DECIMAL(18, 2).
pub struct PopulationSink {
    participants: Sheet,
    beneficiaries: Sheet,
    claims: Sheet,
}

impl PopulationSink {
    /// Creates the three files in `dir`, with row groups of at most `group_rows` rows.
    pub fn create(dir: &Path, group_rows: usize) -> anyhow::Result<PopulationSink> {
        use DataType::{Boolean, Date32, Int32, UInt32, Utf8};
        let text = |names: &[&'static str]| -> Vec<(&'static str, DataType, bool)> {
            names.iter().map(|n| (*n, Utf8, true)).collect()
        };
        let participants = schema(&text(&["aco_id", "kind", "id"]));
        let mut b = text(&["beneficiary_id"]);
        for m in [
            "months_part_a_and_b",
            "months_part_a_or_b_only",
            "months_group_health_plan",
        ] {
            b.push((m, Int32, false));
        }
        b.push(("us_resident", Boolean, false));
        b.push(("other_initiative", Boolean, false));
        b.extend(text(&["designated_npi", "designated_tin"]));
        let claims: Vec<(&str, DataType, bool)> = synth::CLAIMS_HEADER
            .split(',')
            .map(|name| match name {
                "line_number" => (name, UInt32, false),
                "service_date" => (name, Date32, false),
                "allowed" => (name, MONEY, false),
                _ => (name, Utf8, true),
            })
            .collect();
        Ok(PopulationSink {
            participants: Sheet::create(dir, "participants.parquet", participants, group_rows)?,
            beneficiaries: Sheet::create(dir, "beneficiaries.parquet", schema(&b), group_rows)?,
            claims: Sheet::create(dir, "claims.parquet", schema(&claims), group_rows)?,
        })
    }
}

impl Sink for PopulationSink {
    fn participant(&mut self, aco_id: &str, kind: &str, id: &str) -> anyhow::Result<()> {
        self.participants
            .push(&[Value::Text(aco_id), Value::Text(kind), Value::Text(id)])
    }

    fn beneficiary(&mut self, r: &BeneficiaryRecord) -> anyhow::Result<()> {
        let months = |m: u32| Value::Int(i32::try_from(m).unwrap_or(i32::MAX));
        self.beneficiaries.push(&[
            Value::Text(&r.id),
            months(r.months_a_and_b),
            months(r.months_a_or_b_only),
            months(r.months_group_health_plan),
            Value::Bool(r.us_resident),
            Value::Bool(r.other_initiative),
            Value::Text(&r.designated_npi),
            Value::Text(&r.designated_tin),
        ])
    }

    fn claim(&mut self, r: &ClaimRecord) -> anyhow::Result<()> {
        // The order of synth::CLAIMS_HEADER.
        self.claims.push(&[
            Value::Text(&r.beneficiary_id),
            Value::Text(&r.claim_id),
            Value::UInt(r.line_number),
            Value::Date(r.service_date.day_number()),
            Value::Text(r.hcpcs),
            Value::Text(r.revenue_center),
            Value::Text(r.place_of_service),
            Value::Text(synth::claim_type_name(r.claim_type)),
            Value::Text(&r.tin),
            Value::Text(&r.ccn),
            Value::Text(&r.npi),
            Value::Text(r.specialty),
            Value::Money(Some(r.allowed_cents)),
            Value::Text(synth::version_name(r.version)),
        ])
    }

    fn finish(self) -> anyhow::Result<()> {
        self.participants.close()?;
        self.beneficiaries.close()?;
        self.claims.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{DictionaryArray, Int8Array, UInt64Array};
    use proptest::prelude::*;

    /// The claims columns, in the order of the test's cells, and an extra column not decoded.
    const CLAIMS: [&str; 15] = [
        "beneficiary_id",
        "service_date",
        "hcpcs",
        "allowed",
        "claim_id",
        "line_number",
        "revenue_center",
        "place_of_service",
        "claim_type",
        "tin",
        "ccn",
        "npi",
        "specialty",
        "adjustment",
        "comment",
    ];

    /// Day numbers at the edges of the dates a claim may have and of the calendar.
    const EDGE_DAYS: [i32; 10] = [
        -25_568,
        -25_567,
        -25_566,
        2_932_896,
        2_932_897,
        -4_371_587,
        -4_371_588,
        0,
        i32::MIN,
        i32::MAX,
    ];

    /// Cents at the edges of what `parse_cents` reads directly and of what it takes.
    const EDGE_CENTS: [i128; 8] = [
        999_999_999_999,
        1_000_000_000_000,
        1_000_000_000_001,
        -999_999_999_999,
        -1_000_000_000_000,
        -1_000_000_000_001,
        0,
        i64::MIN as i128,
    ];

    /// Text a cell may hold: blank, realistic codes and numbers, padded, and anything.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[0-9]{1,12}",
            " ?[A-Za-z0-9_]{0,10} ?",
            "[0-9]{4}-[0-9]{2}-[0-9]{2}",
            "-?[0-9]{1,13}(\\.[0-9]{1,3})?",
            "original|adjustment|cancellation|professional|fqhc|RHC|0|1|2|3",
            "[a-z]{60,70}",
            any::<String>(),
        ]
    }

    /// A test column: its type (a pick) and its cells (null, or entropy for a typed value and
    /// text).
    type Column = (u8, Vec<Option<(u64, String)>>);

    /// One column: its type (a pick) and its cells (null, or entropy for a typed value and text).
    fn column(rows: usize) -> impl Strategy<Value = Column> {
        let cell = prop::option::weighted(0.9, (any::<u64>(), text()));
        (any::<u8>(), prop::collection::vec(cell, rows))
    }

    /// A typed value from entropy `e`: often small, sometimes at an edge, sometimes anything.
    fn pick(e: u64, edges: &[i128]) -> i128 {
        let r = e >> 2;
        match e % 4 {
            0 => i128::from(r % 5),
            1 => edges[(r as usize) % edges.len()],
            2 => i128::from(e as i64),
            _ => i128::from(r % 100_000) - 50_000,
        }
    }

    /// The array of column `name` of the claims layout, of a type chosen by `t` among the ones
    /// the layout takes.
    fn array(name: &str, t: u8, cells: &[Option<(u64, String)>]) -> ArrayRef {
        let strs: Vec<Option<&str>> = cells.iter().map(|c| c.as_ref().map(|c| &*c.1)).collect();
        // Binary cells: the text, and now and then a byte that is not UTF-8.
        let bins: Vec<Option<Vec<u8>>> = cells
            .iter()
            .map(|c| {
                c.as_ref().map(|(e, s)| {
                    let mut b = s.clone().into_bytes();
                    if e % 5 == 0 {
                        b.push(0xff);
                    }
                    b
                })
            })
            .collect();
        let e = |f: &dyn Fn(u64) -> i128| -> Vec<Option<i128>> {
            cells.iter().map(|c| c.as_ref().map(|c| f(c.0))).collect()
        };
        let days: Vec<i128> = EDGE_DAYS.iter().map(|&d| i128::from(d)).collect();
        let t = usize::from(t);
        match (name, t % 4) {
            ("service_date", 0..=2) => Arc::new(Date32Array::from_iter(
                e(&|x| match x % 2 {
                    0 => i128::from(19_000 + (x >> 1) % 2_000),
                    _ => pick(x >> 1, &days),
                })
                .into_iter()
                .map(|v| v.map(|v| v as i32)),
            )),
            ("allowed", 0..=2) => {
                let v = e(&|x| match x % 2 {
                    0 => i128::from((x >> 1) % 10_000_000),
                    _ => pick(x >> 1, &EDGE_CENTS),
                });
                let scale = (t / 4 % 5) as i8;
                match t % 3 {
                    0 => Arc::new(
                        Decimal128Array::from(v)
                            .with_precision_and_scale(38, scale)
                            .unwrap(),
                    ),
                    1 => Arc::new(
                        Decimal64Array::from_iter(v.into_iter().map(|v| v.map(|v| v as i64)))
                            .with_precision_and_scale(18, 2)
                            .unwrap(),
                    ),
                    _ => Arc::new(
                        Decimal32Array::from_iter(v.into_iter().map(|v| v.map(|v| v as i32)))
                            .with_precision_and_scale(9, 2)
                            .unwrap(),
                    ),
                }
            }
            ("line_number" | "adjustment", 0..=2) => {
                let v = e(&|x| pick(x, &[0, 1, 2, 3, -1, 4_294_967_295, 4_294_967_296]));
                match t / 4 % 5 {
                    0 => Arc::new(UInt32Array::from_iter(
                        v.into_iter().map(|v| v.map(|v| v as u32)),
                    )),
                    1 => Arc::new(Int32Array::from_iter(
                        v.into_iter().map(|v| v.map(|v| v as i32)),
                    )),
                    2 => Arc::new(Int64Array::from_iter(
                        v.into_iter().map(|v| v.map(|v| v as i64)),
                    )),
                    3 => Arc::new(Int8Array::from_iter(
                        v.into_iter().map(|v| v.map(|v| v as i8)),
                    )),
                    _ => Arc::new(UInt64Array::from_iter(
                        v.into_iter().map(|v| v.map(|v| v as u64)),
                    )),
                }
            }
            _ => match t % 5 {
                0 => Arc::new(StringArray::from(strs)),
                1 => Arc::new(BinaryArray::from_iter(bins)),
                2 => Arc::new(strs.into_iter().collect::<DictionaryArray<Int32Type>>()),
                3 => Arc::new(StringViewArray::from(strs)),
                _ => Arc::new(BinaryViewArray::from_iter(bins)),
            },
        }
    }

    fn rows() -> impl Strategy<Value = Vec<Column>> {
        (1usize..12).prop_flat_map(|n| prop::collection::vec(column(n), CLAIMS.len() - 1))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// A claims row read from its typed cells ([`Row`]) gives exactly what its text gives
        /// (the line, or the rejection and its reason), for cells of every type the layout takes
        /// and values over their whole range.
        #[test]
        fn typed_rows_read_as_their_text(columns in rows()) {
            let header: ::csv::StringRecord = CLAIMS.iter().collect();
            let cols = csv::ClaimColumns::new(&header).unwrap();
            let arrays: Vec<ArrayRef> = columns
                .iter()
                .zip(CLAIMS)
                .map(|((t, cells), name)| array(name, *t, cells))
                .collect();
            let mut cells: Vec<Option<Cells<'_>>> =
                arrays.iter().map(|a| Some(Cells::of(a.as_ref()))).collect();
            cells.push(None);
            let all_plain = cells.iter().flatten().all(Cells::all_plain);
            let (mut bytes, mut spans, mut dates) = (Vec::new(), Vec::new(), DateText::default());
            for i in 0..arrays[0].len() {
                bytes.clear();
                spans.clear();
                for c in &cells {
                    let start = bytes.len();
                    if let Some(c) = c {
                        c.render(i, &mut bytes, Some(&mut dates));
                    }
                    spans.push((start, bytes.len()));
                }
                let text = csv::parse_claim_npi(&Fields::new(&bytes, &spans), &cols);
                let plain = all_plain || cells.iter().flatten().all(|c| c.plain(i));
                let row = Row { columns: &cells, i, plain };
                let typed = csv::parse_claim_npi(&row, &cols);
                prop_assert_eq!(text, typed, "row {}", i);
            }
        }
    }

    /// Decimals are written as exact text: trailing zeros past cents dropped, nothing rounded.
    #[test]
    fn decimals_as_text() {
        let text = |v: i128, s: i8| {
            let mut out = Vec::new();
            decimal(v, s, &mut out);
            String::from_utf8(out).expect("utf-8")
        };
        assert_eq!(text(12_000, 2), "120.00");
        assert_eq!(text(-5, 2), "-0.05");
        assert_eq!(text(1_205_000, 4), "120.50");
        assert_eq!(text(1_205_001, 4), "120.5001");
        assert_eq!(text(120, 0), "120");
        assert_eq!(text(7, 1), "0.7");
        assert_eq!(
            text(i128::MAX, 38),
            "1.70141183460469231731687303715884105727"
        );
        // Cents past 2^64 take the 128-bit path: the same text.
        assert_eq!(text(-(1i128 << 70), 2), "-11805916207174113034.24");
        assert_eq!(
            text(i128::MIN, 2),
            "-1701411834604692317316873037158841057.28"
        );
    }

    /// The remembered date text is what `Date` writes, for any day number (blank where no date
    /// has it), whichever day number held the slot before.
    #[test]
    fn dates_as_text() {
        let mut t = DateText::default();
        let slots = DateText::SLOTS as i32;
        for day in [
            0,
            1,
            -1,
            19_723,
            19_723 + slots,
            19_723 - slots,
            2_932_896,
            2_932_897,
        ]
        .into_iter()
        .chain([-4_371_587, -4_371_588, i32::MAX, i32::MIN, i32::MIN + 1])
        .chain((19_000..21_000).step_by(7))
        {
            let want =
                acorn_domain::Date::from_day_number(day).map_or(String::new(), |d| d.to_string());
            for _ in 0..2 {
                assert_eq!(
                    std::str::from_utf8(t.get(day)),
                    Ok(want.as_str()),
                    "day {day}"
                );
            }
        }
    }
}
