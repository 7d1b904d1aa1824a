//! Backtest of the settlement engine against CMS's published ACO results (the PY2014, PY2018 and
//! PY2022 Public Use Files and the first rows of PY2013) and against synthetic rows in the layouts
//! of the years without a file here (2015-2017, 2019, 2019A, 2020, 2021, 2023, 2024).

use acorn_proto::cms::puf::Layout;
use acorn_proto::cms::puf::PufFile;
use rust_decimal::Decimal;
use settlement_rules::Track;
use settlement_svc::backtest::{
    self, AcoComparison, AipRecoupment, BacktestError, OffsetCheck, Report, TrackSummary,
};

fn fixture(name: &str) -> PufFile {
    let path = format!(
        "{}/../proto/testdata/puf/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    PufFile::from_path(path.as_ref()).expect("fixture loads")
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("decimal")
}

fn summary(report: &Report, track: Track) -> TrackSummary {
    *report
        .tracks
        .iter()
        .find(|t| t.track == track)
        .unwrap_or_else(|| panic!("{track:?} in report"))
}

fn aco<'r>(report: &'r Report, id: &str) -> &'r AcoComparison {
    report
        .acos
        .iter()
        .find(|a| a.aco_id == id)
        .unwrap_or_else(|| panic!("{id} in report"))
}

fn parse(csv: &str) -> PufFile {
    PufFile::from_reader(csv.as_bytes()).expect("csv parses")
}

/// PY2014: every Track 1 (330) and Track 2 (3) ACO within $1 of EarnSaveLoss.
#[test]
fn py2014_every_aco_within_one_dollar() {
    let report = backtest::run(&fixture("mssp_puf_py2014.csv")).expect("runs");
    assert_eq!(report.performance_year, 2014);
    assert_eq!(
        report.tracks,
        [
            TrackSummary {
                track: Track::Track1,
                acos: 330,
                within_1_dollar: 330,
                within_0_1_percent: 330,
                explained: 0
            },
            TrackSummary {
                track: Track::Track2,
                acos: 3,
                within_1_dollar: 3,
                within_0_1_percent: 3,
                explained: 0
            },
        ]
    );
    assert_eq!(report.acos.len(), 333);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(report.mismatches().count(), 0);
    // File order, first row: A67373 = 32,173,449 x 0.5 x 0.916964286 x 0.98.
    let first = &report.acos[0];
    assert_eq!(
        (first.aco_id.as_str(), first.line, first.track),
        ("A67373", 2, Track::Track1)
    );
    assert_eq!(
        (first.published, first.computed),
        (dec("14455933"), Some(dec("14455932.81")))
    );
    // Track 2 (agreement before 2016: fixed 2% MSR, 60% x quality).
    assert_eq!(aco(&report, "A85439").computed, Some(dec("7528797.11")));
    // Pay-for-reporting ACOs that failed reporting (FinalShareRate 0) were paid nothing.
    for id in ["A80939", "A23913"] {
        let a = aco(&report, id);
        assert_eq!(
            (a.published, a.computed),
            (Decimal::ZERO, Some(Decimal::ZERO))
        );
    }
}

/// PY2018: every ACO within 0.1% (QualScore is published rounded to 4 decimals, so exact-dollar
/// matches are impossible for many rows); every mismatch beyond $1 has a checked cause.
#[test]
fn py2018_within_0_1_percent_and_every_mismatch_explained() {
    let report = backtest::run(&fixture("mssp_puf_py2018.csv")).expect("runs");
    assert_eq!(report.performance_year, 2018);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    let expected = [
        // (track, ACOs, within $1, within 0.1%)
        (Track::Track1, 453, 327, 453),
        (Track::Track2, 7, 1, 7),
        (Track::Track3, 36, 16, 36),
        (Track::Track1Plus, 52, 28, 52),
    ];
    let got: Vec<_> = report
        .tracks
        .iter()
        .map(|t| (t.track, t.acos, t.within_1_dollar, t.within_0_1_percent))
        .collect();
    assert_eq!(got, expected);
    // The acceptance bar: Track 1 all, the two-sided tracks at least 95% each within 0.1%.
    let t1 = summary(&report, Track::Track1);
    assert_eq!(t1.within_0_1_percent, t1.acos);
    for track in [Track::Track1Plus, Track::Track2, Track::Track3] {
        let t = summary(&report, track);
        assert!(t.within_0_1_percent * 100 >= t.acos * 95, "{t:?}");
    }

    // Advance Payment Model payments recouped from the savings (Adv_Pay_Recoup), beside
    // EarnSaveLoss: A2084 earned 359,860 of which 183,990 was recouped, so 175,870 was paid.
    let a2084 = aco(&report, "A2084").aip.expect("recoupment");
    assert_eq!(
        (a2084.recouped, a2084.owed, a2084.net_paid_published),
        (dec("183990"), None, dec("175870"))
    );
    assert_eq!(a2084.net_paid_computed, Some(dec("175873.49")));
    // The table lists every recoupment beside EarnSaveLoss (line, ACO, EarnSaveLoss, recouped,
    // net paid, net paid computed, balance, still owed).
    let table = report.to_table();
    assert!(
        table.contains("\nAdvance payments recouped from the shared savings: 9 "),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().skip(1).collect::<Vec<_>>()
                == ["A2084", "359860", "183990", "175870", "175873.49", "-", "-"]),
        "{table}"
    );
    assert_eq!(
        report
            .acos
            .iter()
            .filter(|a| a.aip.is_some_and(|r| !r.recouped.is_zero()))
            .count(),
        9
    );
    // A1409: capped at 10% of the benchmark after the sequestration cut (12,118,222.50).
    let capped = aco(&report, "A1409");
    assert_eq!(capped.published, dec("12118223"));
    assert_eq!(capped.computed, Some(dec("12118222.50")));
    assert!(capped.within_1_dollar());
    // A1215: Track 3 loss 15,259,668 x 40% (floor) - DisAdj 2,655.
    let loss = aco(&report, "A1215");
    assert_eq!(loss.track, Track::Track3);
    assert_eq!(loss.published, dec("-6101212"));
    assert_eq!(loss.computed, Some(dec("-6101212.20")));
    assert!(loss.within_1_dollar());
    // A3743: quality standard not met, Track 3 loss at the 75% ceiling.
    assert!(aco(&report, "A3743").within_1_dollar());

    let mismatches: Vec<_> = report.mismatches().collect();
    assert_eq!(mismatches.len(), 126 + 6 + 20 + 24);
    let explained: Vec<_> = report.tracks.iter().map(|t| t.explained).collect();
    assert_eq!(explained, [126, 6, 20, 24]);
    for m in &mismatches {
        let cause = m.cause.as_deref().unwrap_or("");
        assert!(
            cause.starts_with("published QualScore rounded to 4 dp: implied quality"),
            "{}: {cause}",
            m.aco_id
        );
        assert!(m.within_0_1_percent() && m.error.is_none(), "{m:?}");
    }
    // The one two-sided loss beyond $1: A3336 implies a loss rate of 0.412375 = 1 - 0.6 x 0.979375.
    let a3336 = aco(&report, "A3336");
    assert!(a3336.is_mismatch());
    assert_eq!(
        a3336.cause.as_deref(),
        Some(
            "published QualScore rounded to 4 dp: implied quality 0.979375 lies within +/-0.00005 of 0.9794"
        )
    );
    assert!(
        report
            .acos
            .iter()
            .all(|a| a.within_1_dollar() == a.cause.is_none())
    );
}

