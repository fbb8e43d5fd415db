//! The weekly ledger item (`docs/WEEKLY_REPORT.md`): `<cluster>#week#<local Monday>` beside the
//! cluster item, one Number attribute `<kind>#<id>` per event holding the Unix seconds it was
//! first recorded at, and a TTL five weeks after the week starts.

use crate::error::{Error, Result};
use crate::notify::weekly::WeekEvent;
use crate::seams::LedgerEntry;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, NaiveDate};
use std::collections::HashMap;

/// How long a ledger item is kept after its week starts: the report of the week after reads it,
/// and a few weeks more let a person look back.
pub const KEEP_DAYS: i64 = 35;

/// The partition key of the ledger item of `week` in cluster `cluster_id`.
pub fn week_key(cluster_id: &str, week: NaiveDate) -> String {
    format!("{cluster_id}#week#{}", week.format("%Y-%m-%d"))
}

/// The attribute of one event: `<kind>#<id>`.
pub fn event_attribute(e: &LedgerEntry) -> String {
    format!("{}#{}", e.kind.as_str(), e.id)
}

/// The item's TTL: `week` 00:00 UTC plus [`KEEP_DAYS`], in Unix seconds.
pub fn ttl_of(week: NaiveDate) -> i64 {
    (week + Duration::days(KEEP_DAYS))
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp())
}

/// The events of a ledger item, sorted by time then kind and id. Attributes that are no event
/// (the key, the TTL) are skipped. Errors: `Fatal` for an event attribute that is no time.
pub fn entries_from_item(
    item: &HashMap<String, AttributeValue>,
    context: &str,
) -> Result<Vec<LedgerEntry>> {
    let mut out = Vec::new();
    for (name, value) in item {
        let Some((kind, id)) = name.split_once('#') else {
            continue;
        };
        let Some(kind) = WeekEvent::parse(kind) else {
            continue;
        };
        let at = value
            .as_n()
            .ok()
            .and_then(|n| n.parse::<i64>().ok())
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .ok_or_else(|| {
                Error::fatal(
                    context.to_owned(),
                    format!("ledger attribute {name} is not a Unix time"),
                )
            })?;
        out.push(LedgerEntry {
            kind,
            id: id.to_owned(),
            at,
        });
    }
    out.sort_by(|a, b| (a.at, a.kind, &a.id).cmp(&(b.at, b.kind, &b.id)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn keys_attributes_and_ttl() {
        let week = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(week_key("prod", week), "prod#week#2026-11-30");
        let e = LedgerEntry {
            kind: WeekEvent::SpotWarning,
            id: "i-0abc".into(),
            at: Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap(),
        };
        assert_eq!(event_attribute(&e), "spot_warning#i-0abc");
        assert_eq!(
            ttl_of(week),
            Utc.with_ymd_and_hms(2027, 1, 4, 0, 0, 0)
                .unwrap()
                .timestamp()
        );
    }

    #[test]
    fn items_read_back_and_bad_times_are_fatal() {
        let n = |v: &str| AttributeValue::N(v.into());
        let item: HashMap<String, AttributeValue> = [
            (
                "cluster_id".to_string(),
                AttributeValue::S("prod#week#2026-11-30".into()),
            ),
            ("ttl".to_string(), n("1799999999")),
            ("scale_up#prod-op-2".to_string(), n("1800000100")),
            ("scale_up#prod-op-1".to_string(), n("1800000000")),
            ("spot_replacement#i-0r".to_string(), n("1800000100")),
        ]
        .into();
        let got = entries_from_item(&item, "reading").unwrap();
        let names: Vec<String> = got.iter().map(event_attribute).collect();
        assert_eq!(
            names,
            [
                "scale_up#prod-op-1",
                "scale_up#prod-op-2",
                "spot_replacement#i-0r"
            ]
        );
        let bad: HashMap<String, AttributeValue> =
            [("scale_down#op".to_string(), AttributeValue::S("x".into()))].into();
        assert_eq!(
            entries_from_item(&bad, "reading").unwrap_err().kind(),
            "Fatal"
        );
    }
}
