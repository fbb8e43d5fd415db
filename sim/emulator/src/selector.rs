//! `labelSelector` and `fieldSelector` query parameters, as far as kubectl and kube-rs use them.
//!
//! Label selectors: `k=v`, `k==v`, `k!=v`, `k` (exists), `!k` (absent), comma-separated (AND).
//! Field selectors: `path=v`, `path==v`, `path!=v` on any dotted field of the JSON object, such as
//! `spec.nodeName` or `status.phase`; a missing field compares as the empty string.

use serde_json::Value;
use std::collections::BTreeMap;

/// One parsed requirement.
#[derive(Debug, Clone, PartialEq)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    Exists(String),
    Absent(String),
}

fn parse(raw: &str) -> Vec<Req> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            if let Some((k, v)) = s.split_once("!=") {
                Req::Ne(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = s.split_once("==").or_else(|| s.split_once('=')) {
                Req::Eq(k.trim().into(), v.trim().into())
            } else if let Some(k) = s.strip_prefix('!') {
                Req::Absent(k.trim().into())
            } else {
                Req::Exists(s.into())
            }
        })
        .collect()
}

/// True when an object's `labels` (none when `None`) satisfy the label selector `raw`.
pub fn labels_match(raw: &str, labels: Option<&BTreeMap<String, String>>) -> bool {
    let get = |k: &String| labels.and_then(|l| l.get(k));
    parse(raw).iter().all(|r| match r {
        Req::Eq(k, v) => get(k) == Some(v),
        Req::Ne(k, v) => get(k) != Some(v),
        Req::Exists(k) => get(k).is_some(),
        Req::Absent(k) => get(k).is_none(),
    })
}

/// The dotted field `path` of the JSON `object` as a field selector compares it: a string as it
/// is, a missing or null field as the empty string, anything else as its JSON text.
pub fn field(object: &Value, path: &str) -> String {
    let pointer = format!("/{}", path.replace('.', "/"));
    match object.pointer(&pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// True when an object whose dotted fields `field` reads satisfies the field selector `raw`.
pub fn fields_match(raw: &str, field: impl Fn(&str) -> String) -> bool {
    parse(raw).iter().all(|r| match r {
        Req::Eq(k, v) => field(k) == *v,
        Req::Ne(k, v) => field(k) != *v,
        Req::Exists(_) | Req::Absent(_) => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors() {
        let pod = json!({"metadata": {"labels": {"app": "web", "tier": "fe"}},
                         "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        let cases = [
            ("label equal", true, "app=web", true),
            ("label double equal and", true, "app==web,tier=fe", true),
            ("label not equal", true, "app!=web", false),
            ("label exists", true, "tier", true),
            ("label absent", true, "!tier", false),
            ("field node", false, "spec.nodeName=n1", true),
            ("field other node", false, "spec.nodeName=n2", false),
            (
                "field phase not",
                false,
                "status.phase!=Succeeded,status.phase!=Failed",
                true,
            ),
            ("field missing is empty", false, "spec.missing=", true),
        ];
        for (name, label, raw, want) in cases {
            let labels: BTreeMap<String, String> =
                serde_json::from_value(pod["metadata"]["labels"].clone()).unwrap_or_default();
            let got = if label {
                labels_match(raw, Some(&labels))
            } else {
                fields_match(raw, |path| field(&pod, path))
            };
            assert_eq!(got, want, "case {name}");
        }
    }
}
