//! The CSV layouts of `attribution-svc assign` (UTF-8, comma separated, a header row; columns may
//! come in any order; extra columns are ignored; a blank optional column is "not given").
//!
//! `participants.csv`: `aco_id,kind,id` with `kind` one of `tin`, `ccn`, `npi`.
//!
//! `beneficiaries.csv`: `beneficiary_id,months_part_a_and_b,months_part_a_or_b_only,
//! months_group_health_plan,us_resident,other_initiative` and optionally `months_part_a_only,
//! months_part_b_only` (the split of Part A-only and Part B-only months, when known),
//! `designated_npi,designated_tin,designated_specialty,prior_year_aco_id`. Months are 0-12 (a
//! blank optional month column is 0); booleans are `true`/`false`, `1`/`0` or `Y`/`N`.
//!
//! `claims.csv`: `beneficiary_id,service_date,hcpcs,allowed` and optionally `claim_id,line_number,
//! revenue_center,place_of_service,claim_type,tin,ccn,npi,specialty,adjustment`. Lines with a
//! `claim_id` are versions of their claim line (`claim_id` + `line_number`, blank = 0): a
//! cancellation or adjustment applies to its own claim line ([`attribution_rules::versions`]). Dates are
//! `YYYY-MM-DD`; `allowed` is dollars with at most two decimals; `claim_type` is `professional`
//! (default), `fqhc`, `rhc`, `cah_method_ii` or `other_institutional`; `adjustment` is `original`
//! (default), `adjustment` or `cancellation` (or the CCLF codes `0`, `1`, `2`).
//!
//! A malformed row is rejected with file, line and reason (values are not quoted in the reason:
//! rows carry beneficiary identifiers), counted, and reading goes on.

use std::io::Read;

use attribution_rules::input::{RawBeneficiary, RawLine, parse_cents};
use attribution_rules::{AcoSpec, ClaimType, Date, Enrollment, Version};

/// A rejected row or line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// File label.
    pub file: String,
    /// 1-based line number.
    pub line: u64,
    /// Why (field names, never values).
    pub reason: String,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

/// What reading a file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Records accepted.
    pub records: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// The first rejections (at most [`Report::KEEP`] unless [`Report::keeping`] says otherwise).
    pub rejections: Vec<Rejected>,
    /// Claim lines without a specialty that the clinician table ([`Clinicians`]) gave one.
    pub specialties_resolved: u64,
    keep: usize,
}

impl Default for Report {
    fn default() -> Report {
        Report::keeping(Report::KEEP)
    }
}

impl Report {
    /// How many rejections are kept with their reason by default.
    pub const KEEP: usize = 1000;

    /// An empty report that keeps the first `keep` rejections with their reason.
    pub fn keeping(keep: usize) -> Report {
        Report {
            records: 0,
            rejected: 0,
            rejections: Vec::new(),
            specialties_resolved: 0,
            keep,
        }
    }

    /// Records a rejection.
    pub fn reject(&mut self, file: &str, line: u64, reason: impl Into<String>) {
        self.rejected += 1;
        if self.rejections.len() < self.keep {
            self.rejections.push(Rejected {
                file: file.to_string(),
                line,
                reason: redact(&reason.into()),
            });
        }
    }

    /// Adds another report.
    pub fn merge(&mut self, o: Report) {
        self.records += o.records;
        self.rejected += o.rejected;
        self.specialties_resolved += o.specialties_resolved;
        let room = self.keep.saturating_sub(self.rejections.len());
        self.rejections.extend(o.rejections.into_iter().take(room));
    }
}

