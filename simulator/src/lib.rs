//! simulator: Monte Carlo over synthetic beneficiary populations through the same rule engines,
//! in-process, to estimate program-wide gross and net savings; also the load generator for the
//! services.
//!
//! Not built yet: it arrives with the simulator issue, on top of the engines. What it will call
//! today is `settlement_rules::reconcile` with `NoTrace` (6 million reconciliations per second
//! on one core, see BENCHMARKS.md).