#[test]
fn json_shape() {
    let report = backtest::run(&fixture("mssp_puf_py2014.csv")).expect("runs");
    let text = serde_json::to_string(&report.to_json()).expect("serializes");
    let json: serde_json::Value = serde_json::from_str(&text).expect("parses");
    assert_eq!(json["performance_year"], 2014);
    assert_eq!(json["year_layout"], "2014-2015");
    assert_eq!(
        (json["rows"].as_u64(), json["rows_used"].as_u64()),
        (Some(333), Some(333))
    );
    let track = &json["tracks"][0];
    assert_eq!(track["track"], "TRACK_1");
    assert_eq!(track["acos"], 330);
    assert_eq!(track["within_1_dollar"], 330);
    assert_eq!(track["within_0_1_percent"], 330);
    assert_eq!(track["explained"], 0);
    assert_eq!(json["tracks"][1]["track"], "TRACK_2");
    assert_eq!(json["tracks"].as_array().map(Vec::len), Some(2));
    let acos = json["acos"].as_array().expect("acos array");
    assert_eq!(acos.len(), 333);
    let first = &acos[0];
    assert_eq!(first["aco_id"], "A67373");
    assert_eq!(first["track"], "TRACK_1");
    assert_eq!(first["published"], "14455933");
    assert_eq!(first["computed"], "14455932.81");
    assert_eq!(first["diff"], "-0.19");
    assert_eq!(first["within_1_dollar"], true);
    assert!(first["cause"].is_null());
    assert_eq!(json["skipped"].as_array().map(Vec::len), Some(0));
    // Amounts are strings that parse as decimals.
    for a in acos {
        for key in ["published", "computed"] {
            let s = a[key].as_str().expect("decimal string");
            s.parse::<Decimal>().expect("decimal");
        }
    }
}

#[test]
fn table_is_readable_and_deterministic() {
    let report = backtest::run(&fixture("mssp_puf_py2018.csv")).expect("runs");
    let table = report.to_table();
    assert_eq!(
        table,
        backtest::run(&fixture("mssp_puf_py2018.csv"))
            .expect("runs")
            .to_table()
    );
    assert!(table.starts_with(
        "MSSP PUF backtest, performance year 2018: 548 ACOs compared, 0 rows skipped\n"
    ));
    assert!(
        table.contains("\ntrack         ACOs  within $1  within 0.1%   explained\n"),
        "{table}"
    );
    assert!(
        table.contains("\nTRACK_1        453        327          453  126 of 126\n"),
        "{table}"
    );
    assert!(
        table.contains("\nTRACK_1_PLUS    52         28           52    24 of 24\n"),
        "{table}"
    );
    assert!(table.contains("\nMismatches beyond $1: 176\n"));
    let a3336 = table
        .lines()
        .find(|l| l.contains("A3336"))
        .expect("A3336 listed");
    assert!(
        a3336.contains("TRACK_2") && a3336.contains("-1813633") && a3336.contains("-1813566.36"),
        "{a3336}"
    );
    assert!(a3336.contains("66.64") && a3336.contains("implied quality 0.979375"));
    assert!(table.ends_with("\nSkipped rows: 0\n"));
}

/// A later-year layout: one `Current_Track` text column, rates as "4.29%" strings, dollars with
/// `$`, thousands separators and parenthesised negatives, suppressed cells.
#[test]
fn later_year_layout_with_track_text_runs_end_to_end() {
    let puf = parse(
        "ACO_ID,Performance_Year,Current_Track,Current_Start_Date,N_AB,MinSavPerc,ABtotBnchmk,BnchmkMinExp,DisAdj,EarnSaveLoss,Met_QPS,QualScore,Rev_Exp_Cat\n\
         B1,2021,BASIC Level A,07/01/2019 12:00:00 AM,\"10,000\",3.00%,\"$100,000,000\",\"5,000,000\",-,\"$1,960,000\",1,95.50%,Low Revenue\n\
         B2,2021,ENHANCED,2019-07-01,\"20,000\",2.00%,\"200,000,000\",\"(6,000,000)\",\"(400,000)\",\"(2,000,000)\",1,90.00%,High Revenue\n\
         B3,2021,BASIC Level C,07/01/2019,\"8,000\",1.0%,\"50,000,000\",\"1,500,000\",,\"735,000\",1,88%,Low Revenue\n\
         B4,2021,Basic D,07/01/2019,\"8,000\",0.5%,\"40,000,000\",\"(2,000,000)\",,\"(600,000)\",1,88%,Low Revenue\n\
         B5,2021,Track 1,07/01/2019,\"8,000\",3.2%,\"40,000,000\",\"100\",,0,1,88%,Low Revenue\n\
         B6,2021,Mystery Track,07/01/2019,\"8,000\",3.2%,\"40,000,000\",\"100\",,0,1,88%,Low Revenue\n\
         B7,2021,BASIC_E,07/01/2019,\"20,000\",2%,\"100,000,000\",\"(1,000,000)\",-,0,1,91%,High Revenue\n\
         B8,2021,BASIC Level B,07/01/2019,\"6,000\",3.6%,\"80,000,000\",\"4,000,000\",,\"1,600,000\",1,91%,High Revenue\n\
         B9,2021,BASIC Level A,07/01/2019,\"6,000\",3.6%,\"80,000,000\",\"4,000,000\",,*,1,91%,High Revenue\n",
    );
    let report = backtest::run(&puf).expect("runs");
    assert_eq!(report.performance_year, 2021);
    let got: Vec<_> = report
        .tracks
        .iter()
        .map(|t| (t.track, t.acos, t.within_1_dollar, t.within_0_1_percent))
        .collect();
    assert_eq!(
        got,
        [
            (Track::Track1, 1, 0, 0),
            (Track::BasicA, 1, 1, 1),
            (Track::BasicB, 1, 0, 0),
            (Track::BasicC, 1, 1, 1),
            (Track::BasicD, 1, 1, 1),
            (Track::BasicE, 1, 1, 1),
            (Track::Enhanced, 1, 1, 1),
        ]
    );
    let ids: Vec<_> = report.acos.iter().map(|a| a.aco_id.as_str()).collect();
    assert_eq!(ids, ["B1", "B2", "B3", "B4", "B5", "B7", "B8"]);

    // BASIC A: 5,000,000 x 40% x 98% (2021: sequestration back).
    assert_eq!(aco(&report, "B1").computed, Some(dec("1960000.00")));
    // ENHANCED loss at the 40% floor, less the DisAdj amount.
    assert_eq!(aco(&report, "B2").computed, Some(dec("-2000000.00")));
    // BASIC C with savings: revenue not needed.
    let b3 = aco(&report, "B3");
    assert_eq!(b3.computed, Some(dec("735000.00")));
    assert!(b3.note.as_deref().is_some_and(|n| n.contains("revenue")));
    // BASIC E inside the corridor: revenue not needed either.
    assert_eq!(aco(&report, "B7").computed, Some(Decimal::ZERO));
    // Track 1 is not offered to a 2019-07-01 agreement: an engine error, reported as such.
    let b5 = aco(&report, "B5");
    assert_eq!(b5.computed, None);
    assert!(b5.is_mismatch());
    assert!(
        b5.cause
            .as_deref()
            .is_some_and(|c| c.starts_with("engine error: "))
    );
    // A mismatch no check explains is called so (2021 sharing does not scale with the score).
    assert_eq!(aco(&report, "B8").cause.as_deref(), Some("unexplained"));

    // BASIC D owing losses: revenue is not published, so the loss limit is the benchmark's
    // (2% x 40,000,000 = 800,000), above 30% x 2,000,000 = 600,000: the published amount.
    let b4 = aco(&report, "B4");
    assert_eq!(b4.computed, Some(dec("-600000")));
    assert!(
        b4.note
            .as_deref()
            .is_some_and(|n| n.contains("loss limit from the benchmark only")),
        "{b4:?}"
    );
    assert_eq!(
        report.skipped,
        [
            (7, "unrecognised track \"Mystery Track\"".to_string()),
            (10, "EarnSaveLoss missing".to_string())
        ]
    );

    let mismatches: Vec<_> = report.mismatches().map(|a| a.aco_id.as_str()).collect();
    assert_eq!(mismatches, ["B5", "B8"]);
    let table = report.to_table();
    assert!(table.contains("line 7: unrecognised track"), "{table}");
    assert!(
        table.contains("\nLayout 2022 (detected from the header): 7 of 9 rows used\n"),
        "{table}"
    );
    let json = report.to_json();
    assert_eq!(json["acos"][4]["computed"], serde_json::Value::Null);
    assert_eq!(json["skipped"][0]["line"], 7);
    assert_eq!(
        (json["rows"].as_u64(), json["rows_used"].as_u64()),
        (Some(9), Some(7))
    );
}

