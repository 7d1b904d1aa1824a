//! Parquet in and out (cargo feature `parquet`), run as a user runs `attribution-svc assign`: a
//! synthetic population as Parquet gives the list the CSV files give, for any thread count, and
//! `--out X.parquet` holds that list; a bad Parquet file (truncated, a missing column, a column of
//! the wrong type, an unreadable row group, bad values) is named by file, row (or row group) and
//! column, the bad rows go to `--reject-file` with the reasons the CSV path gives, and nothing is
//! written to `--out` on error.

#![cfg(feature = "parquet")]

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::Arc,
};

use arrow_array::{
    Array, ArrayRef, Float64Array, RecordBatch, RecordBatchReader as _, StringArray, cast::AsArray,
    types::Decimal128Type,
};
use arrow_schema::{DataType, SchemaRef};
use attribution_rules::synthetic::{Config, Synthetic};
use attribution_svc::synth;
use parquet::arrow::{
    ArrowWriter,
    arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder},
};
use parquet::basic::{Compression, CompressionCodec, Encoding};
use parquet::file::properties::WriterProperties;

fn run(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_attribution-svc"))
        .args(args)
        .output()
        .expect("run attribution-svc")
}

/// `assign --performance-year 2024` on the given files, plus `extra` flags.
fn assign(participants: &Path, beneficiaries: &Path, claims: &Path, extra: &[&str]) -> Output {
    let p = |s: &str| PathBuf::from(s);
    let mut args = vec![
        p("assign"),
        p("--performance-year"),
        p("2024"),
        p("--participants"),
        participants.into(),
        p("--beneficiaries"),
        beneficiaries.into(),
        p("--claims"),
        claims.into(),
    ];
    args.extend(extra.iter().map(|s| p(s)));
    let refs: Vec<&Path> = args.iter().map(PathBuf::as_path).collect();
    run(&refs)
}

fn ok(o: &Output) -> String {
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{stderr}");
    stderr
}

/// The rows of a Parquet assignment list as the CSV list writes them (a null as a blank field).
fn as_csv(path: &Path) -> String {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).expect("open"))
        .expect("parquet")
        .build()
        .expect("reader");
    let mut out = String::new();
    for batch in reader {
        let batch = batch.expect("batch");
        if out.is_empty() {
            let names: Vec<&str> = batch
                .schema_ref()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            out = names.join(",") + "\n";
        }
        for i in 0..batch.num_rows() {
            let fields: Vec<String> = batch
                .columns()
                .iter()
                .map(|c| {
                    if c.is_null(i) {
                        return String::new();
                    }
                    match c.data_type() {
                        DataType::Utf8 => c.as_string::<i32>().value(i).to_string(),
                        DataType::Boolean => c.as_boolean().value(i).to_string(),
                        DataType::UInt32 => c
                            .as_primitive::<arrow_array::types::UInt32Type>()
                            .value(i)
                            .to_string(),
                        DataType::Decimal128(18, 2) => {
                            let v = c.as_primitive::<Decimal128Type>().value(i);
                            let sign = if v < 0 { "-" } else { "" };
                            let a = v.unsigned_abs();
                            format!("{sign}{}.{:02}", a / 100, a % 100)
                        }
                        t => panic!("unexpected column type {t}"),
                    }
                })
                .collect();
            out += &(fields.join(",") + "\n");
        }
    }
    out
}

