//! The item layout: [`ScalingState`] to and from DynamoDB attributes.
//!
//! Timestamps are whole Unix seconds (Number), as docs/STATE_AND_LOCKING.md specifies; sub-second parts are dropped on
//! write. The operation in flight is a map; the cached metrics are one JSON string.

use crate::error::{Error, Result};
use crate::model::{
    AlertRecord, CachedMetrics, Lease, Operation, OperationKind, ScaleAction, ScalingState,
};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Attribute names, in one place.
pub mod attr {
    /// Partition key (S).
    pub const CLUSTER_ID: &str = "cluster_id";
    /// Workers after the last action (N).
    pub const NODE_COUNT: &str = "node_count";
    /// Unix seconds of the last action (N).
    pub const LAST_SCALE_TIME: &str = "last_scale_time";
    /// `scale_up` or `scale_down` (S).
    pub const LAST_SCALE_ACTION: &str = "last_scale_action";
    /// Rendered reasons of the last action (S).
    pub const LAST_SCALE_REASON: &str = "last_scale_reason";
    /// `"true"` while a lease exists, absent otherwise (S; the item layout of docs/STATE_AND_LOCKING.md).
    pub const SCALING_IN_PROGRESS: &str = "scaling_in_progress";
    /// Unix seconds the lease lapses at (N).
    pub const LOCK_EXPIRY: &str = "lock_expiry";
    /// The lease holder, the execution id (S).
    pub const LOCK_OWNER: &str = "lock_owner";
    /// The lease's fencing token (N).
    pub const LOCK_TOKEN: &str = "lock_token";
    /// The highest token ever issued; survives release (N).
    pub const LAST_TOKEN: &str = "last_token";
    /// The operation in flight (M).
    pub const OPERATION: &str = "operation";
    /// The last good metrics, JSON of `CachedMetrics` (S).
    pub const CACHED_METRICS: &str = "cached_metrics";
    /// Unix seconds of the last "at maximum capacity" alert (N).
    pub const CAPACITY_ALERT_TIME: &str = "capacity_alert_time";
    /// Fencing token of the lease that raised that alert (N).
    pub const CAPACITY_ALERT_TOKEN: &str = "capacity_alert_token";
    /// DynamoDB TTL: Unix seconds after which the item may be deleted (N).
    pub const TTL: &str = "ttl";
    /// Spot claim item: the instance claimed (S).
    pub const INSTANCE_ID: &str = "instance_id";
    /// Spot claim item: the claiming spot execution (S).
    pub const CLAIM_OWNER: &str = "claim_owner";
    /// Spot claim item: Unix seconds the claim lapses at (N).
    pub const CLAIM_EXPIRY: &str = "claim_expiry";
    /// Forecast item: the demand history in its stored text (S,
    /// `smartscale_engine::engine::forecast::codec`).
    pub const HISTORY: &str = "history";
    /// Forecast item: the scheduled floor last announced as started (S; absent when none).
    pub const ANNOUNCED_FLOOR: &str = "announced_floor";
    /// Forecast item: the `forecast-only` figures of the local day, JSON (S; absent when none).
    pub const DAY_SUMMARY: &str = "day_summary";
    /// Forecast item: Unix seconds of the last Prometheus backfill (N; absent when none).
    pub const BACKFILLED_AT: &str = "backfilled_at";
    /// Forecast item: Unix seconds the scale-up awaiting its boot-to-Ready time started (N).
    pub const LAUNCH_STARTED: &str = "launch_started";
    /// Forecast item: fencing token of the lease that last wrote it (N).
    pub const WRITTEN_TOKEN: &str = "written_token";
}

/// The key of the cluster's forecast item: `<cluster>#forecast`, beside the cluster item (the
/// `dynamodb:LeadingKeys` condition names it).
pub fn forecast_key(cluster_id: &str) -> String {
    format!("{cluster_id}#forecast")
}

