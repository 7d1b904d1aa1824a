//! What a load run measured: HDR histograms of latency (`hdrhistogram`, microseconds, 3
//! significant digits), counts by gRPC status code and by error message, interim lines, and the
//! summary printed, as ghz shows it, plus its JSON and per-call CSV forms.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use tonic::Code;

/// The canonical name of a gRPC status code (`OK`, `INVALID_ARGUMENT`, ...).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// A call's answer without its message: OK, or the status it failed with.
pub type Outcome = Result<(), tonic::Status>;

/// Most distinct error messages counted one by one; the rest are counted together under
/// [`OTHER_MESSAGES`] (a server that puts a varying value in its messages must not grow the
/// recorder without bound).
const MAX_MESSAGES: usize = 32;

/// The message under which errors beyond [`MAX_MESSAGES`] distinct ones are counted.
pub const OTHER_MESSAGES: &str = "(other messages)";

/// A status's message and, for errors raised below gRPC (a connection torn down, an HTTP/2 reset),
/// the chain of errors under it, joined with ": " (tonic's own message there is only "transport
/// error" or "h2 protocol error").
fn message_of(status: &tonic::Status) -> String {
    let mut message = status.message().to_owned();
    let mut source = std::error::Error::source(status);
    while let Some(e) = source {
        let text = e.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = e.source();
    }
    message
}

/// Longest latency the histograms hold (an hour, in microseconds); longer ones are clamped.
const MAX_MICROS: u64 = 3_600_000_000;

