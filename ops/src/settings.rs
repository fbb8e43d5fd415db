//! The configuration an operator command runs with: the functions' own [`Config`], read from the
//! variables a function is deployed with — `--env-file` (a JSON object of variables, as
//! `aws lambda get-function-configuration --function-name smartscale-<id>-evaluate --query
//! Environment.Variables` prints it), then the process environment — with `CLUSTER_ID` taken from
//! `--cluster`. So `explain` weighs exactly the thresholds Evaluate weighs.

use crate::OpsError;
use smartscale_core::Config;
use std::collections::BTreeMap;
use std::path::Path;

/// The variables of `env_file` (when given) over `lookup`, with `CLUSTER_ID = cluster`, read as
/// a [`Config`].
///
/// Errors: [`OpsError::Settings`] when the file cannot be read, is not a JSON object of strings,
/// or when the variables are invalid (every problem listed, as a Lambda's cold start lists them).
pub fn load(
    cluster: &str,
    env_file: Option<&Path>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Config, OpsError> {
    let file: BTreeMap<String, serde_json::Value> = match env_file {
        None => BTreeMap::new(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| OpsError::Settings(format!("reading {}: {e}", path.display())))?;
            serde_json::from_str(&text).map_err(|e| {
                OpsError::Settings(format!(
                    "{}: not a JSON object of variables: {e}",
                    path.display()
                ))
            })?
        }
    };
    let value = |name: &str| -> Option<String> {
        if name == "CLUSTER_ID" {
            return Some(cluster.to_string());
        }
        match file.get(name) {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(v) if !v.is_null() => Some(v.to_string()),
            _ => lookup(name),
        }
    };
    Config::from_lookup(value).map_err(|e| OpsError::Settings(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Case {
        name: &'static str,
        file: Option<&'static str>,
        env: &'static [(&'static str, &'static str)],
        want_table: Result<&'static str, &'static str>,
        want_min: u32,
    }

    #[test]
    fn the_file_overrides_the_environment_and_the_cluster_is_the_flag() {
        let cases = [
            Case {
                name: "environment only",
                file: None,
                env: &[("DYNAMODB_TABLE", "from-env"), ("CLUSTER_ID", "other")],
                want_table: Ok("from-env"),
                want_min: 2,
            },
            Case {
                name: "the file wins, numbers as numbers",
                file: Some(r#"{"DYNAMODB_TABLE": "from-file", "MIN_NODES": 3}"#),
                env: &[("DYNAMODB_TABLE", "from-env")],
                want_table: Ok("from-file"),
                want_min: 3,
            },
            Case {
                name: "not an object",
                file: Some("[1, 2]"),
                env: &[],
                want_table: Err("not a JSON object"),
                want_min: 0,
            },
            Case {
                name: "invalid variables are listed",
                file: Some(r#"{"MIN_NODES": "many"}"#),
                env: &[],
                want_table: Err("MIN_NODES"),
                want_min: 0,
            },
        ];
        let dir =
            std::env::temp_dir().join(format!("smartscale-ops-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for c in cases {
            let path = dir.join("env.json");
            if let Some(text) = c.file {
                std::fs::write(&path, text).unwrap();
            }
            let env = c.env;
            let got = load("demo", c.file.map(|_| path.as_path()), |name| {
                env.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            });
            match (got, c.want_table) {
                (Ok(cfg), Ok(table)) => {
                    assert_eq!(cfg.dynamodb_table, table, "case {}", c.name);
                    assert_eq!(cfg.cluster_id, "demo", "case {}", c.name);
                    assert_eq!(cfg.min_nodes, c.want_min, "case {}", c.name);
                }
                (Err(e), Err(part)) => {
                    assert!(e.to_string().contains(part), "case {}: {e}", c.name)
                }
                (got, want) => panic!("case {}: got {got:?}, want {want:?}", c.name),
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
