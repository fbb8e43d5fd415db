//! The step table of the multi-call `bootstrap`: each contract entry's name to the core step it
//! runs. A [`Step`] exists only for a name that is both in `functions/contract.json` and here.

use crate::contract::{contract, Needs};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use smartscale_core::steps::document::ExecutionDocument;
use smartscale_core::steps::{self as core_steps, Deps};
use smartscale_core::telemetry::StepMetrics;
use smartscale_core::Error;

/// The names this binary can run, in the order of the design's state machines, then the
/// scheduled weekly report.
pub const NAMES: [&str; 17] = [
    "acquire-lock",
    "evaluate",
    "launch-nodes",
    "check-nodes-ready",
    "handle-join-failure",
    "cordon-node",
    "drain-node",
    "abort-drain",
    "terminate-node",
    "record-outcome",
    "notify",
    "release-lock",
    "cleanup",
    "spot-interruption",
    "launch-replacement",
    "retire-node",
    "weekly-report",
];

/// A runnable step: its name and the seams its contract entry says it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Kebab-case, as the function is named (`launch-nodes`).
    pub name: &'static str,
    /// What [`crate::build_deps`] wires for it.
    pub needs: Needs,
}

impl Step {
    /// The step called `name`. Errors: a message listing the known steps when this binary has
    /// no handler for `name` or the contract has no entry for it.
    pub fn named(name: &str) -> Result<Step, String> {
        let known = || NAMES.join(", ");
        let Some(name) = NAMES.iter().copied().find(|n| *n == name) else {
            return Err(format!("unknown step `{name}`; the steps are {}", known()));
        };
        let entry = contract()
            .step(name)
            .ok_or_else(|| format!("step `{name}` has no entry in functions/contract.json"))?;
        Ok(Step {
            name,
            needs: entry.needs(),
        })
    }

    /// Runs the core step on `doc` at `now` and returns its part of the document as JSON, with
    /// the EMF lines that part calls for ([`StepMetrics`]).
    /// Errors: the step's own errors; `Fatal` when its result cannot be serialised.
    pub async fn run(
        &self,
        doc: &ExecutionDocument,
        deps: &Deps,
        now: DateTime<Utc>,
    ) -> Result<Output, Error> {
        use core_steps::*;
        macro_rules! step {
            ($module:ident) => {
                Output::of($module::run(doc, deps, now).await?, doc, deps, now)
            };
        }
        match self.name {
            "acquire-lock" => step!(acquire_lock),
            "evaluate" => step!(evaluate),
            "launch-nodes" => step!(launch_nodes),
            "check-nodes-ready" => step!(check_nodes_ready),
            "handle-join-failure" => step!(handle_join_failure),
            "cordon-node" => step!(cordon_node),
            "drain-node" => step!(drain_node),
            "abort-drain" => step!(abort_drain),
            "terminate-node" => step!(terminate_node),
            "record-outcome" => step!(record_outcome),
            "notify" => step!(notify),
            "release-lock" => step!(release_lock),
            "cleanup" => step!(cleanup),
            "spot-interruption" => step!(spot_interruption),
            "launch-replacement" => {
                Output::of(spot_replace::launch(doc, deps, now).await?, doc, deps, now)
            }
            "retire-node" => {
                Output::of(spot_replace::retire(doc, deps, now).await?, doc, deps, now)
            }
            "weekly-report" => step!(weekly_report),
            other => unreachable!("Step::named admits only NAMES, not {other}"),
        }
    }
}

/// What one run of a step produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// The step's part of the document, as the state machine receives it.
    pub value: Value,
    /// The EMF lines the part calls for, besides invocation and execution time.
    pub metrics: Vec<Value>,
}

impl Output {
    fn of<R: Serialize + StepMetrics>(
        part: R,
        doc: &ExecutionDocument,
        deps: &Deps,
        now: DateTime<Utc>,
    ) -> Result<Output, Error> {
        let metrics = part.emf_lines(doc, &deps.config, now);
        let value = serde_json::to_value(part)
            .map_err(|e| Error::fatal("serialising the step result", e))?;
        Ok(Output { value, metrics })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_table_and_the_contract_name_the_same_steps() {
        let table: BTreeSet<&str> = NAMES.iter().copied().collect();
        let contract: BTreeSet<&str> = contract().steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(table, contract);
        for name in NAMES {
            assert_eq!(Step::named(name).unwrap().name, name);
        }
    }

    #[test]
    fn unknown_names_are_refused_with_the_list() {
        let err = Step::named("launch").unwrap_err();
        assert!(err.contains("unknown step `launch`"), "{err}");
        assert!(err.contains("launch-nodes"), "{err}");
    }
}