fn histogram() -> Histogram<u64> {
    // Bounds are constants that hdrhistogram accepts (low 1 >= 1, high >= 2 * low, sigfig 3).
    Histogram::new_with_bounds(1, MAX_MICROS, 3).unwrap_or_else(|_| unreachable!())
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// One measured call, for `--csv`.
#[derive(Debug, Clone, Copy)]
struct Row {
    index: u64,
    at: Duration,
    latency: Duration,
    code: Code,
}

#[derive(Debug)]
struct Inner {
    all: Histogram<u64>,
    ok: Histogram<u64>,
    service: Histogram<u64>,
    window: Histogram<u64>,
    codes: BTreeMap<&'static str, u64>,
    messages: BTreeMap<(&'static str, String), u64>,
    window_errors: u64,
    units: u64,
    last: Duration,
    rows: Option<Vec<Row>>,
}

/// Collects the measured calls (shared by the workers).
#[derive(Debug)]
pub struct Recorder {
    inner: Mutex<Inner>,
}

impl Recorder {
    /// A recorder; `rows` keeps every call for `--csv`.
    pub fn new(rows: bool) -> Self {
        Self {
            inner: Mutex::new(Inner {
                all: histogram(),
                ok: histogram(),
                service: histogram(),
                window: histogram(),
                codes: BTreeMap::new(),
                messages: BTreeMap::new(),
                window_errors: 0,
                units: 0,
                last: Duration::ZERO,
                rows: rows.then(Vec::new),
            }),
        }
    }

    /// Records call `index`, due at `at` (from the start of measurement) and answered `outcome`
    /// after `latency` from when it was due (open loop: the coordinated-omission-corrected figure)
    /// and `service` from when it was sent; `units` are the claim lines or records it carried.
    pub fn record(
        &self,
        index: u64,
        at: Duration,
        latency: Duration,
        service: Duration,
        outcome: &Outcome,
        units: u64,
    ) {
        let code = outcome
            .as_ref()
            .map_or_else(tonic::Status::code, |()| Code::Ok);
        // The message (and its error chain) is built before the lock the workers share.
        let message = outcome.as_ref().err().map(message_of);
        let Ok(mut g) = self.inner.lock() else {
            return;
        };
        let (l, s) = (micros(latency), micros(service));
        g.all.saturating_record(l);
        g.service.saturating_record(s);
        g.window.saturating_record(l);
        *g.codes.entry(code_name(code)).or_default() += 1;
        if let Some(message) = message {
            g.window_errors += 1;
            let name = code_name(code);
            let key = (name, message);
            if let Some(n) = g.messages.get_mut(&key) {
                *n += 1;
            } else if g.messages.len() < MAX_MESSAGES {
                g.messages.insert(key, 1);
            } else {
                *g.messages.entry((name, OTHER_MESSAGES.into())).or_default() += 1;
            }
        } else {
            g.ok.saturating_record(l);
            g.units += units;
        }
        g.last = g.last.max(at + latency);
        if let Some(rows) = &mut g.rows {
            rows.push(Row {
                index,
                at,
                latency,
                code,
            });
        }
    }

    /// The calls recorded since the previous call of `interim`, as one line.
    pub fn interim(&self, elapsed: Duration, since_last: Duration) -> Option<Interim> {
        let mut g = self.inner.lock().ok()?;
        let calls = g.window.len();
        let line = Interim {
            elapsed_s: elapsed.as_secs_f64(),
            calls,
            rps: calls as f64 / since_last.as_secs_f64().max(1e-9),
            p50_ms: g.window.value_at_quantile(0.5) as f64 / 1e3,
            p99_ms: g.window.value_at_quantile(0.99) as f64 / 1e3,
            max_ms: g.window.max() as f64 / 1e3,
            errors: g.window_errors,
        };
        g.window.reset();
        g.window_errors = 0;
        Some(line)
    }

    /// Calls recorded so far.
    pub fn calls(&self) -> u64 {
        self.inner.lock().map_or(0, |g| g.all.len())
    }

    /// The summary; `elapsed` is the measured phase's length when known (else the latest answer).
    pub fn finish(&self, meta: Meta, elapsed: Option<Duration>, interim: Vec<Interim>) -> Report {
        let g = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let elapsed = elapsed.unwrap_or(g.last).max(Duration::from_micros(1));
        let secs = elapsed.as_secs_f64();
        let count = g.all.len();
        let ok = g.codes.get("OK").copied().unwrap_or(0);
        let latency = Latency::of(&g.all);
        let latency_ok = Latency::of(&g.ok);
        let service = Latency::of(&g.service);
        let rows = g.rows.as_ref().map(|rows| {
            let mut s = String::from("index,start_s,latency_ms,status\n");
            for r in rows {
                let _ = writeln!(
                    s,
                    "{},{:.6},{:.3},{}",
                    r.index,
                    r.at.as_secs_f64(),
                    r.latency.as_secs_f64() * 1e3,
                    code_name(r.code)
                );
            }
            s
        });
        Report {
            meta,
            count,
            ok,
            errors: count - ok,
            elapsed_s: secs,
            rps: count as f64 / secs,
            ok_rps: ok as f64 / secs,
            units: g.units,
            units_per_s: g.units as f64 / secs,
            latency,
            latency_ok,
            service_time: service,
            status: g.codes.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
            error_distribution: {
                let mut e: Vec<ErrorCount> = g
                    .messages
                    .iter()
                    .map(|((code, message), count)| ErrorCount {
                        count: *count,
                        code: (*code).to_owned(),
                        message: message.clone(),
                    })
                    .collect();
                e.sort_by_key(|x| std::cmp::Reverse(x.count));
                e
            },
            interim,
            csv: rows,
        }
    }
}

/// Latency percentiles, milliseconds (all 0 when no call was answered).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Latency {
    /// Fastest.
    pub min_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |v: u64| v as f64 / 1e3;
        if h.is_empty() {
            return Self::default();
        }
        Self {
            min_ms: ms(h.min()),
            mean_ms: h.mean() / 1e3,
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }

    /// The distribution as ghz prints it: (percentile, milliseconds), up to the slowest call.
    fn distribution(&self) -> [(&'static str, f64); 5] {
        [
            ("50", self.p50_ms),
            ("90", self.p90_ms),
            ("99", self.p99_ms),
            ("99.9", self.p999_ms),
            ("100", self.max_ms),
        ]
    }
}

/// One interim line (`--interval`).
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Interim {
    /// Seconds since measurement started.
    pub elapsed_s: f64,
    /// Calls answered in the interval.
    pub calls: u64,
    /// Their rate.
    pub rps: f64,
    /// Median latency in the interval.
    pub p50_ms: f64,
    /// 99th percentile in the interval.
    pub p99_ms: f64,
    /// Slowest in the interval.
    pub max_ms: f64,
    /// Calls not answered OK.
    pub errors: u64,
}

impl std::fmt::Display for Interim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{:7.1}s] {:>8} calls {:>10.1}/s  p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms  errors {}",
            self.elapsed_s,
            self.calls,
            self.rps,
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
            self.errors
        )
    }
}

/// How the run was set up (echoed in the report).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Meta {
    /// The RPC, fully qualified.
    pub call: String,
    /// Server address.
    pub target: String,
    /// `closed` (concurrency) or `open` (rate).
    pub mode: String,
    /// Closed loop: workers; open loop: the most calls in flight.
    pub concurrency: u64,
    /// HTTP/2 connections.
    pub connections: usize,
    /// Open loop: the schedule.
    pub schedule: Option<String>,
    /// Warm-up excluded from the figures, seconds.
    pub warmup_s: f64,
    /// Share of requests made invalid on purpose.
    pub invalid_fraction: f64,
    /// Open loop: latency counted from when each call was due, not when it was sent.
    pub coordinated_omission_corrected: bool,
    /// What `units` counts (claim lines, beneficiary-years), if anything.
    pub units: Option<String>,
}