/// The forecast record of a forecast item. Errors: a text, in `history` or `day_summary`, this
/// build does not read (the caller treats the item as missing).
pub fn forecast_from_item(
    item: &HashMap<String, AttributeValue>,
) -> std::result::Result<crate::forecast::ForecastRecord, String> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
    let time = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok())
            .and_then(|t| DateTime::from_timestamp(t, 0))
    };
    let history = smartscale_engine::engine::forecast::codec::decode(
        text(attr::HISTORY).ok_or("the item has no history")?,
    )?;
    let day = text(attr::DAY_SUMMARY)
        .map(|j| serde_json::from_str(j).map_err(|e| format!("day summary: {e}")))
        .transpose()?;
    Ok(crate::forecast::ForecastRecord {
        history,
        announced_floor: text(attr::ANNOUNCED_FLOOR).cloned(),
        day,
        backfilled_at: time(attr::BACKFILLED_AT),
        launch_started: time(attr::LAUNCH_STARTED),
    })
}

/// The partition key of the spot claim item of `instance_id` in cluster `cluster_id`:
/// `<cluster>#spot-claim#<instance>`. `#` cannot occur in a cluster id or an instance id, so the
/// key never collides with a cluster item.
pub fn spot_claim_key(cluster_id: &str, instance_id: &str) -> String {
    format!("{cluster_id}#spot-claim#{instance_id}")
}

/// The key of the cluster's failed-offer item: `<cluster>#offers`, beside the cluster item (the
/// `dynamodb:LeadingKeys` condition names it).
pub fn offers_key(cluster_id: &str) -> String {
    format!("{cluster_id}#offers")
}

/// The attribute of the offers item that holds until when Spot `pool` is skipped:
/// `spot:<type>@<zone>`.
pub fn offer_attribute(pool: &crate::seams::Pool) -> String {
    format!("{OFFER_PREFIX}{}@{}", pool.instance_type, pool.zone)
}

const OFFER_PREFIX: &str = "spot:";

/// The pools of an offers item still skipped at `now_secs` (epoch seconds).
pub fn offers_from_item(
    item: &HashMap<String, AttributeValue>,
    now_secs: i64,
) -> Vec<crate::seams::Pool> {
    let mut pools: Vec<crate::seams::Pool> = item
        .iter()
        .filter_map(|(k, v)| {
            let (instance_type, zone) = k.strip_prefix(OFFER_PREFIX)?.split_once('@')?;
            let until: i64 = v.as_n().ok()?.parse().ok()?;
            (until > now_secs).then(|| crate::seams::Pool {
                instance_type: instance_type.to_owned(),
                zone: zone.to_owned(),
            })
        })
        .collect();
    pools.sort_by(|a, b| (&a.instance_type, &a.zone).cmp(&(&b.instance_type, &b.zone)));
    pools
}

/// The claim recorded in a spot claim item: `(owner, expires_at)`.
pub fn claim_from_item(
    item: &HashMap<String, AttributeValue>,
    context: &str,
) -> Result<Option<(String, DateTime<Utc>)>> {
    let r = Reader { item, context };
    let Some(owner) = r.string(attr::CLAIM_OWNER)? else {
        return Ok(None);
    };
    Ok(Some((owner, r.required_time(attr::CLAIM_EXPIRY)?)))
}

/// A Number attribute.
pub fn num(n: impl ToString) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// A String attribute.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// Whole Unix seconds of `t`.
pub fn secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// `t` plus `secs` seconds, truncated to whole seconds as stored.
pub fn plus_secs(t: DateTime<Utc>, secs: u64) -> i64 {
    t.timestamp()
        .saturating_add(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// The operation as a map attribute.
pub fn operation_to_attr(op: &Operation) -> AttributeValue {
    let mut m = HashMap::from([
        ("id".to_owned(), s(&op.id)),
        ("kind".to_owned(), s(kind_str(op.kind))),
        (
            "instance_ids".to_owned(),
            AttributeValue::L(op.instance_ids.iter().map(s).collect()),
        ),
        ("requested_count".to_owned(), num(op.requested_count)),
        ("started_at".to_owned(), num(secs(op.started_at))),
        ("deadline".to_owned(), num(secs(op.deadline))),
        ("reason".to_owned(), s(&op.reason)),
        ("recovery_attempts".to_owned(), num(op.recovery_attempts)),
    ]);
    if let Some(node) = &op.node_name {
        m.insert("node_name".to_owned(), s(node));
    }
    AttributeValue::M(m)
}

fn kind_str(kind: OperationKind) -> &'static str {
    match kind {
        OperationKind::ScaleUp => "scale_up",
        OperationKind::ScaleDown => "scale_down",
        OperationKind::SpotReplace => "spot_replace",
    }
}

/// Reads attributes of one item, naming the item and attribute in every error.
struct Reader<'a> {
    item: &'a HashMap<String, AttributeValue>,
    context: &'a str,
}