/// BASIC/ENHANCED flag columns, expenditures instead of BnchmkMinExp, the year given by the caller.
#[test]
fn basic_flag_columns() {
    let puf = parse(
        "ACO_ID,Current_BASIC_A,Current_BASIC_B,Current_BASIC_C,Current_BASIC_D,Current_BASIC_E,Current_ENHANCED,Current_Start_Date,N_AB,MinSavPerc,ABtotBnchmk,ABtotExp,EarnSaveLoss,QualScore,Met_QPS\n\
         C1,0,1,0,0,0,0,07/01/2019,\"3,000\",5.00%,\"30,000,000\",\"28,200,000\",\"648,000\",0.9,1\n\
         C2,0,0,0,0,0,1,07/01/2019,\"15,000\",0%,\"100,000,000\",\"101,000,000\",\"(400,000)\",0.8,1\n\
         C3,1,0,0,0,0,1,07/01/2019,\"15,000\",0%,\"100,000,000\",\"101,000,000\",0,0.8,1\n\
         C4,0,0,0,0,0,0,07/01/2019,\"15,000\",0%,\"100,000,000\",\"101,000,000\",0,0.8,1\n",
    );
    assert_eq!(
        backtest::run(&puf),
        Err(BacktestError::PerformanceYearUnknown)
    );
    let report = backtest::run(&puf.with_performance_year(2020)).expect("runs");
    // 3,000 beneficiaries: the small-ACO scale (5.0%); 2020: no sequestration; 40% x 0.9 x 1.8M.
    assert_eq!(aco(&report, "C1").computed, Some(dec("648000.0")));
    assert_eq!(aco(&report, "C1").track, Track::BasicB);
    // ENHANCED, 0% MLR: 1,000,000 x (1 - 0.75 x 0.8 = 40%).
    assert_eq!(aco(&report, "C2").computed, Some(dec("-400000")));
    assert_eq!(report.mismatches().count(), 0);
    assert_eq!(
        report.skipped,
        [
            (
                4,
                "several track flags set (TRACK_BASIC_A, TRACK_ENHANCED)".to_string()
            ),
            (5, "no track flag set".to_string()),
        ]
    );
}

#[test]
fn files_that_cannot_be_backtested() {
    let no_track = parse(
        "ACO_ID,PY,N_AB,ABtotBnchmk,BnchmkMinExp,EarnSaveLoss,Start_Date\nA,2018,1,1,1,1,01/01/2018\n",
    );
    assert_eq!(backtest::run(&no_track), Err(BacktestError::NoTrackColumns));
    let no_published = parse(
        "ACO_ID,PY,Track1,N_AB,ABtotBnchmk,BnchmkMinExp,Start_Date\nA,2014,1,1,1,1,01/01/2014\n",
    );
    assert_eq!(
        backtest::run(&no_published),
        Err(BacktestError::MissingColumn(
            "EarnSaveLoss (or EarnShrSavings/OweLosses)"
        ))
    );
    let no_year = parse("ACO_ID,Track1\nA,1\n");
    assert_eq!(
        backtest::run(&no_year),
        Err(BacktestError::PerformanceYearUnknown)
    );
}

#[test]
fn track_names_as_printed() {
    let cases = [
        ("Track 1", Some(Track::Track1)),
        ("Track 1+", Some(Track::Track1Plus)),
        ("Track 1 Plus", Some(Track::Track1Plus)),
        ("Track1Plus", Some(Track::Track1Plus)),
        ("TRACK 2", Some(Track::Track2)),
        ("Track 3", Some(Track::Track3)),
        ("BASIC Level C", Some(Track::BasicC)),
        ("Basic A", Some(Track::BasicA)),
        ("BASIC_E", Some(Track::BasicE)),
        ("Level D", Some(Track::BasicD)),
        ("ENHANCED", Some(Track::Enhanced)),
        ("Enhanced Track", Some(Track::Enhanced)),
        ("BASIC", None),
        ("Track 2+", None),
        ("Track 1 or 2", None),
        ("", None),
        ("Other", None),
        // PY2022+ Current_Track codes.
        ("A", Some(Track::BasicA)),
        ("b", Some(Track::BasicB)),
        (" C ", Some(Track::BasicC)),
        ("D", Some(Track::BasicD)),
        ("E", Some(Track::BasicE)),
        ("EN", Some(Track::Enhanced)),
        ("F", None),
        ("ENH", None),
    ];
    for (text, track) in cases {
        assert_eq!(backtest::track_from_text(text), track, "{text:?}");
    }
}

/// Hostile cells never panic: they skip the row or become engine errors.
#[test]
fn hostile_rows_never_panic() {
    const HOSTILE: &[&str] = &[
        "",
        "-",
        "*",
        "0",
        "P4R",
        "150%",
        "0.0000000000000000000000000001",
        "999999999999999",
        "1e15",
        "-1e15",
        "(5)",
        "abc",
        "02/30/2019",
    ];
    // (column, plausible cells)
    const COLUMNS: &[(&str, &[&str])] = &[
        ("ACO_ID", &["A1", "A2"]),
        (
            "Current_Track",
            &[
                "Track 1",
                "Track 1+",
                "Track 2",
                "Track 3",
                "BASIC Level C",
                "BASIC Level E",
                "ENHANCED",
                "Basic A",
                "A",
                "C",
                "E",
                "EN",
            ],
        ),
        ("Current_Track_1", &["0", "1"]),
        ("Current_BASIC_C", &["0", "1"]),
        (
            "Current_Start_Date",
            &[
                "01/01/2012",
                "07/01/2012",
                "01/01/2016",
                "2018-01-01",
                "07/01/2019",
                "01/01/2024",
            ],
        ),
        ("N_AB", &["100", "4,999", "5,000", "20000", "60000", "1"]),
        ("MinSavPerc", &["0%", "0.5%", "2%", "3.3%", "2.0005%"]),
        (
            "ABtotBnchmk",
            &["1", "100,000,000", "$1", "999999999999999"],
        ),
        (
            "BnchmkMinExp",
            &[
                "0",
                "1",
                "(1)",
                "5,000,000",
                "(5,000,000)",
                "999999999999999",
                "-999999999999999",
            ],
        ),
        ("ABtotExp", &["0", "95,000,000"]),
        ("DisAdj", &["(2,655)", "-", "999999999999999"]),
        ("EarnSaveLoss", &["0", "1,000", "(1,000)"]),
        ("QualScore", &["P4R", "0.9794", "91.5%", "0", "1"]),
        ("Met_QPS", &["0", "1"]),
        ("FinalShareRate", &["0", "0.5"]),
        ("RevLossLimit", &["0", "1"]),
        ("Met_AltQPS", &["0", "1"]),
        ("ReducedSS", &["0", "1"]),
        ("Participation_Six_Months", &["0", "1"]),
        ("Prorate_Shared_Losses", &["0", "1"]),
        ("AIPRecoup", &["0", "150,000", "999999999999999"]),
        ("AIPOwe", &["0", "25,000"]),
        ("QualPerfShare", &["0.5", "75%", "40"]),
        ("FinalLossRate", &["40%", "0.75", "55.00"]),
        ("Rev_Exp_Cat", &["Low Revenue", "High Revenue"]),
    ];
    let header: Vec<&str> = COLUMNS.iter().map(|(c, _)| *c).collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(state >> 33).unwrap_or(0)
    };
    let (mut compared, mut errors, mut skipped) = (0, 0, 0);
    for case in 0..60_i32 {
        let mut csv = header.join(",");
        csv.push('\n');
        for _ in 0..40 {
            let row: Vec<String> = COLUMNS
                .iter()
                .map(|(_, plausible)| {
                    let cell = if next() % 12 == 0 {
                        HOSTILE[next() % HOSTILE.len()]
                    } else {
                        plausible[next() % plausible.len()]
                    };
                    format!("\"{cell}\"")
                })
                .collect();
            csv.push_str(&row.join(","));
            csv.push('\n');
        }
        let py = 2012 + case % 15;
        let puf = parse(&csv).with_performance_year(py);
        let report = backtest::run(&puf).expect("columns present");
        let _ = (report.to_table(), report.to_json());
        compared += report.acos.iter().filter(|a| a.computed.is_some()).count();
        errors += report.acos.iter().filter(|a| a.error.is_some()).count();
        skipped += report.skipped.len();
    }
    assert!(
        compared > 20 && errors > 20 && skipped > 20,
        "{compared} computed, {errors} engine errors, {skipped} skipped"
    );
}

