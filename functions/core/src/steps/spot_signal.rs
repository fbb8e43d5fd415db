//! The EventBridge events that start the spot machine (an EC2 Spot Instance Interruption Warning
//! or an EC2 Instance Rebalance Recommendation), as the spot machine's Init passes them in
//! `$.event`. The envelope is `aws_lambda_events`' [`EventBridgeEvent`]; only the EC2 `detail` is
//! ours. Sample documents, as EventBridge sends them: `events/eventbridge/`.

use crate::error::{Error, Result};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `detail-type` of an EC2 Spot Instance Interruption Warning.
pub const INTERRUPTION_WARNING: &str = "EC2 Spot Instance Interruption Warning";
/// The `detail-type` of an EC2 Instance Rebalance Recommendation.
pub const REBALANCE_RECOMMENDATION: &str = "EC2 Instance Rebalance Recommendation";

/// The `detail` of either signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SpotSignalDetail {
    /// The instance the signal is about.
    pub instance_id: String,
    /// Interruption warnings only: `terminate`, `stop` or `hibernate`.
    #[serde(default)]
    pub instance_action: Option<String>,
}

/// A spot signal as EventBridge delivers it.
pub type SpotSignal = EventBridgeEvent<SpotSignalDetail>;

/// Reads `event` as a spot signal. Errors: `InvalidInput` when it is not an `aws.ec2` event of
/// one of the two detail-types or lacks `detail.instance-id`.
pub fn parse(event: &Value) -> Result<SpotSignal> {
    let context = "reading the spot signal in `event`";
    let envelope: EventBridgeEvent = serde_json::from_value(event.clone())
        .map_err(|e| Error::invalid_input(context, format!("not an EventBridge event: {e}")))?;
    if envelope.source != "aws.ec2"
        || ![INTERRUPTION_WARNING, REBALANCE_RECOMMENDATION]
            .contains(&envelope.detail_type.as_str())
    {
        return Err(Error::invalid_input(
            context,
            format!(
                "{} from {} is neither a Spot Interruption Warning nor a Rebalance Recommendation",
                envelope.detail_type, envelope.source
            ),
        ));
    }
    serde_json::from_value(event.clone())
        .map_err(|e| Error::invalid_input(context, format!("{}: {e}", envelope.detail_type)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::document::{DrainStatus, ExecutionDocument};
    use crate::steps::testkit::*;
    use std::path::PathBuf;

    fn sample(name: &str) -> Value {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../events/eventbridge")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    /// The document the spot machine's Init state builds from `event`.
    fn init(event: Value) -> ExecutionDocument {
        ExecutionDocument {
            cluster_id: "c1".into(),
            execution_id: EXEC.into(),
            instance_id: event["detail"]["instance-id"].as_str().map(str::to_string),
            signal: event["detail-type"].as_str().map(str::to_string),
            event: Some(event),
            ..Default::default()
        }
    }

    #[test]
    fn real_documents_parse() {
        let cases = [
            (
                "spot-interruption-warning.json",
                INTERRUPTION_WARNING,
                Some("terminate"),
            ),
            (
                "rebalance-recommendation.json",
                REBALANCE_RECOMMENDATION,
                None,
            ),
        ];
        for (file, detail_type, action) in cases {
            let s = parse(&sample(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(s.detail_type, detail_type, "{file}");
            assert_eq!(s.detail.instance_id, "i-0spot", "{file}");
            assert_eq!(s.detail.instance_action.as_deref(), action, "{file}");
            assert_eq!(s.time, Some(t0()), "{file}");
        }
        // The scaling machine's fixed-rate rule sends the plain scheduled event: an EventBridge
        // event too, but no spot signal.
        let scheduled = sample("scheduled-event.json");
        let e: EventBridgeEvent = serde_json::from_value(scheduled.clone()).unwrap();
        assert_eq!(
            (e.source.as_str(), e.detail_type.as_str()),
            ("aws.events", "Scheduled Event")
        );
        let err = parse(&scheduled).unwrap_err().to_string();
        assert!(err.contains("Scheduled Event from aws.events"), "{err}");
        let err = parse(&serde_json::json!({"detail": {}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an EventBridge event"), "{err}");
    }

    #[tokio::test]
    async fn the_spot_step_takes_its_deadline_from_the_real_event() {
        for file in [
            "spot-interruption-warning.json",
            "rebalance-recommendation.json",
        ] {
            let mut event = sample(file);
            event["detail"]["instance-id"] = "i-1".into();
            let w = World::new();
            w.k8s
                .drain_script
                .lock()
                .unwrap()
                .push_back(progress(&[], &[]));
            let got = super::super::spot_interruption::run(&init(event), &w.deps, at(5))
                .await
                .unwrap();
            assert_eq!(got.deadline, at(90), "{file}: event time + 90 s");
            assert_eq!(got.status, DrainStatus::Drained, "{file}");
            assert_eq!(got.node_name.as_deref(), Some("w1"), "{file}");
        }
        let mut doc = init(sample("scheduled-event.json"));
        doc.instance_id = Some("i-1".into());
        let err = super::super::spot_interruption::run(&doc, &World::new().deps, at(5))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "Fatal", "{err}");
    }
}
