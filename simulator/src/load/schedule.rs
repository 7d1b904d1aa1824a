//! Open-loop rate schedules (ghz's `--load-schedule`): when the k-th call is due.
//!
//! A schedule gives the rate at each moment of the run (seconds from its start, warm-up included);
//! the calls are spaced by the inverse of the rate at the previous call, so a constant rate `r`
//! sends call `k` at `k / r`.

use std::time::Duration;

/// How the rate changes over the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// `rate` calls per second throughout.
    Constant {
        /// Calls per second.
        rate: f64,
    },
    /// `start`, then `+step` every `every`, never past `end` (0: no cap).
    Step {
        /// First rate.
        start: f64,
        /// Change at each step (may be negative).
        step: f64,
        /// How long each step lasts.
        every: Duration,
        /// Last rate (0: none).
        end: f64,
    },
    /// From `start` to `end` linearly over `over`, then `end`.
    Line {
        /// First rate.
        start: f64,
        /// Rate at `over` and after.
        end: f64,
        /// Length of the ramp.
        over: Duration,
    },
}

/// The lowest rate a schedule is taken to have (one call per 1000 s): a schedule that reaches
/// zero waits, it never divides by zero.
const MIN_RATE: f64 = 0.001;

impl Schedule {
    /// Calls per second at `t` seconds from the start.
    pub fn rate_at(&self, t: f64) -> f64 {
        let r = match *self {
            Schedule::Constant { rate } => rate,
            Schedule::Step {
                start,
                step,
                every,
                end,
            } => {
                let steps = if every.is_zero() {
                    0.0
                } else {
                    (t / every.as_secs_f64()).floor()
                };
                let r = start + step * steps;
                if end > 0.0 {
                    if step >= 0.0 { r.min(end) } else { r.max(end) }
                } else {
                    r
                }
            }
            Schedule::Line { start, end, over } => {
                let f = if over.is_zero() {
                    1.0
                } else {
                    (t / over.as_secs_f64()).clamp(0.0, 1.0)
                };
                start + (end - start) * f
            }
        };
        r.max(MIN_RATE)
    }

    /// When the call after one due at `t` is due.
    pub fn next(&self, t: f64) -> f64 {
        t + 1.0 / self.rate_at(t)
    }

    /// A short description for the report, e.g. `const 500/s`.
    pub fn describe(&self) -> String {
        match *self {
            Schedule::Constant { rate } => format!("const {rate}/s"),
            Schedule::Step {
                start,
                step,
                every,
                end,
            } => format!(
                "step {start}/s {step:+}/s every {:.3}s up to {end}/s",
                every.as_secs_f64()
            ),
            Schedule::Line { start, end, over } => {
                format!("line {start}/s to {end}/s over {:.3}s", over.as_secs_f64())
            }
        }
    }
}

/// Parses `500ms`, `10s`, `2m`, `1h`, `1.5s` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a duration such as 500ms, 10s, 2m"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1e3,
        "us" => n / 1e6,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("{s:?}: unknown unit {other:?} (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_rate_spaces_calls_evenly() {
        let s = Schedule::Constant { rate: 4.0 };
        let mut t = 0.0;
        let mut times = Vec::new();
        for _ in 0..4 {
            times.push(t);
            t = s.next(t);
        }
        assert_eq!(times, [0.0, 0.25, 0.5, 0.75]);
    }

    #[test]
    fn steps_and_lines_change_the_rate_and_stop_at_their_end() {
        let s = Schedule::Step {
            start: 10.0,
            step: 5.0,
            every: Duration::from_secs(2),
            end: 20.0,
        };
        assert_eq!(
            [0.0, 1.9, 2.0, 4.5, 6.0, 100.0].map(|t| s.rate_at(t)),
            [10.0, 10.0, 15.0, 20.0, 20.0, 20.0]
        );
        let l = Schedule::Line {
            start: 100.0,
            end: 200.0,
            over: Duration::from_secs(10),
        };
        assert_eq!(
            [0.0, 5.0, 10.0, 50.0].map(|t| l.rate_at(t)),
            [100.0, 150.0, 200.0, 200.0]
        );
        // A ramp down to zero waits instead of dividing by zero.
        let z = Schedule::Line {
            start: 1.0,
            end: 0.0,
            over: Duration::from_secs(1),
        };
        assert_eq!(z.next(2.0), 2.0 + 1000.0);
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("s").is_err());
    }
}