/// PY2022 (one `Current_Track` column `A`..`E`/`EN`, rates as "9.09%" strings): every one-sided
/// ACO within $1 of `EarnSaveLoss`; every two-sided ACO within $1, or, where the COVID-19 offset
/// (`DisAdj`) cancels the loss, its shared loss within $1 of the offset; the one exception is
/// explained row by row.
#[test]
fn py2022_every_aco_reproduced_or_explained() {
    let report = backtest::run(&fixture("mssp_puf_py2022.csv")).expect("runs");
    assert_eq!(
        (report.performance_year, report.layout),
        (2022, Layout::Py2022)
    );
    assert_eq!(report.year_layout(), "2022");
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!((report.rows, report.acos.len()), (482, 482));
    let got: Vec<_> = report
        .tracks
        .iter()
        .map(|t| (t.track, t.acos, t.within_1_dollar, t.within_0_1_percent))
        .collect();
    assert_eq!(
        got,
        [
            (Track::BasicA, 29, 29, 29),
            (Track::BasicB, 169, 169, 169),
            (Track::BasicC, 25, 25, 25),
            (Track::BasicD, 15, 14, 14),
            (Track::BasicE, 98, 98, 98),
            (Track::Enhanced, 146, 146, 146),
        ]
    );
    // A1001 (EN): 62,404,688 x 75% x 98% = 45,867,445.68.
    let first = aco(&report, "A1001");
    assert_eq!(
        (first.line, first.published, first.computed),
        (2, dec("45867446"), Some(dec("45867445.68")))
    );
    // The 15 ACOs owing losses: DisAdj cancels each in full (EarnSaveLoss 0), so the check is the
    // shared loss against the offset. A1494 (EN): 754,135 x 40% (floor) = 301,654.
    let offsets: Vec<_> = report.acos.iter().filter(|a| a.offset.is_some()).collect();
    assert_eq!(offsets.len(), 15);
    assert_eq!(
        aco(&report, "A1494").offset,
        Some(OffsetCheck {
            published: dec("301654"),
            computed: dec("301654.00")
        })
    );
    for a in &offsets {
        assert_eq!(a.published, Decimal::ZERO);
        assert!(
            a.note
                .as_deref()
                .is_some_and(|n| n.contains("DisAdj offsets"))
        );
    }
    // The one mismatch: A1070 (BASIC D) - its revenue-based loss limit, not published, binds;
    // the offset 2,320,475 is 4% of an implied participant revenue of 58,011,875.
    let mismatches: Vec<_> = report.mismatches().collect();
    assert_eq!(mismatches.len(), 1);
    let explained: Vec<_> = report.tracks.iter().map(|t| t.explained).collect();
    assert_eq!(explained, [0, 0, 0, 1, 0, 0]);
    let a1070 = mismatches[0];
    assert_eq!(
        (a1070.aco_id.as_str(), a1070.track),
        ("A1070", Track::BasicD)
    );
    assert_eq!(a1070.offset.map(|o| o.published), Some(dec("2320475")));
    assert_eq!(a1070.offset.map(|o| o.computed), Some(dec("8583191.10")));
    let cause = a1070.cause.as_deref().unwrap_or_default();
    assert!(
        cause.starts_with("loss limit / revenue unknown")
            && cause.contains("0.04 x participant revenue 58011875"),
        "{cause}"
    );
    let json = report.to_json();
    assert_eq!(json["year_layout"], "2022");
    assert_eq!(json["rows_used"], 482);
    let a1494 = json["acos"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["aco_id"] == "A1494"))
        .expect("A1494");
    assert_eq!(a1494["offset"]["diff"], "0.00");
    assert!(json["acos"][0]["offset"].is_null());
}

/// PY2013 (data.cms.gov labels, shifted one column; `(%)` cells fractions with a stray `%`;
/// savings and losses in two columns): the first 18 rows, every ACO within $1.
#[test]
fn py2013_sample_every_aco_within_one_dollar() {
    let report = backtest::run(&fixture("mssp_puf_py2013_sample.csv")).expect("runs");
    assert_eq!(
        (report.performance_year, report.layout),
        (2013, Layout::Py2013Labels)
    );
    let got: Vec<_> = report
        .tracks
        .iter()
        .map(|t| (t.track, t.acos, t.within_1_dollar))
        .collect();
    assert_eq!(got, [(Track::Track1, 15, 15), (Track::Track2, 3, 3)]);
    assert!(report.skipped.is_empty());
    // A67373: 39,568,834.84 x 50% x 98% = 19,388,729.07.
    let a = aco(&report, "A67373");
    assert_eq!(
        (a.published, a.computed),
        (dec("19388729.07"), Some(dec("19388729.07")))
    );
    assert!(
        a.note
            .as_deref()
            .is_some_and(|n| n.contains("EarnShrSavings"))
    );
    // A14269 (Track 2): 9,966,380.30 x 40% = 3,986,552.12 owed.
    assert_eq!(aco(&report, "A14269").computed, Some(dec("-3986552.12")));
}

fn tracks(report: &Report) -> Vec<(Track, usize, usize)> {
    report
        .tracks
        .iter()
        .map(|t| (t.track, t.acos, t.within_1_dollar))
        .collect()
}

/// PY2014-2015 layout (`Track1`/`Track2`, `ACO_Num` behind a BOM, `Sav_rate`/`MinSavPerc`
/// percent numbers, `QualScore`/`FinalShareRate` fractions), PY2015.
#[test]
fn py2015_layout() {
    let puf = parse(
        "\u{feff}ACO_Num,Start_Date,Track1,Track2,N_AB,Sav_rate,MinSavPerc,BnchmkMinExp,EarnSaveLoss,QualScore,QualPerfShare,FinalShareRate,ABtotBnchmk,ABtotExp\n\
         A1,01/01/2014,1,0,20000,5.0,2.5,10000000,4410000,0.9,0.5,0.45,200000000,190000000\n\
         A2,01/01/2013,0,1,10000,-3.0,2.0,-3000000,-1560000,0.8,0.6,0.48,100000000,103000000\n",
    )
    .with_performance_year(2015);
    let report = backtest::run(&puf).expect("runs");
    assert_eq!(report.year_layout(), "2014-2015");
    // 10,000,000 x 50% x 0.9 x 98%; Track 2 (before 2016: fixed 2%): 3,000,000 x (1 - 0.6 x 0.8).
    assert_eq!(aco(&report, "A1").computed, Some(dec("4410000")));
    assert_eq!(aco(&report, "A2").computed, Some(dec("-1560000")));
    assert_eq!(
        tracks(&report),
        [(Track::Track1, 1, 1), (Track::Track2, 1, 1)]
    );
}