/// A population as CSV and as Parquet (small row groups: several per file): `assign` gives the
/// same list from both, for 1 and 2 threads, as CSV and as Parquet, and a Parquet file is
/// recognised by its magic bytes whatever its name.
#[test]
fn parquet_input_and_output_give_the_csv_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Synthetic::new(Config {
        beneficiaries: 400,
        lookback_share: 0.1,
        ..Config::default()
    });
    let (csv_dir, pq_dir) = (dir.path().join("csv"), dir.path().join("pq"));
    synth::write_csv(&s, &csv_dir).expect("csv");
    let n = synth::write_parquet(&s, &pq_dir, 1_000).expect("parquet");
    assert!(n.lines > 4_000, "{n:?}");
    let meta = |p: &Path| {
        ArrowReaderMetadata::load(&File::open(p).expect("open"), ArrowReaderOptions::new())
            .expect("metadata")
    };
    assert!(
        meta(&pq_dir.join("claims.parquet"))
            .metadata()
            .num_row_groups()
            >= 4
    );

    let list = dir.path().join("list.csv");
    let files = |d: &Path, ext: &str| {
        [
            d.join(format!("participants.{ext}")),
            d.join(format!("beneficiaries.{ext}")),
            d.join(format!("claims.{ext}")),
        ]
    };
    let [p, b, c] = files(&csv_dir, "csv");
    ok(&assign(
        &p,
        &b,
        &c,
        &["--out", list.to_str().expect("utf-8")],
    ));
    let want = std::fs::read_to_string(&list).expect("list");
    assert!(want.contains(",step_1,"), "{want}");

    let [p, b, c] = files(&pq_dir, "parquet");
    // The claims file under another name: read as Parquet by its first bytes.
    let renamed = dir.path().join("claims.bin");
    std::fs::copy(&c, &renamed).expect("copy");
    for (claims, threads) in [(&c, "1"), (&c, "2"), (&renamed, "2")] {
        let out = dir.path().join(format!("list-{threads}.csv"));
        let stderr = ok(&assign(
            &p,
            &b,
            claims,
            &["--threads", threads, "--out", out.to_str().expect("utf-8")],
        ));
        assert!(stderr.contains(" 0 rejected"), "{stderr}");
        assert_eq!(std::fs::read_to_string(&out).expect("list"), want);
        let out = dir.path().join(format!("list-{threads}.parquet"));
        ok(&assign(
            &p,
            &b,
            claims,
            &["--threads", threads, "--out", out.to_str().expect("utf-8")],
        ));
        assert_eq!(as_csv(&out), want, "Parquet list, {threads} threads");
    }
    assert_eq!(
        codecs_of(&c),
        vec![format!("{:?}", CompressionCodec::SNAPPY)],
        "synth writes Snappy"
    );
    assert_eq!(
        dictionary_only(&c, "hcpcs"),
        [true],
        "synth's dictionary pages"
    );
    // The claims rewritten with each codec analysts' tools write, and with plain pages or a
    // dictionary that overflows into plain pages mid-chunk: the same list. (String columns whose
    // pages are all dictionary encoded, as `hcpcs` here, are read as dictionaries, the others as
    // strings.)
    let dictionary = Some(1 << 20);
    for (codec, dictionary, all_dictionary) in [
        (Compression::UNCOMPRESSED, dictionary, true),
        (Compression::ZSTD(Default::default()), dictionary, true),
        (Compression::LZ4_RAW, dictionary, true),
        (Compression::GZIP(Default::default()), dictionary, true),
        (Compression::SNAPPY, None, false),
        (Compression::SNAPPY, Some(64), false),
    ] {
        let rewritten = dir.path().join("claims-rewritten.parquet");
        recompress(&c, &rewritten, codec, dictionary);
        let codecs = codecs_of(&rewritten);
        assert_eq!(codecs, vec![format!("{:?}", CompressionCodec::from(codec))]);
        let pages = dictionary_only(&rewritten, "hcpcs");
        assert_eq!(pages, [all_dictionary], "{codec:?}, {dictionary:?}");
        let out = dir.path().join("list-rewritten.csv");
        ok(&assign(
            &p,
            &b,
            &rewritten,
            &["--out", out.to_str().expect("utf-8")],
        ));
        assert_eq!(
            std::fs::read_to_string(&out).expect("list"),
            want,
            "{codec:?}, dictionary {dictionary:?}"
        );
    }
    // Same input, same bytes, for any thread count.
    assert_eq!(
        std::fs::read(dir.path().join("list-1.parquet")).expect("1"),
        std::fs::read(dir.path().join("list-2.parquet")).expect("2")
    );
}

