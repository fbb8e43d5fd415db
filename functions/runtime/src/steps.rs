//! The step table of the multi-call `bootstrap`: each contract entry's name to the core step it
//! runs. A [`Step`] exists only for a name that is both in `functions/contract.json` and here.

use crate::contract::{contract, Needs};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use smartscale_core::steps::document::ExecutionDocument;
use smartscale_core::steps::{self as core_steps, Deps};
use smartscale_core::Error;

/// The names this binary can run, in the order of the design's state machine.
pub const NAMES: [&str; 16] = [
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

    /// Runs the core step on `doc` at `now` and returns its part of the document as JSON.
    /// Errors: the step's own errors; `Fatal` when its result cannot be serialised.
    pub async fn run(
        &self,
        doc: &ExecutionDocument,
        deps: &Deps,
        now: DateTime<Utc>,
    ) -> Result<Value, Error> {
        use core_steps::*;
        match self.name {
            "acquire-lock" => json(acquire_lock::run(doc, deps, now).await),
            "evaluate" => json(evaluate::run(doc, deps, now).await),
            "launch-nodes" => json(launch_nodes::run(doc, deps, now).await),
            "check-nodes-ready" => json(check_nodes_ready::run(doc, deps, now).await),
            "handle-join-failure" => json(handle_join_failure::run(doc, deps, now).await),
            "cordon-node" => json(cordon_node::run(doc, deps, now).await),
            "drain-node" => json(drain_node::run(doc, deps, now).await),
            "abort-drain" => json(abort_drain::run(doc, deps, now).await),
            "terminate-node" => json(terminate_node::run(doc, deps, now).await),
            "record-outcome" => json(record_outcome::run(doc, deps, now).await),
            "notify" => json(notify::run(doc, deps, now).await),
            "release-lock" => json(release_lock::run(doc, deps, now).await),
            "cleanup" => json(cleanup::run(doc, deps, now).await),
            "spot-interruption" => json(spot_interruption::run(doc, deps, now).await),
            "launch-replacement" => json(spot_replace::launch(doc, deps, now).await),
            "retire-node" => json(spot_replace::retire(doc, deps, now).await),
            other => unreachable!("Step::named admits only NAMES, not {other}"),
        }
    }
}

fn json<R: Serialize>(result: Result<R, Error>) -> Result<Value, Error> {
    serde_json::to_value(result?).map_err(|e| Error::fatal("serialising the step result", e))
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