/// How many calls failed with one code and message.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ErrorCount {
    /// Calls.
    pub count: u64,
    /// Their gRPC status code.
    pub code: String,
    /// Their status message (or [`OTHER_MESSAGES`]).
    pub message: String,
}

/// The summary of a run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// Setup.
    #[serde(flatten)]
    pub meta: Meta,
    /// Calls measured (warm-up excluded).
    pub count: u64,
    /// Of which answered OK.
    pub ok: u64,
    /// Of which not OK.
    pub errors: u64,
    /// Length of the measured phase, seconds.
    pub elapsed_s: f64,
    /// Calls answered per second.
    pub rps: f64,
    /// OK answers per second.
    pub ok_rps: f64,
    /// Units carried by OK calls (see `meta.units`).
    pub units: u64,
    /// Their rate.
    pub units_per_s: f64,
    /// Latency (open loop: from when each call was due).
    pub latency: Latency,
    /// The same, of the calls answered OK only (under overload: of the calls accepted).
    pub latency_ok: Latency,
    /// Latency from when each call was sent.
    pub service_time: Latency,
    /// Calls by gRPC status.
    pub status: BTreeMap<String, u64>,
    /// The errors by code and message, most frequent first (ghz's "Error distribution").
    pub error_distribution: Vec<ErrorCount>,
    /// Interim lines.
    pub interim: Vec<Interim>,
    /// Per-call rows (`--csv`), not in the JSON.
    #[serde(skip)]
    pub csv: Option<String>,
}