/// Replaces quoted text in a reason with `...` so no field value (an identifier) is echoed.
pub fn redact(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut quoted = false;
    for c in reason.chars() {
        if c == '"' {
            if !quoted {
                out.push_str("\"...\"");
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

/// One record's fields, sliced in place: a line of a block split at its commas (no quote in the
/// block), or the buffer of a `csv::ByteRecord` (quoted fields). Nothing is copied.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a, 's> {
    bytes: &'a [u8],
    /// The bytes as text, when they are UTF-8 (checked once per record).
    text: Option<&'a str>,
    spans: &'s [(usize, usize)],
    /// Every byte is printable ASCII (0x20-0x7e): UTF-8 without a control character.
    plain: bool,
}

/// The reusable buffers of [`each_record`] and [`csv_records`].
#[derive(Debug, Default)]
pub struct Spans {
    spans: Vec<(usize, usize)>,
    rec: csv::ByteRecord,
}

impl<'a, 's> Fields<'a, 's> {
    /// The record of `bytes` whose fields are at `spans` (byte ranges of `bytes`).
    pub fn new(bytes: &'a [u8], spans: &'s [(usize, usize)]) -> Fields<'a, 's> {
        let plain = printable(bytes);
        Fields::with(bytes, spans, plain)
    }

    /// `plain`: whether every byte is printable ASCII.
    fn with(bytes: &'a [u8], spans: &'s [(usize, usize)], plain: bool) -> Fields<'a, 's> {
        Fields {
            bytes,
            text: std::str::from_utf8(bytes).ok(),
            spans,
            plain,
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the record has no field (never: a record has at least one).
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Field `i`'s bytes.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        let &(a, b) = self.spans.get(i)?;
        self.bytes.get(a..b)
    }

    /// Field `i` as text (`None` when absent or not UTF-8).
    #[inline]
    fn str(&self, i: usize) -> Option<&'a str> {
        let &(a, b) = self.spans.get(i)?;
        match self.text {
            Some(t) => t.get(a..b),
            None => std::str::from_utf8(self.bytes.get(a..b)?).ok(),
        }
    }

    /// A field as trimmed text ("" when absent or not UTF-8: [`Fields::check`] rejects the latter).
    #[inline]
    pub fn text(&self, i: Option<usize>) -> &'a str {
        i.and_then(|i| self.str(i)).map_or("", trimmed)
    }

    /// The record has the header's width and is UTF-8 (as a `csv::StringRecord` would be).
    fn check(&self, width: usize) -> Result<(), String> {
        if self.len() != width {
            return Err(format!(
                "malformed row: {} fields where the header has {width}",
                self.len()
            ));
        }
        if !self.plain && !self.bytes.is_ascii() && (0..self.len()).any(|i| self.str(i).is_none()) {
            return Err("malformed row: not UTF-8".into());
        }
        Ok(())
    }

    /// Whether any byte could start a control character (most records have none: their fields
    /// need no check one by one).
    fn may_have_control(&self) -> bool {
        !self.plain
    }
}

/// Whether every byte is printable ASCII (0x20-0x7e), checked 64 bytes at a time (a loop the
/// compiler vectorizes).
pub fn printable(bytes: &[u8]) -> bool {
    let ok = |b: &[u8]| {
        b.iter()
            .fold(true, |ok, &c| ok & (c.wrapping_sub(0x20) < 0x5f))
    };
    let mut chunks = bytes.chunks_exact(64);
    chunks.all(ok) && ok(chunks.remainder())
}

/// A field's text as the layouts read it: without surrounding white space.
#[inline]
pub fn trimmed(t: &str) -> &str {
    // Most fields start and end with a printable ASCII character: nothing to trim.
    match (t.as_bytes().first(), t.as_bytes().last()) {
        (Some(&f), Some(&l)) if (0x21..0x7f).contains(&f) && (0x21..0x7f).contains(&l) => t,
        _ => t.trim(),
    }
}

/// A record as the claims layout's parser ([`parse_claim_npi`]) reads it: the [`Fields`] of a CSV
/// line, or a row of a Parquet file (`crate::parquet::Row`), whose typed cells (a DATE, a DECIMAL,
/// an integer) give their value without a round trip through text. Each typed value is the one
/// the cell's text would give (the defaults parse the text): the rules of what is valid live in
/// the text parsers and in [`parse_claim_npi`], once.
pub trait Record<'r> {
    /// The record has the header's width (`width`) and is UTF-8, or why not.
    fn check(&self, width: usize) -> Result<(), String>;
    /// Field `i` as trimmed text ("" when absent); only text columns are read this way.
    fn text(&self, i: Option<usize>) -> &'r str;
    /// Whether any field could hold a control character (most records: none).
    fn may_have_control(&self) -> bool;
    /// Field `i` as a service date ([`Date::parse_iso_in_years`]).
    fn date(&self, i: usize) -> Option<Date> {
        Date::parse_iso_in_years(self.text(Some(i)))
    }
    /// Field `i` as cents ([`parse_cents`]).
    fn cents(&self, i: usize) -> Result<i64, &'static str> {
        parse_cents(self.text(Some(i)))
    }
    /// Field `i` as a line number ([`line_number`]).
    fn line_number(&self, i: Option<usize>) -> Option<u32> {
        line_number(self.text(i))
    }
    /// Field `i` as a claim version ([`version`]).
    fn version(&self, i: Option<usize>) -> Option<Version> {
        version(self.text(i))
    }
}

impl<'a> Record<'a> for Fields<'a, '_> {
    fn check(&self, width: usize) -> Result<(), String> {
        Fields::check(self, width)
    }
    #[inline]
    fn text(&self, i: Option<usize>) -> &'a str {
        Fields::text(self, i)
    }
    fn may_have_control(&self) -> bool {
        Fields::may_have_control(self)
    }
}

/// Calls `each(line, record)` for every record of `bytes` (whole records, no header row), `line`
/// counting from 1 at the start of `bytes`; a record the CSV parser cannot read comes as its
/// rejection reason. Without a quote character or a lone carriage return the lines are split at
/// their commas in place (what the `csv` crate reads there: line breaks `\n` or `\r\n`, blank
/// lines skipped); otherwise the `csv` crate reads the block.
pub fn each_record(
    bytes: &[u8],
    spans: &mut Spans,
    mut each: impl FnMut(u64, Result<Fields<'_, '_>, String>),
) {
    if !simple(bytes) {
        csv_records(&mut block_reader(bytes), spans, each);
        return;
    }
    simple_records(bytes, &mut spans.spans, |line, rec| each(line, Ok(rec)));
}

/// Whether a block needs no CSV parser: no quote character, no lone carriage return.
fn simple(bytes: &[u8]) -> bool {
    memchr::memchr(b'"', bytes).is_none()
        && memchr::memchr_iter(b'\r', bytes).all(|i| bytes.get(i + 1) == Some(&b'\n'))
}

/// [`each_record`] of a [`simple`] block: its lines split at their commas in place (what the
/// `csv` crate reads there: line breaks `\n` or `\r\n`, blank lines skipped), each field
/// borrowing the block.
fn simple_records<'b>(
    bytes: &'b [u8],
    spans: &mut Vec<(usize, usize)>,
    mut each: impl FnMut(u64, Fields<'b, '_>),
) {
    let (mut start, mut line_no) = (0, 0u64);
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        let line = &bytes[start..end];
        start = end + 1;
        line_no += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let plain = split_commas(line, spans);
        each(line_no, Fields::with(line, spans, plain));
    }
}

