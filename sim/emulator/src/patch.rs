//! The three patch types kubectl and kube-rs send: JSON merge patch (RFC 7386), strategic merge
//! patch (treated as a merge patch: right for the maps and scalars SmartScale and kubectl patch,
//! such as `spec.unschedulable`, labels and annotations; list merge keys are not implemented) and
//! JSON patch (RFC 6902: add, replace, remove, test).

use serde_json::Value;

/// Applies a patch body of the given `Content-Type` to `target`.
///
/// Errors: a message for an unsupported patch type or a malformed or inapplicable patch.
pub fn apply(content_type: &str, target: Value, body: &[u8]) -> Result<Value, PatchError> {
    let patch: Value =
        serde_json::from_slice(body).map_err(|e| PatchError::Malformed(e.to_string()))?;
    let kind = content_type.split(';').next().unwrap_or_default().trim();
    match kind {
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            let mut t = target;
            merge(&mut t, &patch);
            Ok(t)
        }
        "application/json-patch+json" => json_patch(target, &patch),
        other => Err(PatchError::Unsupported(other.to_owned())),
    }
}

/// Why a patch could not be applied.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PatchError {
    /// Not a patch type the emulator implements (server-side apply, for one).
    #[error("the emulator does not implement patch type {0:?}: use merge, strategic merge or JSON patch")]
    Unsupported(String),
    /// The body is not valid for its patch type.
    #[error("malformed patch: {0}")]
    Malformed(String),
    /// A JSON patch operation does not apply to the object.
    #[error("json patch: {0}")]
    Failed(String),
}

/// RFC 7386: objects merge key by key, `null` deletes, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Default::default());
            }
            let t = target.as_object_mut().expect("made an object above");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn json_patch(mut target: Value, patch: &Value) -> Result<Value, PatchError> {
    let ops = patch
        .as_array()
        .ok_or_else(|| PatchError::Malformed("a JSON patch is an array of operations".into()))?;
    for op in ops {
        let name = op["op"].as_str().unwrap_or_default();
        let path = op["path"]
            .as_str()
            .ok_or_else(|| PatchError::Malformed("operation without path".into()))?;
        let value = op.get("value").cloned();
        match (name, value) {
            ("add", Some(v)) | ("replace", Some(v)) => set(&mut target, path, v, name == "add")?,
            ("remove", _) => remove(&mut target, path)?,
            ("test", Some(v)) => {
                if target.pointer(path) != Some(&v) {
                    return Err(PatchError::Failed(format!("test failed at {path}")));
                }
            }
            (other, _) => {
                return Err(PatchError::Malformed(format!(
                    "unsupported or incomplete operation {other:?}"
                )))
            }
        }
    }
    Ok(target)
}

fn split(path: &str) -> Result<(String, String), PatchError> {
    let (parent, last) = path
        .rsplit_once('/')
        .ok_or_else(|| PatchError::Malformed(format!("bad path {path:?}")))?;
    Ok((parent.to_owned(), unescape(last)))
}

fn set(target: &mut Value, path: &str, v: Value, add: bool) -> Result<(), PatchError> {
    let (parent, last) = split(path)?;
    let missing = || PatchError::Failed(format!("path {parent:?} does not exist"));
    match target.pointer_mut(&parent).ok_or_else(missing)? {
        Value::Object(m) => {
            if !add && !m.contains_key(&last) {
                return Err(PatchError::Failed(format!("nothing to replace at {path}")));
            }
            m.insert(last, v);
        }
        Value::Array(a) => {
            let i = if last == "-" {
                a.len()
            } else {
                last.parse()
                    .map_err(|_| PatchError::Failed(format!("bad index in {path}")))?
            };
            match (add, i <= a.len(), i < a.len()) {
                (true, true, _) => a.insert(i, v),
                (false, _, true) => a[i] = v,
                _ => return Err(PatchError::Failed(format!("index out of range in {path}"))),
            }
        }
        _ => return Err(missing()),
    }
    Ok(())
}

fn remove(target: &mut Value, path: &str) -> Result<(), PatchError> {
    let (parent, last) = split(path)?;
    let gone = || PatchError::Failed(format!("nothing to remove at {path}"));
    match target.pointer_mut(&parent).ok_or_else(gone)? {
        Value::Object(m) => m.remove(&last).map(|_| ()).ok_or_else(gone),
        Value::Array(a) => match last.parse::<usize>() {
            Ok(i) if i < a.len() => {
                a.remove(i);
                Ok(())
            }
            _ => Err(gone()),
        },
        _ => Err(gone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patches_as_clients_send_them() {
        let node = json!({"metadata": {"name": "n1", "labels": {"a": "1"}}, "spec": {}});
        let cases: Vec<(&str, &str, Value, Result<Value, ()>)> = vec![
            (
                "kubectl cordon (strategic merge)",
                "application/strategic-merge-patch+json",
                json!({"spec": {"unschedulable": true}}),
                Ok(
                    json!({"metadata": {"name": "n1", "labels": {"a": "1"}}, "spec": {"unschedulable": true}}),
                ),
            ),
            (
                "kubectl uncordon deletes with null",
                "application/merge-patch+json",
                json!({"spec": {"unschedulable": null}, "metadata": {"labels": {"b": "2"}}}),
                Ok(json!({"metadata": {"name": "n1", "labels": {"a": "1", "b": "2"}}, "spec": {}})),
            ),
            (
                "json patch add and remove",
                "application/json-patch+json",
                json!([{"op": "add", "path": "/spec/unschedulable", "value": true},
                       {"op": "remove", "path": "/metadata/labels/a"}]),
                Ok(
                    json!({"metadata": {"name": "n1", "labels": {}}, "spec": {"unschedulable": true}}),
                ),
            ),
            (
                "json patch replace of a missing key fails",
                "application/json-patch+json",
                json!([{"op": "replace", "path": "/spec/taints", "value": []}]),
                Err(()),
            ),
            (
                "server-side apply is refused",
                "application/apply-patch+yaml",
                json!({}),
                Err(()),
            ),
        ];
        for (name, ct, patch, want) in cases {
            let got = apply(ct, node.clone(), patch.to_string().as_bytes()).map_err(|_| ());
            assert_eq!(got, want, "case {name}");
        }
    }
}