impl Reader<'_> {
    fn bad(&self, name: &str, what: &str) -> Error {
        Error::fatal(self.context, format!("attribute {name} {what}"))
    }

    fn string(&self, name: &str) -> Result<Option<String>> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
            Some(_) => Err(self.bad(name, "is not a string")),
        }
    }

    fn required_string(&self, name: &str) -> Result<String> {
        self.string(name)?
            .ok_or_else(|| self.bad(name, "is missing"))
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(v)) => v
                .parse()
                .map(Some)
                .map_err(|_| self.bad(name, &format!("'{v}' is not a valid number here"))),
            Some(_) => Err(self.bad(name, "is not a number")),
        }
    }

    fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>> {
        match self.number::<i64>(name)? {
            None => Ok(None),
            Some(t) => DateTime::from_timestamp(t, 0)
                .map(Some)
                .ok_or_else(|| self.bad(name, "is out of range")),
        }
    }

    fn required_time(&self, name: &str) -> Result<DateTime<Utc>> {
        self.time(name)?.ok_or_else(|| self.bad(name, "is missing"))
    }
}

/// The lease recorded in `item`, if any.
pub fn lease_from_item(
    item: &HashMap<String, AttributeValue>,
    context: &str,
) -> Result<Option<Lease>> {
    let r = Reader { item, context };
    let Some(owner) = r.string(attr::LOCK_OWNER)? else {
        return Ok(None);
    };
    Ok(Some(Lease {
        owner,
        token: r.number(attr::LOCK_TOKEN)?.unwrap_or(0),
        expires_at: r.required_time(attr::LOCK_EXPIRY)?,
    }))
}