/// The fields of an unquoted line: the spans between its commas, and whether every byte is
/// printable ASCII (0x20-0x7e). Eight bytes at a time: per byte, `(b & 0x7f) + c` carries into
/// the byte's high bit exactly when `b & 0x7f >= 0x80 - c`, and never into the next byte.
fn split_commas(line: &[u8], spans: &mut Vec<(usize, usize)>) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    const LOW: u64 = !HIGH;
    spans.clear();
    let (mut from, mut odd) = (0, 0u64);
    let mut words = line.chunks_exact(8);
    for (n, w) in (&mut words).enumerate() {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        let w = u64::from_le_bytes(a);
        // Bytes below 0x20, 0x7f or 0x80 and above.
        odd |= (!((w & LOW) + ONES * 0x60) & !w & HIGH) | (((w & LOW) + ONES) & HIGH) | (w & HIGH);
        // Commas: the zero bytes of `w ^ ",,,,,,,,"`.
        let x = w ^ (ONES * u64::from(b','));
        let mut commas = !(((x & LOW) + LOW) | x) & HIGH;
        while commas != 0 {
            let i = n * 8 + (commas.trailing_zeros() / 8) as usize;
            spans.push((from, i));
            from = i + 1;
            commas &= commas - 1;
        }
    }
    let tail = line.len() - words.remainder().len();
    for (i, &b) in words.remainder().iter().enumerate() {
        if b == b',' {
            spans.push((from, tail + i));
            from = tail + i + 1;
        }
        if !(0x20..0x7f).contains(&b) {
            odd = 1;
        }
    }
    spans.push((from, line.len()));
    odd == 0
}

/// Calls `each(line, record)` for every record `rdr` reads (see [`each_record`]); an I/O error is
/// reported once and ends the reading.
pub fn csv_records<R: Read>(
    rdr: &mut csv::Reader<R>,
    spans: &mut Spans,
    mut each: impl FnMut(u64, Result<Fields<'_, '_>, String>),
) {
    let Spans { spans, rec } = spans;
    loop {
        let line = rdr.position().line() + 1;
        match rdr.read_byte_record(rec) {
            Ok(false) => break,
            Ok(true) => {
                let line = rec.position().map_or(line, |p| p.line());
                spans.clear();
                spans.extend(
                    (0..rec.len())
                        .filter_map(|i| rec.range(i))
                        .map(|r| (r.start, r.end)),
                );
                each(line, Ok(Fields::new(rec.as_slice(), spans)));
            }
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                let io = matches!(e.kind(), csv::ErrorKind::Io(_));
                each(line, Err(format!("malformed row: {}", csv_error(&e))));
                if io {
                    break;
                }
            }
        }
    }
}

struct Columns(Vec<(String, usize)>);

impl Columns {
    fn new(headers: &csv::StringRecord) -> Columns {
        Columns(
            headers
                .iter()
                .enumerate()
                .map(|(i, h)| (h.trim().to_ascii_lowercase(), i))
                .collect(),
        )
    }
    fn index(&self, name: &str) -> Option<usize> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, i)| *i)
    }
    fn require(&self, names: &[&str]) -> Result<(), String> {
        let missing: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| self.index(n).is_none())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("missing column(s): {}", missing.join(", ")))
        }
    }
}

fn get<'r>(rec: &Fields<'r, '_>, cols: &Columns, name: &str) -> &'r str {
    rec.text(cols.index(name))
}

/// Rejects a row whose `names` columns hold a control character (NUL, tab, newline, DEL, C1 ...),
/// as the gRPC upload does: no identifier or code has one, and they corrupt logs, CSV output and
/// terminals. The reason names the column, never the value (identifiers are health information).
fn no_control(rec: &Fields<'_, '_>, cols: &Columns, names: &[&str]) -> Result<(), String> {
    match names.iter().find(|name| has_control(get(rec, cols, name))) {
        Some(name) => Err(format!("{name}: must not contain control characters")),
        None => Ok(()),
    }
}

/// The text columns of `beneficiaries.csv` checked for control characters.
const BENEFICIARY_TEXT: &[&str] = &[
    "beneficiary_id",
    "designated_npi",
    "designated_tin",
    "designated_specialty",
    "prior_year_aco_id",
];

/// A table of one of the layouts: a header row, then records (a CSV file, [`CsvTable`], or a
/// Parquet file's rows as the text of their CSV fields, `crate::parquet::Table`).
pub trait Table {
    /// The header row (the column names), or why it cannot be read.
    fn header(&mut self) -> Result<csv::StringRecord, String>;
    /// Where a problem with the header is reported: line 1 of a CSV file, row 0 of a Parquet
    /// file (its schema).
    fn header_line(&self) -> u64 {
        1
    }
    /// Calls `each` with every record after the header: its line (a Parquet file: its row, from
    /// 1) and its fields, or why it cannot be read.
    fn records(self, each: &mut dyn FnMut(u64, Result<Fields<'_, '_>, String>));
}

/// A CSV file as a [`Table`].
#[derive(Debug)]
pub struct CsvTable<R>(csv::Reader<R>);

impl<R: Read> CsvTable<R> {
    /// The CSV text `r`.
    pub fn new(r: R) -> CsvTable<R> {
        CsvTable(block_reader(r))
    }
}

impl<R: Read> Table for CsvTable<R> {
    fn header(&mut self) -> Result<csv::StringRecord, String> {
        let mut header = csv::StringRecord::new();
        match self.0.read_record(&mut header) {
            Ok(_) => Ok(header),
            Err(e) => Err(format!("unreadable header: {e}")),
        }
    }
    fn records(mut self, each: &mut dyn FnMut(u64, Result<Fields<'_, '_>, String>)) {
        csv_records(&mut self.0, &mut Spans::default(), each);
    }
}

/// Reads each row of `t`, calling `row` (which returns a rejection reason or `Ok`) with the rows of
/// the header's width.
fn rows(
    mut t: impl Table,
    file: &str,
    required: &[&str],
    mut row: impl FnMut(&Fields<'_, '_>, &Columns) -> Result<(), String>,
) -> Report {
    let mut report = Report::default();
    let at = t.header_line();
    let (cols, width) = match t.header() {
        Ok(h) => (Columns::new(&h), h.len()),
        Err(why) => {
            report.reject(file, at, why);
            return report;
        }
    };
    if let Err(why) = cols.require(required) {
        report.reject(file, at, why);
        return report;
    }
    t.records(&mut |line, rec| match rec
        .and_then(|rec| rec.check(width).and_then(|()| row(&rec, &cols)))
    {
        Ok(()) => report.records += 1,
        Err(why) => report.reject(file, line, why),
    });
    report
}

fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("{len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not UTF-8".into(),
        csv::ErrorKind::Io(io) => format!("read error: {io}"),
        _ => "unreadable".into(),
    }
}

/// Reads `participants.csv`.
pub fn read_participants<R: Read>(r: R, file: &str) -> (Vec<AcoSpec>, Report) {
    participants(CsvTable::new(r), file)
}

/// Reads a participant table (`aco_id,kind,id`).
pub fn participants(t: impl Table, file: &str) -> (Vec<AcoSpec>, Report) {
    let mut acos: Vec<AcoSpec> = Vec::new();
    let mut index: attribution_rules::FastMap<String, usize> = Default::default();
    let report = rows(t, file, &["aco_id", "kind", "id"], |rec, cols| {
        no_control(rec, cols, &["aco_id", "kind", "id"])?;
        let aco = get(rec, cols, "aco_id");
        let id = get(rec, cols, "id");
        if aco.is_empty() || aco.len() > 64 {
            return Err("aco_id: must be 1-64 characters".into());
        }
        if id.is_empty() || id.len() > 32 {
            return Err("id: must be 1-32 characters".into());
        }
        let i = match index.get(aco) {
            Some(&i) => i,
            None => {
                acos.push(AcoSpec {
                    id: aco.to_string(),
                    ..AcoSpec::default()
                });
                index.insert(aco.to_string(), acos.len() - 1);
                acos.len() - 1
            }
        };
        let kind = get(rec, cols, "kind");
        let is = |k: &str| kind.eq_ignore_ascii_case(k);
        let list = if is("tin") {
            &mut acos[i].tins
        } else if is("ccn") {
            &mut acos[i].ccns
        } else if is("npi") {
            &mut acos[i].npis
        } else {
            // The ACO is listed (as it always was) even when this row is rejected.
            return Err("kind: must be tin, ccn or npi".into());
        };
        list.push(id.to_string());
        Ok(())
    });
    (acos, report)
}

/// The columns of `beneficiaries.csv`, resolved from its header once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeneficiaryColumns {
    width: usize,
    id: usize,
    months_a_and_b: usize,
    months_a_or_b_only: usize,
    months_a_only: Option<usize>,
    months_b_only: Option<usize>,
    months_group_health_plan: usize,
    us_resident: usize,
    other_initiative: usize,
    designated_npi: Option<usize>,
    designated_tin: Option<usize>,
    designated_specialty: Option<usize>,
    prior_year_aco_id: Option<usize>,
}

impl BeneficiaryColumns {
    /// The columns of a header row, or the missing required column(s).
    pub fn new(header: &csv::StringRecord) -> Result<BeneficiaryColumns, String> {
        let cols = Columns::new(header);
        cols.require(&[
            "beneficiary_id",
            "months_part_a_and_b",
            "months_part_a_or_b_only",
            "months_group_health_plan",
            "us_resident",
            "other_initiative",
        ])?;
        let req = |n: &str| cols.index(n).unwrap_or(0);
        Ok(BeneficiaryColumns {
            width: header.len(),
            id: req("beneficiary_id"),
            months_a_and_b: req("months_part_a_and_b"),
            months_a_or_b_only: req("months_part_a_or_b_only"),
            months_a_only: cols.index("months_part_a_only"),
            months_b_only: cols.index("months_part_b_only"),
            months_group_health_plan: req("months_group_health_plan"),
            us_resident: req("us_resident"),
            other_initiative: req("other_initiative"),
            designated_npi: cols.index("designated_npi"),
            designated_tin: cols.index("designated_tin"),
            designated_specialty: cols.index("designated_specialty"),
            prior_year_aco_id: cols.index("prior_year_aco_id"),
        })
    }
}

fn months(rec: &Fields<'_, '_>, i: usize, name: &str) -> Result<u32, String> {
    match rec.text(Some(i)).parse::<u32>() {
        Ok(m) if m <= 12 => Ok(m),
        _ => Err(format!("{name}: must be a whole number of months, 0-12")),
    }
}

fn optional_months(rec: &Fields<'_, '_>, i: Option<usize>, name: &str) -> Result<u32, String> {
    match i {
        Some(i) if !rec.text(Some(i)).is_empty() => months(rec, i, name),
        _ => Ok(0),
    }
}

fn boolean(rec: &Fields<'_, '_>, i: usize, name: &str) -> Result<bool, String> {
    let v = rec.text(Some(i));
    let is = |s: &str| v.eq_ignore_ascii_case(s);
    if is("true") || is("1") || is("y") || is("yes") {
        Ok(true)
    } else if is("false") || is("0") || is("n") || is("no") {
        Ok(false)
    } else {
        Err(format!("{name}: must be true or false"))
    }
}

/// Parses one `beneficiaries.csv` record: the record or why it is rejected (column names, never
/// values). No allocation unless it is rejected.
pub fn parse_beneficiary<'r>(
    rec: &Fields<'r, '_>,
    c: &BeneficiaryColumns,
) -> Result<RawBeneficiary<'r>, String> {
    rec.check(c.width)?;
    let id = rec.text(Some(c.id));
    let designated_npi = rec.text(c.designated_npi);
    let designated_tin = rec.text(c.designated_tin);
    let designated_specialty = rec.text(c.designated_specialty);
    let prior_year_aco_id = rec.text(c.prior_year_aco_id);
    if rec.may_have_control() {
        // The order of BENEFICIARY_TEXT: the first column with a control character is named.
        for (name, v) in BENEFICIARY_TEXT.iter().zip([
            id,
            designated_npi,
            designated_tin,
            designated_specialty,
            prior_year_aco_id,
        ]) {
            if has_control(v) {
                return Err(format!("{name}: must not contain control characters"));
            }
        }
    }
    if id.is_empty() || id.len() > 64 {
        return Err("beneficiary_id: must be 1-64 characters".into());
    }
    let enrollment = Enrollment {
        months_a_and_b: months(rec, c.months_a_and_b, "months_part_a_and_b")?,
        months_a_or_b_only: months(rec, c.months_a_or_b_only, "months_part_a_or_b_only")?,
        months_a_only: optional_months(rec, c.months_a_only, "months_part_a_only")?,
        months_b_only: optional_months(rec, c.months_b_only, "months_part_b_only")?,
        months_group_health_plan: months(
            rec,
            c.months_group_health_plan,
            "months_group_health_plan",
        )?,
        us_resident: boolean(rec, c.us_resident, "us_resident")?,
        other_initiative: boolean(rec, c.other_initiative, "other_initiative")?,
    };
    Ok(RawBeneficiary {
        id,
        enrollment,
        designated_npi,
        designated_tin,
        designated_specialty,
        prior_year_aco_id,
    })
}

