//! Explanations: every rule engine can record each step of a computation (its rule, citation,
//! inputs and output) so a finance team can audit a result line by line. Engines take a
//! `&mut impl Trace`; [`NoTrace`] compiles the recording away for in-process hot loops, a
//! `Vec<Step>` keeps every step (`acorn-proto` converts a [`Step`] into the contract's
//! `ExplanationStep`).

/// One recorded step of a computation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Stable rule id, e.g. `settlement.minimum_savings_rate`.
    pub rule: &'static str,
    /// The regulation paragraph (or other source) the rule implements.
    pub citation: &'static str,
    /// What was done.
    pub description: String,
    /// Inputs, in order.
    pub inputs: Vec<(String, String)>,
    /// Output.
    pub output: String,
}

/// Receives the steps of a computation.
pub trait Trace {
    /// Records a step; `step` is only called when the trace keeps steps.
    fn step(&mut self, step: impl FnOnce() -> Step);
}

/// Keeps nothing (the fast path).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTrace;

impl Trace for NoTrace {
    #[inline(always)]
    fn step(&mut self, _: impl FnOnce() -> Step) {}
}

impl Trace for Vec<Step> {
    fn step(&mut self, step: impl FnOnce() -> Step) {
        self.push(step());
    }
}
