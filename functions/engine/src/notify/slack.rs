//! Slack incoming-webhook payloads with Block Kit: a header with the seed's emoji and title, the
//! facts as fields, the links as buttons, and a plain `text` fallback for notifications.

use super::Presentation;
use super::{facts, links, Notification};
use serde_json::{json, Value};

/// Slack's limit on one `mrkdwn` field's text is 2000 characters; we stay below it.
const FIELD_MAX_CHARS: usize = 1900;

/// The JSON body to POST to an incoming webhook for `n`.
pub fn payload(n: &Notification, cfg: &Presentation) -> Value {
    let style = n.kind.style();
    let title = if n.recovered {
        format!("{} (recovery)", style.title)
    } else {
        style.title.to_string()
    };
    let mut summary = format!("*Cluster:* `{}`", escape(&n.cluster_id));
    if n.recovered {
        summary.push_str(
            "\nThis execution finished or undid an operation left unfinished by an earlier run.",
        );
    }
    let fields: Vec<Value> = facts(n, cfg)
        .into_iter()
        .map(|(label, value)| {
            json!({"type": "mrkdwn", "text": format!("*{label}:*\n{}", truncate(&escape(&value)))})
        })
        .collect();
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": format!("{} {title}", style.emoji), "emoji": true}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": summary}}),
        json!({"type": "section", "fields": fields}),
    ];
    let buttons: Vec<Value> = links(n, cfg)
        .into_iter()
        .map(|(label, url)| {
            json!({"type": "button", "text": {"type": "plain_text", "text": label}, "url": url})
        })
        .collect();
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    json!({
        "text": format!("{} {title}: {} — {}", style.emoji, n.cluster_id, truncate(&n.reason)),
        "blocks": blocks,
    })
}

/// Escapes the three characters Slack's mrkdwn treats as control characters.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn truncate(s: &str) -> String {
    if s.chars().count() <= FIELD_MAX_CHARS {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(FIELD_MAX_CHARS).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::NotificationKind;
    use chrono::TimeZone;

    fn sample(kind: NotificationKind, before: u32, after: u32) -> Notification {
        Notification {
            kind,
            cluster_id: "smartscale-prod".into(),
            reason: "CPU stayed above 70% for 3m (lowest 78.0%)".into(),
            action: "Added 2 nodes (i-0a, i-0b)".into(),
            nodes_before: Some(before),
            nodes_after: Some(after),
            recommendation: None,
            recovered: false,
            time: chrono::Utc
                .with_ymd_and_hms(2026, 11, 23, 20, 5, 0)
                .unwrap(),
            execution_arn: Some(
                "arn:aws:states:eu-west-1:123456789012:execution:smartscale:abc".into(),
            ),
        }
    }

    fn field_texts(v: &Value) -> Vec<String> {
        v["blocks"][2]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["text"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn every_kind_has_header_facts_and_links() {
        let cfg = Presentation {
            dashboard_url: Some("https://grafana.example/d/s".into()),
            ..Presentation::default()
        };
        let cases: Vec<(&str, NotificationKind, u32, u32, &str, &str)> = vec![
            (
                "up started",
                NotificationKind::ScaleUpStarted,
                3,
                5,
                ":large_green_circle: Scale-Up Initiated",
                "*Estimated cost impact:*\n+$1.00/day",
            ),
            (
                "up completed",
                NotificationKind::ScaleUpCompleted,
                3,
                5,
                ":large_green_circle: Scale-Up Completed",
                "*Nodes:*\n3 → 5",
            ),
            (
                "down completed",
                NotificationKind::ScaleDownCompleted,
                3,
                2,
                ":large_blue_circle: Scale-Down Completed",
                "*Estimated savings:*\n-$0.50/day",
            ),
            (
                "failure",
                NotificationKind::ScalingFailure,
                10,
                10,
                ":red_circle: Scaling Failure",
                "*Estimated cost impact:*\n$0.00/day",
            ),
            (
                "join failure",
                NotificationKind::JoinFailure,
                3,
                4,
                ":red_circle: Node Join Failure",
                "*Nodes:*\n3 → 4",
            ),
            (
                "drain aborted",
                NotificationKind::DrainAborted,
                3,
                3,
                ":warning: Drain Aborted",
                "*Time:*\n2026-11-23 20:05:00 UTC",
            ),
            (
                "at max",
                NotificationKind::AtMaximumCapacity,
                10,
                10,
                ":warning: Cluster at Maximum Capacity",
                "*Reason:*\nCPU stayed above 70% for 3m (lowest 78.0%)",
            ),
            (
                "spot",
                NotificationKind::SpotInterruption,
                3,
                3,
                ":warning: Spot Interruption",
                "*Action:*\nAdded 2 nodes (i-0a, i-0b)",
            ),
        ];
        for (name, kind, before, after, header, field) in cases {
            let v = payload(&sample(kind, before, after), &cfg);
            assert_eq!(v["blocks"][0]["type"], "header", "case {name}");
            assert_eq!(v["blocks"][0]["text"]["text"], header, "case {name}");
            assert!(
                field_texts(&v).contains(&field.to_string()),
                "case {name}: {:?}",
                field_texts(&v)
            );
            let buttons = v["blocks"][3]["elements"].as_array().unwrap();
            assert_eq!(buttons.len(), 2, "case {name}");
            assert!(
                buttons[0]["url"]
                    .as_str()
                    .unwrap()
                    .starts_with("https://eu-west-1.console.aws.amazon.com/states/"),
                "case {name}"
            );
            assert_eq!(
                buttons[1]["url"], "https://grafana.example/d/s",
                "case {name}"
            );
            assert!(
                v["text"].as_str().unwrap().contains("smartscale-prod"),
                "case {name}"
            );
        }
    }

    #[test]
    fn recovery_is_said_and_mrkdwn_is_escaped() {
        let mut n = sample(NotificationKind::JoinFailure, 3, 3);
        n.recovered = true;
        n.reason = "a <b> & c".into();
        n.execution_arn = None;
        let v = payload(&n, &Presentation::default());
        assert_eq!(
            v["blocks"][0]["text"]["text"],
            ":red_circle: Node Join Failure (recovery)"
        );
        assert!(v["blocks"][1]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("left unfinished"));
        assert!(field_texts(&v).contains(&"*Reason:*\na &lt;b&gt; &amp; c".to_string()));
        assert_eq!(
            v["blocks"].as_array().unwrap().len(),
            3,
            "no links, no actions block"
        );
    }
}