/// PY2016-2018 layout (`Current_Track_1/_2/_3` flags, fractions), PY2017: a Track 3 savings row,
/// a Track 1 row below its MSR, and a Track 3 loss less its EUC offset.
#[test]
fn py2017_layout() {
    let puf = parse(
        "ACO_Num,Initial_Start_Date,Current_Start_Date,Current_Track_1,Current_Track_2,Current_Track_3,N_AB,Sav_rate,MinSavPerc,BnchmkMinExp,EarnSaveLoss,Met_QPS,QualScore,ABtotBnchmk,DisAdj\n\
         A1,01/01/2016,01/01/2016,0,0,1,15000,0.04,0.02,6000000,4057200,1,0.92,150000000,\n\
         A2,01/01/2015,01/01/2015,1,0,0,8000,0.025,0.032,1000000,0,1,0.95,40000000,\n\
         A3,01/01/2017,01/01/2017,0,0,1,20000,-0.02,0.01,-4000000,-1500000,1,0.9,200000000,-100000\n",
    )
    .with_performance_year(2017);
    let report = backtest::run(&puf).expect("runs");
    assert_eq!(report.year_layout(), "2016-2018");
    // 6,000,000 x 75% x 0.92 x 98% = 4,057,200.
    assert_eq!(aco(&report, "A1").computed, Some(dec("4057200")));
    // 2.5% < 3.2% (8,000 beneficiaries): nothing.
    assert_eq!(aco(&report, "A2").computed, Some(Decimal::ZERO));
    // 4,000,000 x 40% (floor of 1 - 0.75 x 0.9) - 100,000.
    assert_eq!(aco(&report, "A3").computed, Some(dec("-1500000")));
    assert_eq!(
        tracks(&report),
        [(Track::Track1, 1, 1), (Track::Track3, 2, 2)]
    );
}

/// PY2019 (`Participation_Six_Months`; `QualPerfShare`/`FinalShareRate` whole percents): the
/// 6-month row is pro-rated 6/12 (425.609); the published whole-percent rate is rebuilt from its
/// parts (0.75 x 0.9537 = 0.715275, published "72%"), and the note says so.
#[test]
fn py2019_six_month_layout() {
    let puf = parse(
        "ACO_ID,Current_Start_Date,Current_Track_1,Current_Track_2,Current_Track_3,Current_Track_1_Plus,Participation_Six_Months,N_AB,MinSavPerc,BnchmkMinExp,ABtotBnchmk,EarnSaveLoss,Met_QPS,QualScore,QualPerfShare,FinalShareRate\n\
         A1,01/01/2016,1,0,0,0,1,10000,0.03,5000000,100000000,1125000,1,0.9,50%,45%\n\
         A2,01/01/2018,0,0,1,0,0,20000,0.02,3000000,100000000,2145825,1,0.9537,75%,72%\n",
    );
    let report = backtest::run(&puf).expect("runs");
    assert_eq!(
        (report.performance_year, report.year_layout()),
        (2019, "2019/2019A")
    );
    // 5,000,000 x 50% x 0.9 (no sequestration of PY2019 payments) x 6/12.
    let a1 = aco(&report, "A1");
    assert_eq!(a1.computed, Some(dec("1125000")));
    assert!(
        a1.note
            .as_deref()
            .is_some_and(|n| n.contains("Participation_Six_Months = 1"))
    );
    let a2 = aco(&report, "A2");
    assert_eq!(a2.computed, Some(dec("2145825")));
    assert!(
        a2.note.as_deref().is_some_and(|n| n.contains(
            "FinalShareRate 0.72 is published rounded to 2 dp: rebuilt from its parts, QualPerfShare 0.75 x QualScore 0.9537 = 0.715275"
        )),
        "{a2:?}"
    );
    assert_eq!(report.mismatches().count(), 0);
}

/// PY2019A (July-December 2019, BASIC/ENHANCED flags, agreements starting 2019-07-01): the six
/// months are inferred from the start date and the note says so.
#[test]
fn py2019a_layout() {
    let puf = parse(
        "ACO_ID,Current_Start_Date,Current_BASIC_A,Current_BASIC_B,Current_BASIC_C,Current_BASIC_D,Current_BASIC_E,Current_ENHANCED,N_AB,MinSavPerc,BnchmkMinExp,ABtotBnchmk,EarnSaveLoss,Met_QPS,QualScore,QualPerfShare,FinalShareRate\n\
         A1,07/01/2019,1,0,0,0,0,0,6000,0.036,4000000,80000000,760000,1,0.95,40%,38%\n\
         A2,07/01/2019,0,0,0,0,0,1,30000,0,-1000000,100000000,-200000,1,0.9,75%,67.5%\n",
    )
    .with_performance_year(2019);
    let report = backtest::run(&puf).expect("runs");
    assert_eq!(report.year_layout(), "2019A");
    // 4,000,000 x 40% x 0.95 x 6/12; ENHANCED 1,000,000 x 40% (floor) x 6/12.
    assert_eq!(aco(&report, "A1").computed, Some(dec("760000")));
    assert_eq!(aco(&report, "A2").computed, Some(dec("-200000")));
    assert!(
        aco(&report, "A1")
            .note
            .as_deref()
            .is_some_and(|n| n.contains("6-month July-December period inferred"))
    );
    assert_eq!(report.mismatches().count(), 0);
}

/// PY2020 (BASIC flags and Track 1+, `QualScore` in percent, `FinalShareRate` rounded to 2 dp):
/// sharing from the unrounded parts (0.4 x 0.9781 = 0.39124, published 0.39).
#[test]
fn py2020_layout() {
    let puf = parse(
        "ACO_ID,Current_Start_Date,Current_Track_1_Plus,Current_BASIC_A,Current_BASIC_B,Current_BASIC_C,Current_BASIC_D,Current_BASIC_E,Current_ENHANCED,Risk_Model,N_AB,Sav_rate,MinSavPerc,BnchmkMinExp,ABtotBnchmk,EarnSaveLoss,Met_QPS,QualScore,FinalShareRate\n\
         A1,07/01/2019,0,0,1,0,0,0,0,One-Sided,3000,0.0667,0.05,2000000,30000000,782480,1,97.81,0.39\n\
         A2,01/01/2018,1,0,0,0,0,0,0,Two-Sided,10000,0.03,0.02,3000000,100000000,1387500,1,92.5,0.46\n\
         A3,07/01/2019,0,0,0,0,0,0,1,One-Sided,10000,0.001,0.02,100000,100000000,0,1,92.5,-\n",
    )
    .with_performance_year(2020);
    let report = backtest::run(&puf).expect("runs");
    assert_eq!(report.year_layout(), "2020-2021");
    let a1 = aco(&report, "A1");
    // 2,000,000 x 0.4 x 0.9781 (no sequestration of PY2020 payments).
    assert_eq!(a1.computed, Some(dec("782480")));
    assert!(
        a1.note.as_deref().is_some_and(|n| n.contains(
            "rebuilt from its parts, maximum sharing rate 0.4 x QualScore 0.9781 = 0.39124"
        )),
        "{a1:?}"
    );
    // Track 1+: 3,000,000 x 50% x 0.925.
    assert_eq!(aco(&report, "A2").computed, Some(dec("1387500")));
    // The published risk model is checked against the track.
    assert_eq!(
        aco(&report, "A3").note.as_deref(),
        Some("Risk_Model \"One-Sided\" disagrees with TRACK_ENHANCED, which is two-sided")
    );
    assert!(
        aco(&report, "A2")
            .note
            .as_deref()
            .is_some_and(|n| !n.contains("Risk_Model"))
    );
    assert_eq!(
        tracks(&report),
        [
            (Track::Track1Plus, 1, 1),
            (Track::BasicB, 1, 1),
            (Track::Enhanced, 1, 1)
        ]
    );
}