impl Report {
    /// The summary as ghz prints it.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let m = &self.meta;
        let _ = writeln!(s, "Summary:");
        let _ = writeln!(s, "  Call:          {}", m.call);
        let _ = writeln!(s, "  Target:        {}", m.target);
        match &m.schedule {
            Some(sch) => {
                let _ = writeln!(
                    s,
                    "  Load:          open loop, {sch} (at most {} in flight; latency from when due)",
                    m.concurrency
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "  Load:          closed loop, concurrency {}",
                    m.concurrency
                );
            }
        }
        let _ = writeln!(s, "  Connections:   {}", m.connections);
        if m.warmup_s > 0.0 {
            let _ = writeln!(s, "  Warm-up:       {:.2} s (excluded)", m.warmup_s);
        }
        if m.invalid_fraction > 0.0 {
            let _ = writeln!(s, "  Invalid:       {:.3} of requests", m.invalid_fraction);
        }
        let l = &self.latency;
        let _ = writeln!(s, "  Count:         {}", self.count);
        let _ = writeln!(s, "  Total:         {:.2} s", self.elapsed_s);
        let _ = writeln!(s, "  Slowest:       {:.2} ms", l.max_ms);
        let _ = writeln!(s, "  Fastest:       {:.2} ms", l.min_ms);
        let _ = writeln!(s, "  Average:       {:.2} ms", l.mean_ms);
        let _ = writeln!(s, "  Requests/sec:  {:.2}", self.rps);
        if let Some(u) = &m.units {
            let _ = writeln!(
                s,
                "  {u}/sec: {:.0} ({} in all)",
                self.units_per_s, self.units
            );
        }
        let _ = writeln!(s, "\nLatency distribution:");
        for (p, v) in l.distribution() {
            let _ = writeln!(s, "  {p:>5} % in {v:.2} ms");
        }
        if self.errors > 0 && self.ok > 0 {
            let o = &self.latency_ok;
            let _ = writeln!(
                s,
                "  (calls answered OK: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms)",
                o.p50_ms, o.p99_ms, o.max_ms
            );
        }
        if m.coordinated_omission_corrected {
            let t = &self.service_time;
            let _ = writeln!(
                s,
                "  (from when sent: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms)",
                t.p50_ms, t.p99_ms, t.max_ms
            );
        }
        let _ = writeln!(s, "\nStatus code distribution:");
        for (code, n) in &self.status {
            let _ = writeln!(s, "  [{code}]  {n} responses");
        }
        if !self.error_distribution.is_empty() {
            let _ = writeln!(s, "\nError distribution:");
            for e in &self.error_distribution {
                let _ = writeln!(s, "  [{}]  {}: {}", e.count, e.code, e.message);
            }
        }
        s
    }

    /// The report as JSON (every field but the CSV rows).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta {
        Meta {
            call: "acorn.echo/Echo".into(),
            target: "x".into(),
            mode: "closed".into(),
            concurrency: 1,
            connections: 1,
            schedule: None,
            warmup_s: 0.0,
            invalid_fraction: 0.0,
            coordinated_omission_corrected: false,
            units: None,
        }
    }

    #[test]
    fn an_error_message_carries_its_sources() {
        #[derive(Debug)]
        struct Inner;
        impl std::fmt::Display for Inner {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("connection reset")
            }
        }
        impl std::error::Error for Inner {}
        let status = tonic::Status::from_error(Box::new(Inner));
        assert_eq!(message_of(&status), "connection reset");
        let mut status = tonic::Status::unknown("transport error");
        status.set_source(std::sync::Arc::new(Inner));
        assert_eq!(message_of(&status), "transport error: connection reset");
        assert_eq!(message_of(&tonic::Status::internal("x")), "x");
    }

    #[test]
    fn distinct_error_messages_are_bounded() {
        let r = Recorder::new(false);
        for i in 0..(MAX_MESSAGES as u64 + 10) {
            let outcome = Err(tonic::Status::internal(format!("varying {i}")));
            r.record(
                i,
                Duration::ZERO,
                Duration::ZERO,
                Duration::ZERO,
                &outcome,
                0,
            );
        }
        let rep = r.finish(meta(), None, vec![]);
        assert_eq!(rep.error_distribution.len(), MAX_MESSAGES + 1);
        assert_eq!(
            rep.error_distribution[0],
            ErrorCount {
                count: 10,
                code: "INTERNAL".into(),
                message: OTHER_MESSAGES.into()
            }
        );
        assert_eq!(
            rep.error_distribution.iter().map(|e| e.count).sum::<u64>(),
            MAX_MESSAGES as u64 + 10
        );
    }

    #[test]
    fn percentiles_and_codes_are_counted() {
        let r = Recorder::new(true);
        for i in 1..=1000u64 {
            let outcome = if i % 100 == 0 {
                Err(tonic::Status::invalid_argument(if i % 300 == 0 {
                    "field b: bad"
                } else {
                    "field a: bad"
                }))
            } else {
                Ok(())
            };
            let d = Duration::from_micros(i * 10);
            r.record(i, Duration::from_millis(i), d, d, &outcome, 2);
        }
        let rep = r.finish(meta(), Some(Duration::from_secs(2)), vec![]);
        assert_eq!((rep.count, rep.ok, rep.errors), (1000, 990, 10));
        assert_eq!(rep.status["INVALID_ARGUMENT"], 10);
        assert_eq!(rep.units, 1980);
        assert_eq!(rep.rps, 500.0);
        // 3 significant digits: p50 = 5,000 us, p99 = 9,900 us, max 10,000 us (within 0.1%).
        assert!((rep.latency.p50_ms - 5.0).abs() < 0.01, "{:?}", rep.latency);
        assert!((rep.latency.p99_ms - 9.9).abs() < 0.01, "{:?}", rep.latency);
        assert!(
            (rep.latency.max_ms - 10.0).abs() < 0.011,
            "{:?}",
            rep.latency
        );
        let csv = rep.csv.clone().unwrap_or_default();
        assert_eq!(csv.lines().count(), 1001);
        assert!(
            csv.contains("\n100,0.100000,1.000,INVALID_ARGUMENT\n"),
            "{csv}"
        );
        let json: serde_json::Value = serde_json::from_str(&rep.to_json()).unwrap();
        assert_eq!(json["status"]["OK"], 990);
        assert!(rep.summary().contains("[INVALID_ARGUMENT]  10 responses"));
        // By message, most frequent first: 300, 600, 900 carry "b", the other seven "a".
        let by_message: Vec<_> = rep
            .error_distribution
            .iter()
            .map(|e| (e.count, e.code.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            by_message,
            [
                (7, "INVALID_ARGUMENT", "field a: bad"),
                (3, "INVALID_ARGUMENT", "field b: bad")
            ]
        );
        assert!(
            rep.summary()
                .contains("Error distribution:\n  [7]  INVALID_ARGUMENT: field a: bad\n"),
            "{}",
            rep.summary()
        );
        assert_eq!(json["error_distribution"][1]["count"], 3);
        // Of the OK calls only: every 100th (the slowest of each hundred) is left out.
        assert!(
            (rep.latency_ok.max_ms - 9.99).abs() < 0.011,
            "{:?}",
            rep.latency_ok
        );
        assert!(rep.summary().contains("calls answered OK: p50"));
    }
}