/// Reads `beneficiaries.csv`, calling `each` with every valid record (one thread; `files` reads
/// large files in parallel blocks with the same parser).
pub fn read_beneficiaries<R: Read>(
    r: R,
    file: &str,
    mut each: impl FnMut(&RawBeneficiary<'_>),
) -> Report {
    let mut report = Report::default();
    let (header, mut rdr) = header(r);
    match header.and_then(|h| BeneficiaryColumns::new(&h)) {
        Ok(cols) => csv_records(&mut rdr, &mut Spans::default(), |line, rec| {
            beneficiary_record(line, rec, &cols, file, &mut report, &mut each)
        }),
        Err(why) => report.reject(file, 1, why),
    }
    report
}

/// A clinician table: NPI -> CMS specialty code (`clinicians.csv`: `npi,specialty`), the way
/// ACOs keep their rosters. Claim lines that carry no specialty (CCLF1/CCLF2 institutional
/// lines, any line with a blank `specialty`) take their clinician's from it.
#[derive(Debug, Clone, Default)]
pub struct Clinicians {
    by_npi: attribution_rules::FastMap<Box<str>, Box<str>>,
}

impl Clinicians {
    /// Number of clinicians.
    pub fn len(&self) -> usize {
        self.by_npi.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.by_npi.is_empty()
    }

    /// Adds another table's clinicians (its rows win).
    pub fn by_npi_extend(&mut self, o: Clinicians) {
        self.by_npi.extend(o.by_npi);
    }

    /// Adds (or replaces: the last row wins) a clinician.
    pub fn insert(&mut self, npi: &str, specialty: &str) {
        self.by_npi.insert(npi.into(), specialty.into());
    }

    /// The specialty of a line: its own, else its clinician's (`resolved` counts the latter).
    pub fn specialty<'a>(&'a self, own: &'a str, npi: &str, resolved: &mut u64) -> &'a str {
        if !own.is_empty() || npi.is_empty() {
            return own;
        }
        match self.by_npi.get(npi) {
            Some(s) => {
                *resolved += 1;
                s
            }
            None => own,
        }
    }
}

/// Reads `clinicians.csv` (`npi,specialty`: a 10-digit NPI and a 2-character CMS specialty code).
pub fn read_clinicians<R: Read>(r: R, file: &str) -> (Clinicians, Report) {
    clinicians(CsvTable::new(r), file)
}

/// Reads a clinician table (`npi,specialty`, as [`read_clinicians`]).
pub fn clinicians(table: impl Table, file: &str) -> (Clinicians, Report) {
    let mut t = Clinicians::default();
    let report = rows(table, file, &["npi", "specialty"], |rec, cols| {
        no_control(rec, cols, &["npi", "specialty"])?;
        let npi = get(rec, cols, "npi");
        let spec = get(rec, cols, "specialty");
        if npi.len() != 10 || !npi.bytes().all(|b| b.is_ascii_digit()) {
            return Err("npi: must be 10 digits".into());
        }
        if spec.is_empty() || spec.len() > 2 {
            return Err("specialty: must be a CMS specialty code such as 01 or 50".into());
        }
        t.insert(npi, spec);
        Ok(())
    });
    (t, report)
}

/// Parses a claim type name (ASCII case-insensitive).
pub fn claim_type(s: &str) -> Option<ClaimType> {
    let is = |name: &str| s == name || s.eq_ignore_ascii_case(name);
    Some(if s.is_empty() || is("professional") {
        ClaimType::Professional
    } else if is("fqhc") {
        ClaimType::Fqhc
    } else if is("rhc") {
        ClaimType::Rhc
    } else if is("cah_method_ii") {
        ClaimType::CahMethodII
    } else if is("other_institutional") {
        ClaimType::OtherInstitutional
    } else {
        return None;
    })
}

/// Parses a claim version name or CCLF code (ASCII case-insensitive).
pub fn version(s: &str) -> Option<Version> {
    let is = |name: &str| s == name || s.eq_ignore_ascii_case(name);
    Some(if s.is_empty() || s == "0" || is("original") {
        Version::Original
    } else if s == "1" || is("cancellation") {
        Version::Cancellation
    } else if s == "2" || is("adjustment") {
        Version::Adjustment
    } else {
        return None;
    })
}

/// Parses a claim line number: blank is 0, otherwise a whole number 0-4294967295.
pub fn line_number(s: &str) -> Option<u32> {
    match s {
        "" => Some(0),
        n => n.parse().ok(),
    }
}

/// The columns of `claims.csv`, resolved from its header once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimColumns {
    width: usize,
    beneficiary_id: usize,
    service_date: usize,
    hcpcs: usize,
    allowed: usize,
    claim_id: Option<usize>,
    line_number: Option<usize>,
    revenue_center: Option<usize>,
    place_of_service: Option<usize>,
    claim_type: Option<usize>,
    tin: Option<usize>,
    ccn: Option<usize>,
    npi: Option<usize>,
    specialty: Option<usize>,
    /// The `adjustment` column, when there is one.
    pub adjustment: Option<usize>,
}