/// PY2021 ("%" strings, thousands separators, full-rate sharing when the standard is met, the
/// COVID-19 offset cancelling an ENHANCED loss).
#[test]
fn py2021_layout() {
    let puf = parse(
        "ACO_ID,Current_Start_Date,Current_BASIC_C,Current_ENHANCED,N_AB,MinSavPerc,BnchmkMinExp,ABtotBnchmk,DisAdj,EarnSaveLoss,Met_QPS,QualScore,Rev_Exp_Cat\n\
         A1,07/01/2019,1,0,\"12,000\",1.00%,\"2,500,000\",\"100,000,000\",,\"1,225,000\",1,88.12%,Low Revenue\n\
         A2,07/01/2019,0,1,\"20,000\",2.00%,\"-2,000,000\",\"80,000,000\",\"-1,500,000\",0,0,55.00%,High Revenue\n\
         A3,07/01/2019,0,1,\"20,000\",2.00%,\"-2,000,000\",\"80,000,000\",\"-1,200,000\",0,0,55.00%,High Revenue\n\
         A4,07/01/2019,0,1,\"20,000\",2.00%,\"-13,280,553\",\"200,000,000\",\"-6,245,064\",0,1,70.63%,High Revenue\n",
    )
    .with_performance_year(2021);
    let report = backtest::run(&puf).expect("runs");
    // BASIC C: 2,500,000 x 50% x 98%; revenue not needed (no losses).
    let a1 = aco(&report, "A1");
    assert_eq!(a1.computed, Some(dec("1225000")));
    assert!(
        a1.note
            .as_deref()
            .is_some_and(|n| n.contains("revenue not published"))
    );
    // ENHANCED, standard not met: 2,000,000 x 75% = 1,500,000, cancelled by the offset.
    let a2 = aco(&report, "A2");
    assert_eq!(a2.computed, Some(Decimal::ZERO));
    assert_eq!(
        a2.offset,
        Some(OffsetCheck {
            published: dec("1500000"),
            computed: dec("1500000")
        })
    );
    assert!(a2.within_1_dollar());
    // The same loss with an offset 300,000 short of it: EarnSaveLoss 0 would hide the loss rules'
    // disagreement; the offset check does not.
    let a3 = aco(&report, "A3");
    assert_eq!(a3.offset.map(|o| o.diff()), Some(dec("300000")));
    assert!(!a3.within_1_dollar() && !a3.within_0_1_percent());
    assert_eq!(a3.cause.as_deref(), Some("unexplained"));
    assert!(!a3.is_explained());
    // An ENHANCED loss cancelled by the offset, with the score published rounded: CMS's offset
    // 6,245,064 = 13,280,553 x (1 - 0.75 x 0.706345); from "70.63%" the rule gives 6,245,512.06.
    let a4 = aco(&report, "A4");
    assert_eq!(a4.offset.map(|o| o.diff()), Some(dec("448.06")));
    assert!(!a4.within_1_dollar() && a4.within_0_1_percent() && a4.is_explained());
    assert_eq!(
        a4.cause.as_deref(),
        Some(
            "published QualScore rounded to 4 dp: implied quality 0.706345 lies within +/-0.00005 of 0.7063"
        )
    );
}

/// PY2021 Track 1+ (17 such ACOs in the PY2021 results): agreements from 2018-01-01 extended
/// through 2021 (425.200(b)(3)(ii)(B), the COVID-19 extension) and from 2019-01-01 (3 years) are
/// reconciled, not refused. `RevLossLimit` says which side of the Track 1+ loss limit CMS applied
/// (min(8% of participant revenue, 4% of the benchmark) [R]; revenue is never published): 0 = the
/// benchmark side, so a loss is computed exactly and a smaller published loss stays unexplained;
/// 1 = the revenue side, and the revenue the published loss implies is reported.
#[test]
fn py2021_track_1_plus_and_the_revenue_loss_limit_flag() {
    let puf = parse(
        "ACO_ID,Current_Start_Date,Current_Track_1_Plus,Current_BASIC_C,Current_ENHANCED,N_AB,MinSavPerc,BnchmkMinExp,ABtotBnchmk,DisAdj,EarnSaveLoss,Met_QPS,QualScore,RevLossLimit,Rev_Exp_Cat\n\
         P1,01/01/2018,1,0,0,\"10,000\",2.00%,\"3,000,000\",\"100,000,000\",,\"1,470,000\",1,90.00%,0,High Revenue\n\
         P2,01/01/2019,1,0,0,\"10,000\",2.00%,\"-3,000,000\",\"100,000,000\",,\"-900,000\",1,90.00%,0,High Revenue\n\
         P3,01/01/2019,1,0,0,\"10,000\",2.00%,\"-10,000,000\",\"100,000,000\",,\"-2,400,000\",1,90.00%,1,Low Revenue\n\
         P4,01/01/2019,1,0,0,\"10,000\",2.00%,\"-10,000,000\",\"100,000,000\",,\"-2,400,000\",1,90.00%,0,High Revenue\n",
    )
    .with_performance_year(2021);
    let report = backtest::run(&puf).expect("runs");
    assert_eq!(report.skipped, []);
    // 2018 start, PY2021 (the extended fourth year): 3,000,000 x 50% x 98%.
    assert_eq!(aco(&report, "P1").computed, Some(dec("1470000")));
    // 3,000,000 x 30% = 900,000, under 4% x 100,000,000; RevLossLimit = 0: exact.
    let p2 = aco(&report, "P2");
    assert_eq!(p2.computed, Some(dec("-900000")));
    assert!(
        p2.note.as_deref().is_some_and(|n| n.contains(
            "RevLossLimit = 0, so the benchmark-based loss limit applied and the result is exact"
        )),
        "{p2:?}"
    );
    // 10,000,000 x 30% = 3,000,000 under the 4,000,000 benchmark limit; CMS collected 2,400,000:
    // with RevLossLimit = 1 that is 8% of a revenue of 30,000,000.
    let p3 = aco(&report, "P3");
    assert_eq!(p3.computed, Some(dec("-3000000")));
    assert!(p3.is_explained(), "{p3:?}");
    assert!(
        p3.cause.as_deref().is_some_and(|c| c.starts_with(
            "loss limit / revenue unknown: RevLossLimit = 1 (the revenue-based side applied)"
        ) && c.contains("participant revenue 30000000")),
        "{p3:?}"
    );
    // The same amounts with RevLossLimit = 0: the file rules the revenue out.
    let p4 = aco(&report, "P4");
    assert_eq!(p4.cause.as_deref(), Some("unexplained"));
    assert_eq!(tracks(&report), [(Track::Track1Plus, 4, 2)]);
}

