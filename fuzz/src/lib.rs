//! A mutation fuzzer on stable Rust, built on proptest: inputs are seed files (the repository's
//! fixtures) changed by a short list of random [`Op`]s, from bit flips to the replacement of a
//! number by an extreme value (the kind of edit that found `benchmark-svc backtest` dividing by a
//! `HistBnchmk` of 1e-28). proptest runs the target on each input, catches a panic and shrinks
//! the op list to a minimal failing input.
//!
//! The targets are in `tests/fuzz.rs`. How long they run:
//! - `ACORN_FUZZ_CASES` inputs per target (default 64: the short run `cargo test` does in CI),
//! - or, with `ACORN_FUZZ_SECONDS=N`, batches of inputs until N seconds have passed (the long
//!   runs, e.g. `ACORN_FUZZ_SECONDS=3600 cargo test --release -p acorn-fuzz -- --test-threads 1`),
//! - or, with `ACORN_FUZZ_CPU_SECONDS=N`, until the process has used N seconds of CPU (user plus
//!   system, from `/proc/self/stat` at Linux's fixed 100 ticks per second): the acceptance's "one
//!   CPU-hour per target" on a machine whose other work takes some of the wall time (the
//!   process's CPU: run one target per process, or with `--test-threads 1`),
//! - from `ACORN_FUZZ_SEED` (default 0; each batch of a timed run takes the next seed), so a run
//!   is reproducible. Each target prints how many inputs it ran.

use std::time::{Duration, Instant};

use proptest::{
    prelude::*,
    test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner},
};

/// Values a number in a file is replaced with: zero and signs, the smallest and largest
/// `rust_decimal`, beyond it, exponents, non-numbers, separators, integer limits.
pub const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "0.0000000000000000000000000001",
    "-0.0000000000000000000000000001",
    "79228162514264337593543950335",
    "-79228162514264337593543950335",
    "79228162514264337593543950336",
    "0.00000000000000000000000000001",
    "1e28",
    "1e-28",
    "1e309",
    "NaN",
    "inf",
    "-inf",
    "",
    "-",
    ".",
    "1.",
    ".5",
    "1,000",
    "0x10",
    "2147483647",
    "2147483648",
    "-2147483649",
    "4294967296",
    "9223372036854775808",
    "18446744073709551616",
    "99999999999999999999999999999999999999",
    "0.5",
    "-1",
    "1",
    "12",
    "9999",
    "10000",
    "00000000",
];

/// A choice among however many there are (a position, a line, a seed): `n % len`, so that
/// shrinking towards 0 picks the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index(pub usize);

impl Index {
    fn index(self, len: usize) -> usize {
        self.0 % len
    }
}

impl Arbitrary for Index {
    type Parameters = ();
    type Strategy = proptest::strategy::Map<proptest::num::usize::Any, fn(usize) -> Index>;

    fn arbitrary_with((): ()) -> Self::Strategy {
        any::<usize>().prop_map(Index)
    }
}

/// One edit of an input.
#[derive(Debug, Clone)]
pub enum Op {
    /// Flips one bit.
    Flip(Index, u8),
    /// Overwrites one byte.
    Set(Index, u8),
    /// Overwrites one byte with a structural one (separator, quote, line end, digit, NUL...).
    SetSpecial(Index, Index),
    /// Inserts bytes.
    Insert(Index, Vec<u8>),
    /// Deletes up to `n` bytes.
    Delete(Index, usize),
    /// Copies a range of up to `n` bytes to another place.
    Duplicate(Index, usize, Index),
    /// Replaces the chosen run of number characters by one of [`NUMBERS`].
    Number(Index, Index),
    /// Cuts the input short.
    Truncate(Index),
    /// Swaps two lines.
    SwapLines(Index, Index),
    /// Inserts a copy of a line of another seed.
    Splice(Index, Index, Index),
}

const SPECIAL: &[u8] = b",;|\t\n\r\"' .-+0123456789eE\x00\xff\x7f#=[]{}";

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Op::Flip(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Op::Set(i, b)),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(i, s)| Op::SetSpecial(i, s)),
        2 => (any::<Index>(), proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Op::Insert(i, b)),
        2 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| Op::Delete(i, n)),
        1 => (any::<Index>(), 1usize..256, any::<Index>()).prop_map(|(i, n, to)| Op::Duplicate(i, n, to)),
        6 => (any::<Index>(), any::<Index>()).prop_map(|(i, v)| Op::Number(i, v)),
        1 => any::<Index>().prop_map(Op::Truncate),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Op::SwapLines(a, b)),
        1 => (any::<Index>(), any::<Index>(), any::<Index>()).prop_map(|(s, l, at)| Op::Splice(s, l, at)),
    ]
}