/// Rewrites the Parquet file `from` to `to` with pages compressed by `codec`, dictionary encoded
/// up to a dictionary page of `dictionary` bytes (`None`: plain pages only).
fn recompress(from: &Path, to: &Path, codec: Compression, dictionary: Option<usize>) {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(from).expect("open"))
        .expect("parquet")
        .with_batch_size(1_000)
        .build()
        .expect("reader");
    let schema = reader.schema();
    let batches = reader.map(|batch| batch.expect("batch"));
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(1_000))
        .set_compression(codec)
        .set_dictionary_enabled(dictionary.is_some())
        .set_dictionary_page_size_limit(dictionary.unwrap_or(1))
        .build();
    write_batches(to, schema, batches, props);
}

/// Over the row groups, the distinct answers (in order of first appearance) to: are all the data
/// pages of `column` dictionary encoded? (The footer's page encodings.)
fn dictionary_only(path: &Path, column: &str) -> Vec<bool> {
    let meta =
        ArrowReaderMetadata::load(&File::open(path).expect("open"), ArrowReaderOptions::new())
            .expect("metadata");
    let leaf = (0..meta.parquet_schema().num_columns())
        .find(|&j| meta.parquet_schema().column(j).name() == column)
        .expect("column");
    let mut out = Vec::new();
    for g in meta.metadata().row_groups() {
        let c = g.column(leaf);
        let only = c.dictionary_page_offset().is_some()
            && c.page_encoding_stats_mask()
                .is_some_and(|m| m.is_only(Encoding::RLE_DICTIONARY));
        if !out.contains(&only) {
            out.push(only);
        }
    }
    out
}

/// Writes `batches` of `schema` as a Parquet file at `path` with `props`.
fn write_batches(
    path: &Path,
    schema: SchemaRef,
    batches: impl IntoIterator<Item = RecordBatch>,
    props: WriterProperties,
) {
    let file = File::create(path).expect("create");
    let mut w = ArrowWriter::try_new(file, schema, Some(props)).expect("writer");
    for batch in batches {
        w.write(&batch).expect("write");
    }
    w.close().expect("close");
}

/// The distinct compression codecs of a Parquet file's column chunks.
fn codecs_of(path: &Path) -> Vec<String> {
    let meta =
        ArrowReaderMetadata::load(&File::open(path).expect("open"), ArrowReaderOptions::new())
            .expect("metadata");
    let mut codecs: Vec<String> = meta
        .metadata()
        .row_groups()
        .iter()
        .flat_map(|g| {
            g.columns()
                .iter()
                .map(|c| format!("{:?}", c.compression_codec()))
        })
        .collect();
    codecs.sort();
    codecs.dedup();
    codecs
}

const PARTICIPANTS: &str = "aco_id,kind,id\nA1,tin,111111111\n";
const BENEFICIARIES: &str = "beneficiary_id,months_part_a_and_b,months_part_a_or_b_only,\
                             months_group_health_plan,us_resident,other_initiative\n\
                             1EG4TE5MK73,12,0,0,true,false\n\
                             2EG4TE5MK74,12,0,0,true,false\n";
const COLUMNS: [&str; 7] = [
    "beneficiary_id",
    "service_date",
    "hcpcs",
    "allowed",
    "tin",
    "specialty",
    "claim_type",
];
/// A good line (1EG4TE5MK73 at A1's TIN, a PCP, primary care: step 1), a wrong type (`allowed`
/// not an amount), an unknown code (`claim_type`) and a date that does not exist, as in
/// tests/bad_files.rs.
const ROWS: [[&str; 7]; 4] = [
    [
        "1EG4TE5MK73",
        "2024-03-01",
        "99213",
        "120.00",
        "111111111",
        "08",
        "professional",
    ],
    [
        "1EG4TE5MK73",
        "2024-03-02",
        "99213",
        "twelve",
        "111111111",
        "08",
        "professional",
    ],
    [
        "1EG4TE5MK73",
        "2024-03-03",
        "99213",
        "10.00",
        "111111111",
        "08",
        "dentist",
    ],
    [
        "1EG4TE5MK73",
        "2024-02-30",
        "99213",
        "10.00",
        "111111111",
        "08",
        "professional",
    ],
];