impl ClaimColumns {
    /// The `beneficiary_id` column and the header's width (what a file grouped by beneficiary
    /// is cut by, [`super::blocks::Blocks::group_by`]).
    pub fn beneficiary_column(&self) -> (usize, usize) {
        (self.beneficiary_id, self.width)
    }

    /// The columns of a header row, or the missing required column(s).
    pub fn new(header: &csv::StringRecord) -> Result<ClaimColumns, String> {
        let cols = Columns::new(header);
        cols.require(&["beneficiary_id", "service_date", "hcpcs", "allowed"])?;
        let req = |n: &str| cols.index(n).unwrap_or(0);
        Ok(ClaimColumns {
            width: header.len(),
            beneficiary_id: req("beneficiary_id"),
            service_date: req("service_date"),
            hcpcs: req("hcpcs"),
            allowed: req("allowed"),
            claim_id: cols.index("claim_id"),
            line_number: cols.index("line_number"),
            revenue_center: cols.index("revenue_center"),
            place_of_service: cols.index("place_of_service"),
            claim_type: cols.index("claim_type"),
            tin: cols.index("tin"),
            ccn: cols.index("ccn"),
            npi: cols.index("npi"),
            specialty: cols.index("specialty"),
            adjustment: cols.index("adjustment"),
        })
    }
}

/// Whether `s` holds a control character (`char::is_control`), ASCII checked byte by byte.
fn has_control(s: &str) -> bool {
    s.bytes().any(|b| b < 0x20 || b == 0x7f) || (!s.is_ascii() && s.chars().any(char::is_control))
}

/// Parses one `claims.csv` record (a row of the header's width): the line or why it is rejected
/// (column names, never values). No allocation unless it is rejected.
pub fn parse_claim<'r>(rec: &impl Record<'r>, c: &ClaimColumns) -> Result<RawLine<'r>, String> {
    parse_claim_npi(rec, c).map(|(l, _)| l)
}

/// [`parse_claim`], with the line's `npi`.
pub fn parse_claim_npi<'r>(
    rec: &impl Record<'r>,
    c: &ClaimColumns,
) -> Result<(RawLine<'r>, &'r str), String> {
    rec.check(c.width)?;
    let bene = rec.text(Some(c.beneficiary_id));
    let claim_id = rec.text(c.claim_id);
    let hcpcs = rec.text(Some(c.hcpcs));
    let revenue_center = rec.text(c.revenue_center);
    let place_of_service = rec.text(c.place_of_service);
    let tin = rec.text(c.tin);
    let ccn = rec.text(c.ccn);
    let specialty = rec.text(c.specialty);
    let npi = rec.text(c.npi);
    if rec.may_have_control() {
        // The order of CLAIM_TEXT: the first column with a control character is the one named.
        for (name, v) in [
            ("beneficiary_id", bene),
            ("claim_id", claim_id),
            ("hcpcs", hcpcs),
            ("revenue_center", revenue_center),
            ("place_of_service", place_of_service),
            ("tin", tin),
            ("ccn", ccn),
            ("npi", npi),
            ("specialty", specialty),
        ] {
            if has_control(v) {
                return Err(format!("{name}: must not contain control characters"));
            }
        }
    }
    if bene.is_empty() || bene.len() > 64 {
        return Err("beneficiary_id: must be 1-64 characters".into());
    }
    let day = rec
        .date(c.service_date)
        .ok_or("service_date: must be a valid date, YYYY-MM-DD")?;
    let allowed = rec
        .cents(c.allowed)
        .map_err(|why| format!("allowed: {why}"))?;
    let claim_type = claim_type(rec.text(c.claim_type)).ok_or(
        "claim_type: must be professional, fqhc, rhc, cah_method_ii or other_institutional",
    )?;
    let version = rec
        .version(c.adjustment)
        .ok_or("adjustment: must be original, adjustment or cancellation")?;
    if claim_id.len() > 64 {
        return Err("claim_id: must be at most 64 characters".into());
    }
    let line_number = rec
        .line_number(c.line_number)
        .ok_or("line_number: must be a whole number, 0-4294967295")?;
    match claim_type {
        ClaimType::Professional if tin.is_empty() => {
            return Err("tin: is required on a professional line".into());
        }
        ClaimType::Fqhc | ClaimType::Rhc | ClaimType::CahMethodII if ccn.is_empty() => {
            return Err("ccn: is required on an FQHC, RHC or CAH line".into());
        }
        _ => {}
    }
    Ok((
        RawLine {
            beneficiary_id: bene,
            day,
            hcpcs,
            revenue_center,
            place_of_service,
            claim_type,
            tin,
            ccn,
            specialty,
            allowed_cents: allowed,
            version,
            claim_id,
            line_number,
        },
        npi,
    ))
}

/// Parses one claim record into `each` (its specialty from `clinicians` when it has none) or
/// rejects it at `line`.
pub fn claim_record<'r>(
    line: u64,
    rec: Result<impl Record<'r>, String>,
    cols: &ClaimColumns,
    file: &str,
    report: &mut Report,
    clinicians: Option<&'r Clinicians>,
    each: &mut impl FnMut(&RawLine<'r>),
) {
    match rec.and_then(|rec| parse_claim_npi(&rec, cols)) {
        Ok((l, npi)) => {
            match clinicians {
                Some(t) => each(&RawLine {
                    specialty: t.specialty(l.specialty, npi, &mut report.specialties_resolved),
                    ..l
                }),
                None => each(&l),
            }
            report.records += 1;
        }
        Err(why) => report.reject(file, line, why),
    }
}