/// PY2023 (letters, `Met_AltQPS`, `FinalLossRate`; no PY column: the layout says 2023): the
/// alternative quality standard shares at the maximum rate x the quality score
/// (425.512(a)(4)(ii), 425.605(d)(1)(i)(A)(3)) and sets the ENHANCED loss rate to
/// 1 - 0.75 x score (425.610(f)(3)); neither standard: no savings, 75% loss rate.
#[test]
fn py2023_alternative_quality_standard() {
    let puf = parse(
        "ACO_ID,Current_Start_Date,Current_Track,Risk_Model,N_AB,Sav_rate,MinSavPerc,BnchmkMinExp,DisAdj,Impact_Mid_Year_Termination,EarnSaveLoss,Met_QPS,Met_AltQPS,QualScore,ABtotBnchmk,FinalShareRate,FinalLossRate\n\
         A1,01/01/2022,A,One-Sided,10000,6.00%,3.00%,6000000,,-,1775760,0,1,75.50%,100000000,30.20%,-\n\
         A2,01/01/2023,EN,Two-Sided,20000,-2.50%,2.00%,-5000000,,-,-2750000,0,1,60.00%,200000000,-,55.00%\n\
         A3,01/01/2023,EN,Two-Sided,20000,-2.00%,2.00%,-2000000,,-,-1500000,0,0,20.00%,100000000,-,75.00%\n\
         A4,01/01/2022,B,One-Sided,10000,6.00%,3.00%,6000000,,-,0,0,0,20.00%,100000000,0.00%,-\n",
    );
    let report = backtest::run(&puf).expect("runs");
    assert_eq!(
        (report.performance_year, report.year_layout()),
        (2023, "2023")
    );
    // 6,000,000 x 40% x 0.755 x 98% = 1,775,760.
    assert_eq!(aco(&report, "A1").computed, Some(dec("1775760")));
    // 5,000,000 x (1 - 0.75 x 0.6 = 55%).
    assert_eq!(aco(&report, "A2").computed, Some(dec("-2750000")));
    assert_eq!(aco(&report, "A3").computed, Some(dec("-1500000")));
    assert_eq!(aco(&report, "A4").computed, Some(Decimal::ZERO));
    assert_eq!(report.mismatches().count(), 0);
    assert!(
        report.acos.iter().all(|a| a.note.is_none()),
        "{:?}",
        report.acos
    );
}

/// A termination during the year (PY2023 `Impact_Mid_Year_Termination` = 1): CMS collects the
/// shared loss pro-rated to the months before the termination (42 CFR 425.221(b)(2)(ii)), which the
/// PUF does not publish, so the row cannot be reproduced; the cause is claimed only when the
/// published amount is the computed loss x k/12 for whole months k. T1: ENHANCED, 5,000,000 loss on
/// 200,000,000 (2.5% > the 2% MLR), alternative standard at 60%: loss rate 1 - 0.75 x 0.6 = 55%,
/// 2,750,000 for the year; CMS collected 2,062,500 = 2,750,000 x 9/12. T2: the same loss, 2,000,000
/// collected (x 8.73/12): no whole month fits, unexplained. T3: flagged, savings: reproduced.
#[test]
fn mid_year_termination_is_checked_not_reproduced() {
    let puf = parse(
        "ACO_ID,Current_Start_Date,Current_Track,Risk_Model,N_AB,Sav_rate,MinSavPerc,BnchmkMinExp,DisAdj,Impact_Mid_Year_Termination,EarnSaveLoss,Met_QPS,Met_AltQPS,QualScore,ABtotBnchmk,FinalShareRate,FinalLossRate\n\
         T1,01/01/2023,EN,Two-Sided,20000,-2.50%,2.00%,-5000000,,1,-2062500,0,1,60.00%,200000000,-,55.00%\n\
         T2,01/01/2023,EN,Two-Sided,20000,-2.50%,2.00%,-5000000,,1,-2000000,0,1,60.00%,200000000,-,55.00%\n\
         T3,01/01/2022,A,One-Sided,10000,6.00%,3.00%,6000000,,1,1775760,0,1,75.50%,100000000,30.20%,-\n",
    );
    let report = backtest::run(&puf).expect("runs");
    let t1 = aco(&report, "T1");
    assert_eq!(t1.computed, Some(dec("-2750000")));
    assert!(t1.is_explained());
    assert_eq!(
        t1.cause.as_deref(),
        Some(
            "shared losses pro-rated for a termination during the year (Prorate_Shared_Losses / Impact_Mid_Year_Termination set; 42 CFR 425.221(b)(2)(ii)): the published 2062500 is the computed shared loss 2750000.00 x 9/12, the months before the termination, which the PUF does not publish"
        )
    );
    let t2 = aco(&report, "T2");
    assert_eq!(t2.computed, Some(dec("-2750000")));
    assert_eq!(t2.cause.as_deref(), Some("unexplained"));
    assert!(!t2.is_explained());
    let t3 = aco(&report, "T3");
    assert_eq!(t3.computed, Some(dec("1775760")));
    assert!(t3.cause.is_none());
}

/// PY2024 (plain percent numbers, CRLF, quoted and bare cells, `^`/`*` markers): the reduced
/// sharing rate of 425.605(h) from the first dollar, advance investment payments recouped beside
/// `EarnSaveLoss`, a 0.5% MSR read as 0.5% although every cell of the column is <= 1, and a
/// `ReducedSS` row whose published inputs fail 425.605(h).
#[test]
fn py2024_reduced_sharing_and_advance_investment_payments() {
    let puf = parse(
        "ACO_ID,Current_Start_Date,Current_Track,Risk_Model,N_AB,Sav_rate,MinSavPerc,BnchmkMinExp,DisAdj,Impact_Mid_Year_Termination,EarnSaveLoss,Met_QPS,Met_AltQPS,QualScore,AIP,AIPBalance,AIPRecoup,AIPOwe,ABtotBnchmk,FinalShareRate,ReducedSS,FinalLossRate,Rev_Exp_Cat\r\n\
         \"A1\",\"01/01/2024\",\"A\",\"One-Sided\",\"8000\",\"2.00\",\"0\",\"2000000\",\"\",\"0\",\"392000\",\"1\",\"\",\"80.5\",\"1\",\"460000\",\"150000\",\"0\",\"100000000\",\"20.00\",\"1\",\"\",\"Low Revenue\"\r\n\
         A2,01/01/2024,E,Two-Sided,12000,2.00,0.5,3000000,^,0,1029000,0,1,70,0,,,,150000000,35.00,0,,High Revenue\r\n\
         A3,01/01/2022,EN,Two-Sided,20000,-2.00,1,-3000000,^,0,-1200000,1,,90,0,,,,150000000,,0,40.00,High Revenue\r\n\
         A4,01/01/2024,B,One-Sided,9000,2.00,0,1000000,,0,*,1,,85,0,,,,50000000,20.00,1,,Low Revenue\r\n\
         A5,01/01/2024,B,One-Sided,4000,2.00,0,1000000,,0,196000,1,,85,0,,,,50000000,20.00,1,,Low Revenue\r\n",
    )
    .with_performance_year(2024);
    let report = backtest::run(&puf).expect("runs");
    assert_eq!(
        (report.layout, report.year_layout()),
        (Layout::Py2024, "2024+")
    );
    // A1: 2% < 3.2% MSR, low revenue, 8,000 >= 5,000, agreement 2024: 40% / 2 x 2,000,000 x 98%.
    let a1 = aco(&report, "A1");
    assert_eq!(a1.computed, Some(dec("392000")));
    assert_eq!(
        a1.aip,
        Some(AipRecoupment {
            recouped: dec("150000"),
            owed: Some(Decimal::ZERO),
            balance: Some(dec("460000")),
            net_paid_published: dec("242000"),
            net_paid_computed: Some(dec("242000")),
        })
    );
    assert!(
        a1.note
            .as_deref()
            .is_some_and(|n| n.contains("150000 recouped"))
    );
    // A2: 0.5% MSR (a plain percent), alternative standard: 3,000,000 x 50% x 0.7 x 98%.
    assert_eq!(aco(&report, "A2").computed, Some(dec("1029000")));
    // A3: 3,000,000 x 40% (floor of 1 - 0.75 x 0.9).
    assert_eq!(aco(&report, "A3").computed, Some(dec("-1200000")));
    // A4: suppressed EarnSaveLoss, reported with its line (CRLF line ends counted right).
    assert_eq!(report.skipped, [(5, "EarnSaveLoss missing".to_string())]);
    // A5: CMS shows the half rate, but 4,000 beneficiaries fall short of 425.605(h)(iii).
    let a5 = aco(&report, "A5");
    assert_eq!(a5.computed, Some(Decimal::ZERO));
    assert_eq!(
        a5.cause.as_deref(),
        Some(
            "ReducedSS = 1 (CMS applied the 425.605(h) half rate) although the published inputs fail 425.605(h): 4000 assigned beneficiaries, fewer than 5,000 (425.605(h)(iii))"
        )
    );
    let json = report.to_json();
    assert_eq!(json["acos"][0]["aip"]["net_paid_published"], "242000");
    assert_eq!(json["acos"][0]["aip"]["net_paid_computed"], "242000.00");
    assert_eq!(json["acos"][0]["aip"]["balance"], "460000");
    assert!(json["acos"][1]["aip"].is_null());
    assert_eq!(
        (json["rows"].as_u64(), json["rows_used"].as_u64()),
        (Some(5), Some(4))
    );
}