/// Writes `columns` (name, values) as a Parquet file of row groups of `group_rows` rows.
fn write_parquet(path: &Path, columns: Vec<(&str, ArrayRef)>, group_rows: usize) {
    let batch = RecordBatch::try_from_iter(columns).expect("batch");
    // Uncompressed: the writer's default.
    let schema = batch.schema();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    write_batches(path, schema, [batch], props);
}

/// The `allowed` column of a claims file.
enum Allowed {
    /// The values of `ROWS`, as strings.
    Text,
    /// No `allowed` column.
    Missing,
    /// This column.
    Column(ArrayRef),
}

/// The claims `ROWS` (its first `rows`, repeated `times`) as string columns, `allowed` as said.
fn claims(path: &Path, rows: usize, times: usize, allowed: Allowed, group_rows: usize) {
    let mut columns: Vec<(&str, ArrayRef)> = Vec::new();
    for (k, name) in COLUMNS.iter().enumerate() {
        let values: Vec<&str> = (0..times)
            .flat_map(|_| ROWS[..rows].iter().map(|r| r[k]))
            .collect();
        let column: ArrayRef = Arc::new(StringArray::from(values));
        match (*name, &allowed) {
            ("allowed", Allowed::Missing) => {}
            ("allowed", Allowed::Column(a)) => columns.push((name, a.clone())),
            _ => columns.push((name, column)),
        }
    }
    write_parquet(path, columns, group_rows);
}

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("participants.csv"), PARTICIPANTS).expect("write");
        std::fs::write(dir.path().join("beneficiaries.csv"), BENEFICIARIES).expect("write");
        Case { dir }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn assign(&self, claims: &str, extra: &[&str]) -> Output {
        assign(
            &self.path("participants.csv"),
            &self.path("beneficiaries.csv"),
            &self.path(claims),
            extra,
        )
    }
    /// A failed run: its stderr; `list.parquet` keeps its bytes and no temporary file is left.
    fn fails(&self, claims: &str) -> String {
        let out = self.path("list.parquet");
        std::fs::write(&out, "the previous list\n").expect("write");
        let o = self.assign(claims, &["--out", out.to_str().expect("utf-8")]);
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success(), "{stderr}");
        assert!(stderr.contains("nothing written"), "{stderr}");
        assert_eq!(
            std::fs::read_to_string(&out).expect("out"),
            "the previous list\n"
        );
        let left: Vec<String> = std::fs::read_dir(self.dir.path())
            .expect("dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with(".assign-"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        stderr
    }
    /// A run with `--reject-file`: the rejections file's lines after its header.
    fn rejects(&self, claims: &str) -> Vec<String> {
        let rejects = self.path("rejects.csv");
        let out = self.path("list-ok.parquet");
        ok(&self.assign(
            claims,
            &[
                "--reject-file",
                rejects.to_str().expect("utf-8"),
                "--out",
                out.to_str().expect("utf-8"),
            ],
        ));
        assert!(out.exists());
        let text = std::fs::read_to_string(&rejects).expect("rejects");
        text.lines().skip(1).map(str::to_string).collect()
    }
}