fn operation_from_attr(v: &AttributeValue, context: &str) -> Result<Operation> {
    let AttributeValue::M(item) = v else {
        return Err(Error::fatal(context, "attribute operation is not a map"));
    };
    let r = Reader { item, context };
    let kind = match r.required_string("kind")?.as_str() {
        "scale_up" => OperationKind::ScaleUp,
        "scale_down" => OperationKind::ScaleDown,
        "spot_replace" => OperationKind::SpotReplace,
        other => return Err(r.bad("operation.kind", &format!("has unknown value '{other}'"))),
    };
    let instance_ids = match item.get("instance_ids") {
        None => Vec::new(),
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|v| match v {
                AttributeValue::S(id) => Ok(id.clone()),
                _ => Err(r.bad("operation.instance_ids", "holds a non-string")),
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(r.bad("operation.instance_ids", "is not a list")),
    };
    Ok(Operation {
        id: r.required_string("id")?,
        kind,
        instance_ids,
        requested_count: r.number("requested_count")?.unwrap_or(0),
        node_name: r.string("node_name")?,
        started_at: r.required_time("started_at")?,
        deadline: r.required_time("deadline")?,
        reason: r.string("reason")?.unwrap_or_default(),
        recovery_attempts: r.number("recovery_attempts")?.unwrap_or(0),
    })
}

/// The state held in `item`.
///
/// Errors: [`Error::Fatal`] naming the attribute when the item does not have the expected shape.
pub fn state_from_item(
    cluster_id: &str,
    item: &HashMap<String, AttributeValue>,
    context: &str,
) -> Result<ScalingState> {
    let r = Reader { item, context };
    let last_scale_action = match r.string(attr::LAST_SCALE_ACTION)?.as_deref() {
        None => None,
        Some("scale_up") => Some(ScaleAction::ScaleUp),
        Some("scale_down") => Some(ScaleAction::ScaleDown),
        Some(other) => {
            return Err(r.bad(
                attr::LAST_SCALE_ACTION,
                &format!("has unknown value '{other}'"),
            ))
        }
    };
    let cached_metrics = match r.string(attr::CACHED_METRICS)? {
        None => None,
        Some(json) => Some(serde_json::from_str::<CachedMetrics>(&json).map_err(|e| {
            r.bad(
                attr::CACHED_METRICS,
                &format!("is not valid metrics JSON: {e}"),
            )
        })?),
    };
    let operation = item
        .get(attr::OPERATION)
        .filter(|v| !matches!(v, AttributeValue::Null(_)))
        .map(|v| operation_from_attr(v, context))
        .transpose()?;
    let lease = lease_from_item(item, context)?;
    let capacity_alert = match r.time(attr::CAPACITY_ALERT_TIME)? {
        None => None,
        Some(at) => Some(AlertRecord {
            at,
            token: r.number(attr::CAPACITY_ALERT_TOKEN)?.unwrap_or(0),
        }),
    };
    let last_token = r
        .number::<u64>(attr::LAST_TOKEN)?
        .unwrap_or(0)
        .max(lease.as_ref().map_or(0, |l| l.token));
    Ok(ScalingState {
        cluster_id: r
            .string(attr::CLUSTER_ID)?
            .unwrap_or_else(|| cluster_id.to_owned()),
        node_count: r.number(attr::NODE_COUNT)?,
        last_scale_time: r.time(attr::LAST_SCALE_TIME)?,
        last_scale_action,
        last_scale_reason: r.string(attr::LAST_SCALE_REASON)?,
        lease,
        last_token,
        operation,
        cached_metrics,
        capacity_alert,
    })
}

/// The token and expiry of the lease `item` records for `owner`, after a successful write.
pub fn written_lease(item: &HashMap<String, AttributeValue>, context: &str) -> Result<Lease> {
    lease_from_item(item, context)?
        .ok_or_else(|| Error::fatal(context, "the written item holds no lease"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn operation_round_trips_through_a_map() {
        let cases = [
            (
                "scale-up without node",
                Operation {
                    id: "op-1".into(),
                    kind: OperationKind::ScaleUp,
                    instance_ids: vec!["i-1".into(), "i-2".into()],
                    requested_count: 2,
                    node_name: None,
                    started_at: t(1_700_000_000),
                    deadline: t(1_700_000_300),
                    reason: "CPU 91%".into(),
                    recovery_attempts: 0,
                },
            ),
            (
                "scale-down with node, no instances",
                Operation {
                    id: "op-2".into(),
                    kind: OperationKind::ScaleDown,
                    instance_ids: vec![],
                    requested_count: 0,
                    node_name: Some("ip-10-0-1-5.ec2.internal".into()),
                    started_at: t(1_700_000_000),
                    deadline: t(1_700_000_300),
                    reason: String::new(),
                    recovery_attempts: 2,
                },
            ),
        ];
        for (name, op) in cases {
            let back = operation_from_attr(&operation_to_attr(&op), "test").unwrap();
            assert_eq!(back, op, "case {name}");
        }
    }

    /// (case name, attributes of the item, expected error text).
    type BadItem<'a> = (&'a str, Vec<(&'a str, AttributeValue)>, &'a str);

    #[test]
    fn malformed_items_name_the_attribute() {
        let cases: Vec<BadItem> = vec![
            (
                "token not a number",
                vec![
                    (attr::LOCK_OWNER, s("x")),
                    (attr::LOCK_TOKEN, s("seven")),
                    (attr::LOCK_EXPIRY, num(5)),
                ],
                "attribute lock_token is not a number",
            ),
            (
                "lease without expiry",
                vec![(attr::LOCK_OWNER, s("x")), (attr::LOCK_TOKEN, num(1))],
                "attribute lock_expiry is missing",
            ),
            (
                "unknown action",
                vec![(attr::LAST_SCALE_ACTION, s("sideways"))],
                "attribute last_scale_action has unknown value 'sideways'",
            ),
            (
                "bad metrics json",
                vec![(attr::CACHED_METRICS, s("{"))],
                "attribute cached_metrics is not valid metrics JSON",
            ),
        ];
        for (name, attrs, want) in cases {
            let item = attrs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect::<HashMap<_, _>>();
            let err = state_from_item("c", &item, "reading c")
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "case {name}: {err}");
        }
    }

    #[test]
    fn empty_item_is_a_fresh_state() {
        let state = state_from_item("c", &HashMap::new(), "reading c").unwrap();
        assert_eq!(state, ScalingState::new("c"));
    }
}
