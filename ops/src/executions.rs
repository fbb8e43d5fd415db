//! The scaling state machine's executions, from the Step Functions API: ListExecutions for the
//! last ones, DescribeExecution for each one's output (the execution document, whose `decision`
//! Evaluate wrote) or error, and GetExecutionHistory for the state it ended in or is in now.

use crate::OpsError;
use aws_sdk_sfn::types::HistoryEvent;
use aws_sdk_sfn::Client;
use chrono::{DateTime, Utc};
use serde::Serialize;
use smartscale_core::steps::document::DecisionPart;

/// The scaling state machine's name, as the stack names it.
pub fn machine_name(cluster_id: &str) -> String {
    format!("smartscale-{cluster_id}-scaling")
}

/// One execution, as a person reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionSummary {
    /// Execution name.
    pub name: String,
    /// Execution ARN (the lease holder's id).
    pub arn: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`.
    pub status: String,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it stopped.
    pub stopped_at: Option<DateTime<Utc>>,
    /// The last state it entered: its end state (`Done`, `SkippedLockHeld`, `JoinTimedOut`,
    /// `DrainAborted`, `Failed`, ...) or, running, where it is now.
    pub state: Option<String>,
    /// `$.decision` of its output, when it has one.
    pub decision: Option<DecisionPart>,
    /// The error and cause it failed with.
    pub error: Option<String>,
    /// The cause.
    pub cause: Option<String>,
}

/// `$.decision` of an execution's output document, when the output is JSON holding one.
pub fn decision_of(output: Option<&str>) -> Option<DecisionPart> {
    let doc: serde_json::Value = serde_json::from_str(output?).ok()?;
    serde_json::from_value(doc.get("decision")?.clone()).ok()
}

/// The name of the last state entered among `events` (in any order; the highest event id wins).
pub fn last_state_entered(events: &[HistoryEvent]) -> Option<String> {
    events
        .iter()
        .filter(|e| e.r#type().as_str().ends_with("StateEntered"))
        .max_by_key(|e| e.id())
        .and_then(|e| e.state_entered_event_details())
        .map(|d| d.name().to_string())
}

fn time(t: Option<&aws_sdk_sfn::primitives::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

fn sfn_error(what: &str, e: impl std::fmt::Display) -> OpsError {
    OpsError::StepFunctions(format!("{what}: {e}"))
}

/// The ARN of the state machine named `name`.
///
/// Errors: [`OpsError::StepFunctions`] when the API fails or no machine has that name.
pub async fn find_machine(client: &Client, name: &str) -> Result<String, OpsError> {
    let mut pages = client.list_state_machines().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            sfn_error(
                "ListStateMachines",
                aws_sdk_sfn::error::DisplayErrorContext(e),
            )
        })?;
        if let Some(m) = page.state_machines().iter().find(|m| m.name() == name) {
            return Ok(m.state_machine_arn().to_string());
        }
    }
    Err(OpsError::StepFunctions(format!(
        "no state machine named {name} (is the stack deployed in this account and region?)"
    )))
}

/// The last `n` executions of `machine_arn`, newest first, each described.
///
/// Errors: [`OpsError::StepFunctions`] when a call fails.
pub async fn recent(
    client: &Client,
    machine_arn: &str,
    n: usize,
) -> Result<Vec<ExecutionSummary>, OpsError> {
    let list = client
        .list_executions()
        .state_machine_arn(machine_arn)
        .max_results(i32::try_from(n.clamp(1, 1000)).unwrap_or(1000))
        .send()
        .await
        .map_err(|e| sfn_error("ListExecutions", aws_sdk_sfn::error::DisplayErrorContext(e)))?;
    let mut out = Vec::new();
    for item in list.executions().iter().take(n) {
        out.push(describe(client, item.execution_arn()).await?);
    }
    Ok(out)
}

/// One execution: DescribeExecution, and the newest events of its history for its state.
///
/// Errors: [`OpsError::StepFunctions`] when a call fails (an unknown ARN included).
pub async fn describe(client: &Client, arn: &str) -> Result<ExecutionSummary, OpsError> {
    let d = client
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .map_err(|e| {
            sfn_error(
                "DescribeExecution",
                aws_sdk_sfn::error::DisplayErrorContext(e),
            )
        })?;
    let history = client
        .get_execution_history()
        .execution_arn(arn)
        .reverse_order(true)
        .max_results(25)
        .send()
        .await
        .map_err(|e| {
            sfn_error(
                "GetExecutionHistory",
                aws_sdk_sfn::error::DisplayErrorContext(e),
            )
        })?;
    Ok(ExecutionSummary {
        name: d.name().unwrap_or_default().to_string(),
        arn: arn.to_string(),
        status: d.status().as_str().to_string(),
        started_at: time(Some(d.start_date())),
        stopped_at: time(d.stop_date()),
        state: last_state_entered(history.events()),
        decision: decision_of(d.output()),
        error: d.error().map(str::to_owned),
        cause: d.cause().map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::types::{HistoryEventType, StateEnteredEventDetails};
    use smartscale_core::steps::document::Action;

    #[test]
    fn the_decision_comes_from_the_output_document() {
        struct Case {
            name: &'static str,
            output: Option<&'static str>,
            want: Option<Action>,
        }
        let cases = [
            Case {
                name: "no output (running, failed)",
                output: None,
                want: None,
            },
            Case {
                name: "not JSON",
                output: Some("An output"),
                want: None,
            },
            Case {
                name: "skipped: no decision",
                output: Some(r#"{"cluster_id":"c"}"#),
                want: None,
            },
            Case {
                name: "a scale-up",
                output: Some(
                    r#"{"decision":{"action":"scale_up","count":2,"reasons":["CPU high"],"codes":["cpu_high"]}}"#,
                ),
                want: Some(Action::ScaleUp),
            },
        ];
        for c in cases {
            assert_eq!(
                decision_of(c.output).map(|d| d.action),
                c.want,
                "case {}",
                c.name
            );
        }
    }

    #[test]
    fn the_state_is_the_last_one_entered() {
        let event = |id: i64, kind: HistoryEventType, state: Option<&str>| {
            let mut b = HistoryEvent::builder()
                .id(id)
                .r#type(kind)
                .timestamp(aws_sdk_sfn::primitives::DateTime::from_secs(id));
            if let Some(s) = state {
                b = b.state_entered_event_details(
                    StateEnteredEventDetails::builder().name(s).build().unwrap(),
                );
            }
            b.build().unwrap()
        };
        // Newest first, as reverse_order returns them.
        let events = [
            event(9, HistoryEventType::ExecutionSucceeded, None),
            event(8, HistoryEventType::SucceedStateEntered, Some("Done")),
            event(5, HistoryEventType::TaskStateEntered, Some("ReleaseLock")),
        ];
        assert_eq!(last_state_entered(&events).as_deref(), Some("Done"));
        assert_eq!(last_state_entered(&[]), None);
    }
}