/// An input: a seed (by index) and the edits applied to it, in order.
pub fn mutations(seeds: usize) -> impl Strategy<Value = (usize, Vec<Op>)> {
    (0..seeds, proptest::collection::vec(op(), 0..10))
}

fn line_ranges(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' {
            out.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < b.len() {
        out.push((start, b.len()));
    }
    out
}

fn number_runs(b: &[u8]) -> Vec<(usize, usize)> {
    let is_num = |c: u8| c.is_ascii_digit() || c == b'.';
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let mut start = i;
            if start > 0 && b[start - 1] == b'-' {
                start -= 1;
            }
            while i < b.len() && is_num(b[i]) {
                i += 1;
            }
            out.push((start, i));
        } else {
            i += 1;
        }
    }
    out
}

/// `seeds[seed]` with `ops` applied.
pub fn apply(seeds: &[Vec<u8>], seed: usize, ops: &[Op]) -> Vec<u8> {
    let mut b = seeds[seed].clone();
    for op in ops {
        let len = b.len();
        match op {
            Op::Flip(i, bit) if len > 0 => b[i.index(len)] ^= 1 << bit,
            Op::Set(i, v) if len > 0 => b[i.index(len)] = *v,
            Op::SetSpecial(i, s) if len > 0 => b[i.index(len)] = SPECIAL[s.index(SPECIAL.len())],
            Op::Insert(i, bytes) => {
                let at = i.index(len + 1);
                b.splice(at..at, bytes.iter().copied());
            }
            Op::Delete(i, n) if len > 0 => {
                let at = i.index(len);
                b.drain(at..(at + n).min(len));
            }
            Op::Duplicate(i, n, to) if len > 0 => {
                let at = i.index(len);
                let chunk = b[at..(at + n).min(len)].to_vec();
                let to = to.index(len + 1);
                b.splice(to..to, chunk);
            }
            Op::Number(i, v) => {
                let runs = number_runs(&b);
                if !runs.is_empty() {
                    let (s, e) = runs[i.index(runs.len())];
                    b.splice(s..e, NUMBERS[v.index(NUMBERS.len())].bytes());
                }
            }
            Op::Truncate(i) => b.truncate(i.index(len + 1)),
            Op::SwapLines(x, y) => {
                let lines = line_ranges(&b);
                if lines.len() > 1 {
                    let (a, c) = (lines[x.index(lines.len())], lines[y.index(lines.len())]);
                    let (first, second) = if a.0 <= c.0 { (a, c) } else { (c, a) };
                    if first != second {
                        let mut out = Vec::with_capacity(len);
                        out.extend_from_slice(&b[..first.0]);
                        out.extend_from_slice(&b[second.0..second.1]);
                        out.extend_from_slice(&b[first.1..second.0]);
                        out.extend_from_slice(&b[first.0..first.1]);
                        out.extend_from_slice(&b[second.1..]);
                        b = out;
                    }
                }
            }
            Op::Splice(s, l, at) => {
                let other = &seeds[s.index(seeds.len())];
                let lines = line_ranges(other);
                if !lines.is_empty() {
                    let (ls, le) = lines[l.index(lines.len())];
                    let chunk = other[ls..le].to_vec();
                    let mine = line_ranges(&b);
                    let to = if mine.is_empty() {
                        0
                    } else {
                        mine[at.index(mine.len())].0
                    };
                    b.splice(to..to, chunk);
                }
            }
            _ => {}
        }
    }
    b
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Runs `target` on mutated `seeds` (see the crate docs for how many inputs) and returns the
/// number of inputs run; a panic in `target` fails with the shrunk input (printed lossily as
/// text and as bytes).
pub fn fuzz(name: &str, seeds: &[Vec<u8>], target: impl Fn(&[u8])) -> u64 {
    assert!(!seeds.is_empty(), "{name}: no seeds");
    let cases = env_u64("ACORN_FUZZ_CASES").unwrap_or(64).max(1);
    let first_seed = env_u64("ACORN_FUZZ_SEED").unwrap_or(0);
    let cpu_at_start = process_cpu_seconds();
    let budget = match (
        env_u64("ACORN_FUZZ_CPU_SECONDS"),
        env_u64("ACORN_FUZZ_SECONDS"),
    ) {
        (Some(cpu), _) => Budget::Cpu(
            cpu_at_start.expect("ACORN_FUZZ_CPU_SECONDS needs /proc/self/stat (Linux)")
                + cpu as f64,
        ),
        (None, Some(s)) => Budget::Wall(Instant::now() + Duration::from_secs(s)),
        (None, None) => Budget::Cases,
    };
    let batch = if matches!(budget, Budget::Cases) {
        cases
    } else {
        256
    };
    let started = Instant::now();
    let mut ran = 0u64;
    let mut seed = first_seed;
    loop {
        let config = Config {
            cases: u32::try_from(batch).unwrap_or(u32::MAX),
            failure_persistence: None,
            max_shrink_iters: 4096,
            ..Config::default()
        };
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&(name.len() as u64).to_le_bytes());
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &key);
        let mut runner = TestRunner::new_with_rng(config, rng);
        let result = runner.run(&mutations(seeds.len()), |(s, ops)| {
            let input = apply(seeds, s, &ops);
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target(&input))) {
                Ok(()) => Ok(()),
                Err(_) => Err(TestCaseError::fail(format!(
                    "{name} panicked on seed {s} with {ops:?}:\n{}\nbytes: {input:?}",
                    String::from_utf8_lossy(&input)
                ))),
            }
        });
        if let Err(e) = result {
            panic!("{name}: {e}");
        }
        ran += batch;
        seed += 1;
        let more = match budget {
            Budget::Cases => false,
            Budget::Wall(deadline) => Instant::now() < deadline,
            Budget::Cpu(limit) => process_cpu_seconds().is_some_and(|used| used < limit),
        };
        if !more {
            break;
        }
    }
    let cpu = match (cpu_at_start, process_cpu_seconds()) {
        (Some(a), Some(b)) => format!(", {:.1} CPU-s", b - a),
        _ => String::new(),
    };
    eprintln!(
        "fuzz {name}: {ran} inputs in {:.1} s{cpu} without a panic (seeds {first_seed}..{seed})",
        started.elapsed().as_secs_f64()
    );
    ran
}