/// Bad values are rejected with the CSV path's reasons, at their row (from 1; the CSV line of the
/// same data is one more, for its header); with `--reject-file` the run goes on and the good line
/// is assigned, without it nothing is written.
#[test]
fn bad_values_are_rejected_as_in_csv() {
    let case = Case::new();
    claims(&case.path("claims.parquet"), 4, 1, Allowed::Text, 2);
    let csv = std::iter::once(COLUMNS.join(","))
        .chain(ROWS.iter().map(|r| r.join(",")))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(case.path("claims.csv"), csv + "\n").expect("write");
    let from_csv = case.rejects("claims.csv");
    let from_parquet = case.rejects("claims.parquet");
    assert_eq!(
        from_parquet,
        [
            "claims.parquet,2,\"allowed: must be a decimal number of dollars such as \"\"...\"\"\"",
            "claims.parquet,3,\"claim_type: must be professional, fqhc, rhc, cah_method_ii or \
             other_institutional\"",
            "claims.parquet,4,\"service_date: must be a valid date, YYYY-MM-DD\"",
        ]
    );
    let shifted: Vec<String> = from_csv
        .iter()
        .map(|l| {
            let (line, reason) = l
                .strip_prefix("claims.csv,")
                .and_then(|r| r.split_once(','))
                .expect("file,line,reason");
            let line: u64 = line.parse().expect("line");
            format!("claims.parquet,{},{reason}", line - 1)
        })
        .collect();
    assert_eq!(from_parquet, shifted, "the CSV path's reasons, by row");
    let stderr = case.fails("claims.parquet");
    assert!(
        stderr.contains("rejected claims.parquet:2: allowed: must be a decimal"),
        "{stderr}"
    );
    assert!(!stderr.contains("1EG4TE5MK73"), "no identifier: {stderr}");
}