/// Reads a block of `claims.csv` records (whole records after the header, [`each_record`]),
/// calling `each` with every valid line; rejections are reported at their line plus
/// `line_offset`.
pub fn claim_block(
    bytes: &[u8],
    cols: &ClaimColumns,
    file: &str,
    line_offset: u64,
    report: &mut Report,
    clinicians: Option<&Clinicians>,
    mut each: impl FnMut(&RawLine<'_>),
) {
    each_record(bytes, &mut Spans::default(), |line, rec| {
        claim_record(
            line + line_offset,
            rec,
            cols,
            file,
            report,
            clinicians,
            &mut each,
        )
    });
}

/// [`claim_block`] into `out` (the lines borrow the block) when the block is [`simple`];
/// otherwise `false`, and nothing read.
pub fn claim_lines<'b>(
    bytes: &'b [u8],
    cols: &ClaimColumns,
    file: &str,
    line_offset: u64,
    report: &mut Report,
    clinicians: Option<&'b Clinicians>,
    out: &mut Vec<RawLine<'b>>,
) -> bool {
    if !simple(bytes) {
        return false;
    }
    let mut each = |l: &RawLine<'b>| out.push(*l);
    simple_records(bytes, &mut Vec::new(), |line, rec| {
        claim_record(
            line + line_offset,
            Ok(rec),
            cols,
            file,
            report,
            clinicians,
            &mut each,
        )
    });
    true
}