/// When a run stops: after its `ACORN_FUZZ_CASES` inputs, at a wall-clock deadline, or when the
/// process's CPU time reaches a limit (seconds).
enum Budget {
    Cases,
    Wall(Instant),
    Cpu(f64),
}

/// The CPU time (user plus system, seconds) this process has used, from `/proc/self/stat`
/// (fields 14 and 15, in Linux's `USER_HZ` of 100 ticks per second); `None` off Linux.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may itself hold spaces or parentheses.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn process_cpu_time_counts_what_the_process_spends() {
        let start = process_cpu_seconds().expect("/proc/self/stat");
        assert!(start >= 0.0);
        // Spin until 50 ms of CPU more have been counted (at most 30 s of wall time, so a loaded
        // machine is waited for rather than failed): the clock must move with the work done.
        let wall = Instant::now();
        let mut x = 0u64;
        while process_cpu_seconds().expect("/proc/self/stat") < start + 0.05 {
            for i in 0..100_000u64 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
            }
            assert!(
                wall.elapsed() < Duration::from_secs(30),
                "CPU time did not move"
            );
        }
    }

    #[test]
    fn ops_edit_as_described() {
        let seeds = vec![b"a,1.5\nb,-20\n".to_vec(), b"x,9\n".to_vec()];
        let ix = Index;
        assert_eq!(
            apply(&seeds, 0, &[Op::Number(ix(0), ix(0))]),
            b"a,0\nb,-20\n"
        );
        assert_eq!(apply(&seeds, 0, &[Op::Truncate(ix(0))]), b"");
        assert_eq!(apply(&seeds, 0, &[Op::Delete(ix(0), 2)]), b"1.5\nb,-20\n");
        assert_eq!(
            apply(&seeds, 0, &[Op::SwapLines(ix(0), ix(1))]),
            b"b,-20\na,1.5\n"
        );
        assert_eq!(
            apply(&seeds, 0, &[Op::Splice(ix(1), ix(0), ix(0))]),
            b"x,9\na,1.5\nb,-20\n"
        );
        assert_eq!(number_runs(b"a,-20,1.5x"), [(2, 5), (6, 9)]);
        // Edits of an empty input do nothing rather than panic.
        let empty = vec![Vec::new()];
        for op in [
            Op::Flip(ix(3), 1),
            Op::Delete(ix(3), 5),
            Op::Number(ix(1), ix(1)),
            Op::SwapLines(ix(1), ix(2)),
        ] {
            assert!(apply(&empty, 0, &[op]).is_empty());
        }
    }
}