/// A missing column, a column of the wrong type and a truncated file are rejected as a whole at
/// row 0, naming the column (or that the file is not readable Parquet); with `--reject-file` the
/// run goes on without the file.
#[test]
fn bad_files_are_named() {
    let case = Case::new();
    claims(&case.path("missing.parquet"), 1, 1, Allowed::Missing, 10);
    let stderr = case.fails("missing.parquet");
    assert!(
        stderr.contains("rejected missing.parquet:0: missing column(s): allowed"),
        "{stderr}"
    );
    assert_eq!(
        case.rejects("missing.parquet"),
        ["missing.parquet,0,missing column(s): allowed"]
    );

    let float: ArrayRef = Arc::new(Float64Array::from(vec![120.0]));
    claims(
        &case.path("float.parquet"),
        1,
        1,
        Allowed::Column(float),
        10,
    );
    let stderr = case.fails("float.parquet");
    assert!(
        stderr.contains(
            "rejected float.parquet:0: allowed: must be a DECIMAL (at most 38 digits) or string \
             column: amounts are exact (this is Float64)"
        ),
        "{stderr}"
    );

    claims(&case.path("good.parquet"), 1, 1_000, Allowed::Text, 100);
    let bytes = std::fs::read(case.path("good.parquet")).expect("read");
    std::fs::write(case.path("truncated.parquet"), &bytes[..bytes.len() / 2]).expect("write");
    let stderr = case.fails("truncated.parquet");
    assert!(
        stderr.contains("rejected truncated.parquet:0: not a readable Parquet file (truncated?)"),
        "{stderr}"
    );
    assert_eq!(case.rejects("truncated.parquet").len(), 1);

    // The participant and clinician tables alike.
    let parts = case.path("participants.parquet");
    let column = |v: &str| -> ArrayRef { Arc::new(StringArray::from(vec![v])) };
    write_parquet(
        &parts,
        vec![("aco_id", column("A1")), ("id", column("111111111"))],
        10,
    );
    let o = assign(
        &parts,
        &case.path("beneficiaries.csv"),
        &case.path("good.parquet"),
        &[],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(
        stderr.contains("rejected participants.parquet:0: missing column(s): kind"),
        "{stderr}"
    );
}

/// A row group whose `allowed` column chunk is corrupt (the footer intact) is rejected at its
/// first row naming the row group and the column; the other row groups are read.
#[test]
fn an_unreadable_row_group_is_named() {
    let case = Case::new();
    let path = case.path("claims.parquet");
    claims(&path, 1, 30, Allowed::Text, 10);
    let meta = ArrowReaderMetadata::load(&File::open(&path).expect("open"), Default::default())
        .expect("metadata");
    let group = meta.metadata().row_group(1);
    let allowed = COLUMNS
        .iter()
        .position(|c| *c == "allowed")
        .expect("allowed");
    let (start, _) = group.column(allowed).byte_range();
    let mut bytes = std::fs::read(&path).expect("read");
    for b in &mut bytes[start as usize..start as usize + 24] {
        *b = 0xff;
    }
    std::fs::write(&path, bytes).expect("write");
    let stderr = case.fails("claims.parquet");
    assert!(
        stderr.contains(
            "rejected claims.parquet:11: row group 1 (rows 11-20), column allowed: unreadable: "
        ),
        "{stderr}"
    );
    let rejects = case.rejects("claims.parquet");
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    let list = as_csv(&case.path("list-ok.parquet"));
    assert!(list.contains("1EG4TE5MK73,A1,step_1,"), "{list}");
}

/// A claims file with any one stretch of bytes overwritten is read without a panic: rejected, or
/// read (uncompressed page data can decode to other values), never a crash.
#[test]
fn corrupt_bytes_never_panic() {
    let case = Case::new();
    let good = case.path("good.parquet");
    claims(&good, 4, 25, Allowed::Text, 20);
    let bytes = std::fs::read(&good).expect("read");
    let (acos, _) =
        attribution_svc::files::participants(&case.path("participants.csv")).expect("participants");
    let cfg = attribution_rules::run::RunConfig::retrospective(2024, acos);
    let bad = case.path("bad.parquet");
    for at in (0..bytes.len()).step_by(7) {
        let mut b = bytes.clone();
        for x in &mut b[at..(at + 5).min(bytes.len())] {
            *x = !*x;
        }
        std::fs::write(&bad, &b).expect("write");
        let files = attribution_svc::files::Files {
            claims: vec![bad.clone()],
            ..Default::default()
        };
        let _ = attribution_svc::files::load(&cfg, &files);
    }
}

/// A Parquet claims file grouped by beneficiary is read in one pass, each row group prescanned on
/// its own: row groups of 997 rows cut beneficiaries with cancelled and adjusted lines in two, and
/// the beneficiaries at the row groups' edges are decided from every group's prescan
/// (`Chunk::defer`). The list, the per-ACO counts and every line counter are the ones the same
/// population as CSV gives, for one thread and two.
#[test]
fn row_groups_are_read_in_one_pass_with_the_csv_result() {
    use attribution_rules::run::RunConfig;
    use attribution_svc::files::{self, Files, Options};
    let s = Synthetic::new(Config {
        beneficiaries: 2_500,
        ..Config::default()
    });
    let (csv_dir, pq_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    synth::write_csv(&s, csv_dir.path()).expect("csv");
    synth::write_parquet(&s, pq_dir.path(), 997).expect("parquet");
    let (acos, _) = files::participants(&csv_dir.path().join("participants.csv")).unwrap();
    let cfg = RunConfig::retrospective(2024, acos);
    let result = |dir: &Path, ext: &str, threads: usize| {
        let f = Files {
            beneficiaries: vec![dir.join(format!("beneficiaries.{ext}"))],
            claims: vec![dir.join(format!("claims.{ext}"))],
            ..Files::default()
        };
        let opts = Options {
            threads,
            ..Options::default()
        };
        let (run, report) = files::load_with(&cfg, &f, &opts).expect("load");
        let mut out = Vec::new();
        let counts = files::write_results(&run, &mut out).expect("write");
        let summary = format!(
            "{counts:?}\n{:?}\n{} {}",
            run.stats, report.records, report.rejected
        );
        (run.read_in_one_pass(), out, summary)
    };
    let want = result(csv_dir.path(), "csv", 1);
    assert!(want.2.contains("superseded: ") && !want.2.contains("superseded: 0,"));
    for threads in [1, 2] {
        let got = result(pq_dir.path(), "parquet", threads);
        assert!(got.0, "read in one pass ({threads} threads)");
        assert_eq!(got.2, want.2, "{threads} threads");
        assert!(got.1 == want.1, "{threads} threads: the list differs");
    }
}