/// Reads a block of `beneficiaries.csv` records (as [`claim_block`]).
pub fn beneficiary_block(
    bytes: &[u8],
    cols: &BeneficiaryColumns,
    file: &str,
    line_offset: u64,
    report: &mut Report,
    mut each: impl FnMut(&RawBeneficiary<'_>),
) {
    each_record(bytes, &mut Spans::default(), |line, rec| {
        beneficiary_record(line + line_offset, rec, cols, file, report, &mut each)
    });
}

/// Parses one beneficiary record into `each` or rejects it at `line`.
pub fn beneficiary_record(
    line: u64,
    rec: Result<Fields<'_, '_>, String>,
    cols: &BeneficiaryColumns,
    file: &str,
    report: &mut Report,
    each: &mut impl FnMut(&RawBeneficiary<'_>),
) {
    match rec.and_then(|rec| parse_beneficiary(&rec, cols)) {
        Ok(b) => {
            each(&b);
            report.records += 1;
        }
        Err(why) => report.reject(file, line, why),
    }
}

/// The first pass over a block of `claims.csv` records (after the header): calls `each` with
/// every valid line that is a cancellation or an adjustment with a claim id (what a prescan
/// needs), and nothing else. A block without a quote character or a lone carriage return is
/// scanned line by line and only lines whose `adjustment` is not an original are parsed; any
/// other block is parsed whole. A file without an `adjustment` column has only originals.
pub fn prescan_block(bytes: &[u8], cols: &ClaimColumns, mut each: impl FnMut(&RawLine<'_>)) {
    let Some(k) = cols.adjustment else { return };
    let mut wanted = |l: &RawLine<'_>| {
        if prescanned(l) {
            each(l);
        }
    };
    let simple = memchr::memchr(b'"', bytes).is_none()
        && memchr::memchr_iter(b'\r', bytes).all(|i| bytes.get(i + 1) == Some(&b'\n'));
    if !simple {
        claim_block(bytes, cols, "", 0, &mut Report::default(), None, wanted);
        return;
    }
    let mut spans = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        let line = &bytes[start..end];
        start = end + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let original = super::blocks::nth_field(line, k, cols.width)
            .and_then(|f| std::str::from_utf8(f).ok())
            .is_some_and(|v| version(v.trim()) == Some(Version::Original));
        if original {
            continue;
        }
        let plain = split_commas(line, &mut spans);
        let rec = Fields::with(line, &spans, plain);
        if let Ok(l) = parse_claim(&rec, cols) {
            wanted(&l);
        }
    }
}

/// Whether the prescan notes `l`: a cancellation or adjustment of a claim line with a claim id.
pub fn prescanned(l: &RawLine<'_>) -> bool {
    l.version != Version::Original && !l.claim_id.is_empty()
}

/// A reader of CSV records without a header row (a block of a file), each record read
/// whatever its width (the width is checked against the file's header).
pub fn block_reader<R: Read>(r: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(r)
}

/// Reads the header row of a CSV file: the row (or why it cannot be read) and the reader after
/// it.
pub fn header<R: Read>(r: R) -> (Result<csv::StringRecord, String>, csv::Reader<R>) {
    let mut rdr = block_reader(r);
    let mut header = csv::StringRecord::new();
    let h = match rdr.read_record(&mut header) {
        Ok(_) => Ok(header),
        Err(e) => Err(format!("unreadable header: {e}")),
    };
    (h, rdr)
}

/// Reads the header row of `claims.csv`: its columns and the reader after it.
pub fn claims_header<R: Read>(r: R) -> (Result<ClaimColumns, String>, csv::Reader<R>) {
    let (h, rdr) = header(r);
    (h.and_then(|h| ClaimColumns::new(&h)), rdr)
}

/// Reads `claims.csv`, calling `each` with every valid line (one thread; `files` reads large
/// files in parallel blocks with the same parser).
pub fn read_claims<R: Read>(r: R, file: &str, mut each: impl FnMut(&RawLine<'_>)) -> Report {
    let mut report = Report::default();
    let (cols, mut rdr) = claims_header(r);
    match cols {
        Ok(cols) => csv_records(&mut rdr, &mut Spans::default(), |line, rec| {
            claim_record(line, rec, &cols, file, &mut report, None, &mut each)
        }),
        Err(why) => report.reject(file, 1, why),
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_rows_are_reported_with_line_numbers_and_the_rest_read() {
        let csv = "beneficiary_id,service_date,hcpcs,allowed,tin,specialty\n\
                   1EG4TE5MK73,2024-02-01,99213,92.47,123456789,11\n\
                   1EG4TE5MK73,2024-02-30,99213,92.47,123456789,11\n\
                   1EG4TE5MK73,2024-03-01,99213,1.234,123456789,11\n\
                   1EG4TE5MK73,2024-03-01,99213\n\
                   ,2024-03-01,99213,10,123456789,11\n\
                   1EG4TE5MK73,2024-03-01,ZZZZZ,10,,11\n\
                   1EG4TE5MK74,2024-04-01,XYZ,10,123456789,11\n";
        let mut got = Vec::new();
        let r = read_claims(csv.as_bytes(), "claims.csv", |l| {
            got.push((l.hcpcs.to_string(), l.allowed_cents))
        });
        assert_eq!(
            got,
            vec![("99213".to_string(), 9_247), ("XYZ".to_string(), 1_000)]
        );
        assert_eq!((r.records, r.rejected), (2, 5));
        let lines: Vec<u64> = r.rejections.iter().map(|x| x.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 7]);
        assert!(
            r.rejections[0].reason.starts_with("service_date"),
            "{}",
            r.rejections[0]
        );
        assert!(
            r.rejections[1].reason.starts_with("allowed"),
            "{}",
            r.rejections[1]
        );
        assert!(
            !r.rejections
                .iter()
                .any(|x| x.to_string().contains("1EG4TE5MK73"))
        );
        let missing = read_claims("beneficiary_id,hcpcs\n".as_bytes(), "c.csv", |_| {});
        assert_eq!(
            missing.rejections[0].reason,
            "missing column(s): service_date, allowed"
        );
    }

    /// Control characters in an identifier are rejected as on the gRPC path, with the file, line
    /// and column but not the value; the other rows are read.
    #[test]
    fn control_characters_are_rejected_by_line_and_column() {
        let claims = "beneficiary_id,service_date,hcpcs,allowed,tin,claim_id\n\
                      1EG4TE5MK73,2024-02-01,99213,92.47,123456789,C1\n\
                      1EG4\u{1}TE5MK73,2024-02-01,99213,92.47,123456789,C2\n\
                      1EG4TE5MK73,2024-02-01,99213,92.47,1234\u{7f}56789,C3\n\
                      1EG4TE5MK73,2024-02-01,99213,92.47,123456789,\"C\n4\"\n\
                      1EG4TE5MK73,2024-02-01,99\u{85}213,92.47,123456789,C5\n";
        let mut got = Vec::new();
        let r = read_claims(claims.as_bytes(), "claims.csv", |l| {
            got.push(l.claim_id.to_string())
        });
        assert_eq!(got, vec!["C1".to_string()]);
        let rejected: Vec<String> = r.rejections.iter().map(ToString::to_string).collect();
        assert_eq!(
            rejected,
            vec![
                "claims.csv:3: beneficiary_id: must not contain control characters",
                "claims.csv:4: tin: must not contain control characters",
                "claims.csv:5: claim_id: must not contain control characters",
                "claims.csv:7: hcpcs: must not contain control characters",
            ]
        );

        let benes = "beneficiary_id,months_part_a_and_b,months_part_a_or_b_only,\
                     months_group_health_plan,us_resident,other_initiative,designated_npi\n\
                     B1,12,0,0,true,false,1234567890\n\
                     B2,12,0,0,true,false,12345\u{0}67890\n";
        let mut ids = Vec::new();
        let r = read_beneficiaries(benes.as_bytes(), "beneficiaries.csv", |b| {
            ids.push(b.id.to_string())
        });
        assert_eq!(ids, vec!["B1".to_string()]);
        assert_eq!(
            r.rejections[0].to_string(),
            "beneficiaries.csv:3: designated_npi: must not contain control characters"
        );

        let parts = "aco_id,kind,id\nA1,tin,123456789\nA\u{1b}2,tin,123456789\n";
        let (acos, r) = read_participants(parts.as_bytes(), "participants.csv");
        assert_eq!(acos.len(), 1);
        assert_eq!(
            r.rejections[0].to_string(),
            "participants.csv:3: aco_id: must not contain control characters"
        );
    }

    /// The eight-bytes-at-a-time splitter finds what a byte-by-byte loop finds: the comma
    /// spans, and whether every byte is printable ASCII (as [`printable`] does, lines longer
    /// than its 64-byte steps included).
    #[test]
    fn split_commas_agrees_with_a_byte_loop() {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let alphabet = b",,a0 ~\x7f\x1f\x20\x80\xff\x2c\x2d\x2b\xac\x00\t";
        let mut spans = Vec::new();
        for _ in 0..20_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let line: Vec<u8> = (0..(s % 160) as usize)
                .map(|i| alphabet[((s >> (i % 60)) as usize + i * 7) % alphabet.len()])
                .collect();
            let plain = split_commas(&line, &mut spans);
            let mut want = Vec::new();
            let mut from = 0;
            for (i, &b) in line.iter().enumerate() {
                if b == b',' {
                    want.push((from, i));
                    from = i + 1;
                }
            }
            want.push((from, line.len()));
            assert_eq!(spans, want, "{line:?}");
            let byte_loop = line.iter().all(|&b| (0x20..0x7f).contains(&b));
            assert_eq!(plain, byte_loop, "{line:?}");
            assert_eq!(printable(&line), byte_loop, "{line:?}");
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let header = b"beneficiary_id,service_date,hcpcs,allowed,tin\n";
        let alphabet = b",\n\"0123456789-.abcZ \xff";
        for bytes in crate::input::random_inputs(0x0123_4567_89AB_CDEF, 500, 300, header, alphabet)
        {
            let _ = read_claims(bytes.as_slice(), "f", |_| {});
            let _ = read_beneficiaries(bytes.as_slice(), "f", |_| {});
            let _ = read_participants(bytes.as_slice(), "f");
        }
        assert_eq!(redact(r#"x "secret" y"#), r#"x "..." y"#);
    }
}