/// A cell anywhere in the representable range: any `Decimal` (all 96-bit mantissas and scales),
/// as a bare number, a percent, a parenthesised negative or a dollar amount, or a marker, a flag,
/// a date or a track code.
fn any_cell() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let decimal = (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<bool>(),
        0u32..=28,
    )
        .prop_map(|(lo, mid, hi, neg, scale)| Decimal::from_parts(lo, mid, hi, neg, scale));
    prop_oneof![
        decimal.clone().prop_map(|d| d.to_string()),
        decimal.clone().prop_map(|d| format!("{d}%")),
        decimal.prop_map(|d| format!("(${})", d.abs())),
        (0u64..2_000_000_000).prop_map(|n| n.to_string()),
        prop::sample::select(vec![
            "",
            "-",
            "*",
            "^",
            "/",
            "P4R",
            "0",
            "1",
            "A",
            "B",
            "C",
            "D",
            "E",
            "EN",
            "Track 1",
            "01/01/2024",
            "07/01/2019",
            "2016-01-01",
            "02/30/2019",
            "Low Revenue",
            "1,000,000",
        ])
        .prop_map(String::from),
        "[ -~]{0,12}",
    ]
}

proptest::proptest! {
    /// Any cells in the 2024 layout's columns, any performance year: no panic, and every row is
    /// either compared or reported with its line and reason (never silently dropped).
    #[test]
    fn no_row_is_silently_dropped(
        rows in proptest::collection::vec(
            proptest::option::weighted(
                0.8,
                proptest::collection::vec(proptest::option::weighted(0.25, any_cell()), 24),
            ),
            1..8,
        ),
        py in 2012i32..2030,
    ) {
        const HEADER: &str = "ACO_ID,Current_Start_Date,Current_Track,N_AB,MinSavPerc,BnchmkMinExp,DisAdj,Impact_Mid_Year_Termination,EarnSaveLoss,Met_QPS,Met_AltQPS,QualScore,AIPRecoup,AIPOwe,ABtotBnchmk,ABtotExp,FinalShareRate,ReducedSS,FinalLossRate,Rev_Exp_Cat,Participation_Six_Months,QualPerfShare,RevLossLimit,Prorate_Shared_Losses";
        // A plausible PY2024 row; each cell replaced by an arbitrary one a quarter of the time.
        const BASE: [&str; 24] = [
            "A1", "01/01/2024", "E", "12000", "0.5", "3000000", "", "0", "1029000", "0", "1",
            "70", "150000", "0", "150000000", "147000000", "35.00", "1", "40.00", "Low Revenue",
            "0", "50", "0", "0",
        ];
        let mut csv = format!("{HEADER}\n");
        let untouched = vec![None; 24];
        for row in &rows {
            let cells: Vec<String> = row
                .as_ref()
                .unwrap_or(&untouched)
                .iter()
                .zip(BASE)
                .map(|(c, base)| format!("\"{}\"", c.as_deref().unwrap_or(base).replace('"', "")))
                .collect();
            csv.push_str(&cells.join(","));
            csv.push('\n');
        }
        let puf = parse(&csv).with_performance_year(py);
        let report = backtest::run(&puf).expect("columns present");
        proptest::prop_assert_eq!(report.acos.len() + report.skipped.len(), rows.len());
        proptest::prop_assert_eq!(report.rows, rows.len());
        let lines: Vec<usize> = report
            .acos
            .iter()
            .map(|a| a.line)
            .chain(report.skipped.iter().map(|(l, _)| *l))
            .collect();
        proptest::prop_assert!(lines.iter().all(|l| (2..2 + rows.len()).contains(l)));
        let _ = (report.to_table(), report.to_json());
        // An untouched base row reaches the engine (in the performance years of its 2024-01-01
        // agreement: 2024-2028, 42 CFR 425.200(b)(5)).
        for (i, row) in rows.iter().enumerate() {
            if row.is_none() && (2024..=2028).contains(&py) {
                let line = i + 2;
                proptest::prop_assert!(
                    report.acos.iter().any(|a| a.line == line && a.computed.is_some()),
                    "line {}: {:?}", line, report.skipped
                );
            }
        }
    }
}

/// PY2013 with machine names (`EarnShrSavings` and `OweLosses` instead of `EarnSaveLoss`, a
/// `Track2` flag only), and a PY2024 alternative-standard row below the MSR whose published rate
/// is the half of 425.605(h): 40% x 0.805 / 2 = 16.1%, published "16.10".
#[test]
fn py2013_machine_names_and_half_rate_notes() {
    let puf = parse(
        "ACO_Num,Start_Date,Track2,N_AB,MinSavPerc,QualScore,FinalShareRate,ABtotBnchmk,ABtotExp,BnchmkMinExp,EarnShrSavings,OweLosses\n\
         A1,07/01/2012,0,20000,0.025,1,0.5,200000000,190000000,10000000,4900000,\n\
         A2,01/01/2013,1,10000,0.02,1,0.6,100000000,103000000,-3000000,0,1200000\n",
    );
    let report = backtest::run(&puf).expect("runs");
    assert_eq!(
        (report.layout, report.performance_year),
        (Layout::Py2013, 2013)
    );
    // 10,000,000 x 50% x 98%; Track 2: 3,000,000 x (1 - 60%).
    assert_eq!(aco(&report, "A1").computed, Some(dec("4900000")));
    assert_eq!(aco(&report, "A2").computed, Some(dec("-1200000")));
    assert_eq!(aco(&report, "A2").published, dec("-1200000"));
    assert_eq!(report.mismatches().count(), 0);

    let puf = parse(
        "ACO_ID,Current_Start_Date,Current_Track,N_AB,MinSavPerc,BnchmkMinExp,EarnSaveLoss,Met_QPS,Met_AltQPS,QualScore,ABtotBnchmk,FinalShareRate,ReducedSS,Rev_Exp_Cat\n\
         A1,01/01/2024,A,8000,3.2,2000000,315560,0,1,80.5,100000000,16.10,1,Low Revenue\n",
    )
    .with_performance_year(2024);
    let report = backtest::run(&puf).expect("runs");
    let a1 = aco(&report, "A1");
    // 2,000,000 x 16.1% x 98% = 315,560.
    assert_eq!(a1.computed, Some(dec("315560")));
    assert_eq!(
        a1.note, None,
        "the published half rate is the rebuilt one exactly"
    );
}
