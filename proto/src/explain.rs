//! Explanations on the wire: a rule engine's recorded [`Step`] becomes the contract's
//! `ExplanationStep`.

use acorn_domain::Step;

use crate::common::v1 as common;

impl From<Step> for common::ExplanationStep {
    fn from(s: Step) -> Self {
        Self {
            rule: s.rule.to_string(),
            citation: s.citation.to_string(),
            description: s.description,
            inputs: s
                .inputs
                .into_iter()
                .map(|(name, value)| common::NamedValue { name, value })
                .collect(),
            output: s.output,
        }
    }
}
