//! SNS subject and message. SNS subjects must be ASCII without line breaks and under 100
//! characters, so the subject carries no emoji; the message is plain text, one fact per line.

use super::Presentation;
use super::{facts, links, Notification};

/// The most characters SNS accepts in a subject, minus one.
const SUBJECT_MAX_CHARS: usize = 99;

/// `(subject, message)` for `n`.
pub fn subject_and_message(n: &Notification, cfg: &Presentation) -> (String, String) {
    let style = n.kind.style();
    let mut subject = format!(
        "SmartScale {}: {}{}",
        if style.alert { "Alert" } else { "Event" },
        style.title,
        if n.recovered { " (recovery)" } else { "" }
    );
    subject.push_str(&format!(" [{}]", n.cluster_id));
    let subject = ascii_subject(&subject);

    let mut message = format!("{}\nCluster: {}\n", style.title, n.cluster_id);
    if n.recovered {
        message.push_str(
            "Recovery: this execution finished or undid an operation left unfinished by an earlier run.\n",
        );
    }
    for (label, value) in facts(n, cfg) {
        message.push_str(&format!("{label}: {value}\n"));
    }
    for (label, url) in links(n, cfg) {
        message.push_str(&format!("{label}: {url}\n"));
    }
    (subject, message)
}

/// `subject` as SNS accepts it: printable ASCII (anything else becomes `?`), at most
/// [`SUBJECT_MAX_CHARS`] characters.
pub(crate) fn ascii_subject(subject: &str) -> String {
    subject
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .take(SUBJECT_MAX_CHARS)
        .collect()
}

/// The SNS message attributes of `n`, as `(name, String value)`, for subscription filter policies:
/// `kind` (`at_maximum_capacity`, `scale_up_completed`, ...), `severity` (`alert` or `event`) and
/// `cluster_id`.
pub fn message_attributes(n: &Notification) -> Vec<(&'static str, String)> {
    vec![
        ("kind", n.kind.as_str().to_string()),
        (
            "severity",
            if n.kind.style().alert {
                "alert"
            } else {
                "event"
            }
            .to_string(),
        ),
        ("cluster_id", n.cluster_id.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::NotificationKind;
    use chrono::TimeZone;

    #[test]
    fn subjects_are_short_ascii_and_messages_carry_the_facts() {
        let base = Notification {
            kind: NotificationKind::ScaleDownCompleted,
            cluster_id: "smartscale-prod".into(),
            reason: "CPU stayed below 30% for 10m (highest 22.0%)".into(),
            action: "Removed 1 node (i-0abc)".into(),
            nodes_before: Some(3),
            nodes_after: Some(2),
            recommendation: None,
            recovered: false,
            time: chrono::Utc
                .with_ymd_and_hms(2026, 11, 23, 22, 45, 0)
                .unwrap(),
            execution_arn: Some("arn:aws:states:us-east-1:1:execution:m:x".into()),
        };
        let long = Notification {
            cluster_id: "c".repeat(200),
            ..base.clone()
        };
        let failure = Notification {
            kind: NotificationKind::ScalingFailure,
            recommendation: Some("Request a quota increase".into()),
            recovered: true,
            ..base.clone()
        };
        let cases: Vec<(&str, Notification, &str, &[&str])> = vec![
            (
                "scale down",
                base,
                "SmartScale Event: Scale-Down Completed [smartscale-prod]",
                &[
                    "Nodes: 3 → 2",
                    "Estimated savings: -$0.50/day",
                    "Time: 2026-11-23 22:45:00 UTC",
                    "View execution: https://us-east-1.console",
                ],
            ),
            (
                "failure",
                failure,
                "SmartScale Alert: Scaling Failure (recovery) [smartscale-prod]",
                &["Recommendation: Request a quota increase", "Recovery: "],
            ),
            ("long cluster id", long, "", &[]),
        ];
        for (name, n, want_subject, lines) in cases {
            let (subject, message) = subject_and_message(&n, &Presentation::default());
            assert!(
                subject.len() < 100 && subject.is_ascii() && !subject.contains('\n'),
                "case {name}"
            );
            if !want_subject.is_empty() {
                assert_eq!(subject, want_subject, "case {name}");
            }
            for l in lines {
                assert!(message.contains(l), "case {name}: {l} not in {message}");
            }
        }
    }
}
