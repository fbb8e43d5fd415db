//! Plain-text tables for people: columns padded to their widest cell.

/// Renders `header` and `rows` as left-aligned columns separated by two spaces, each line
/// indented by two spaces; `(none)` when there are no rows.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return "  (none)\n".into();
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, cell) in r.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out.push_str(&line(r.clone()));
    }
    out
}

/// `s` seconds as people say it (`4m 10s`), negative as `… ago`.
pub(crate) fn span(secs: i64) -> String {
    let human = smartscale_core::engine::human_secs(secs.unsigned_abs());
    if secs < 0 {
        format!("{human} ago")
    } else {
        human
    }
}

/// A value or `-`.
pub(crate) fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "-".into())
}

/// The serde name of a unit variant (`scale_up`), or the tag of an internally tagged enum (the
/// first string member: `rule` of an `UnremovableReason`).
pub(crate) fn serde_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(o)) => o
            .get("rule")
            .or_else(|| o.values().find(|v| v.is_string()))
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string(),
        _ => "?".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let t = table(&["a", "bb"], &[vec!["long".into(), "x".into()]]);
        assert_eq!(t, "  a     bb\n  long  x\n");
        assert_eq!(table(&["a"], &[]), "  (none)\n");
        assert_eq!(span(-90), "1m 30s ago");
    }
}
