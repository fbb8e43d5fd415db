//! The step-rights contract, `functions/contract.json`: which seam methods each step uses. The
//! runtime builds a step's seams from it ([`Needs`]); the CDK app grants each step's role the
//! capabilities those methods need (`cdk/lib/contract.ts` reads the same file). The test
//! `tests/contract_uses.rs` runs every step over its sample events and fails when a step calls a
//! seam method its entry does not list.

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// The contract file, compiled in so the binary and the file cannot drift apart.
const CONTRACT_JSON: &str = include_str!("../../contract.json");

/// One seam of `smartscale_core::seams` (the names used in `contract.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Seam {
    /// `StateStore`: the DynamoDB state item.
    Store,
    /// `NodeProvisioner`: EC2.
    Ec2,
    /// `ClusterApi`: the Kubernetes API.
    Cluster,
    /// `MetricsSource`: Prometheus.
    Metrics,
    /// `Notifier`: Slack and SNS.
    Notify,
    /// `MetricHistory`: CloudWatch.
    History,
}

impl Seam {
    /// Every seam.
    pub const ALL: [Seam; 6] = [
        Seam::Store,
        Seam::Ec2,
        Seam::Cluster,
        Seam::Metrics,
        Seam::Notify,
        Seam::History,
    ];

    /// The name `contract.json` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Seam::Store => "store",
            Seam::Ec2 => "ec2",
            Seam::Cluster => "cluster",
            Seam::Metrics => "metrics",
            Seam::Notify => "notify",
            Seam::History => "history",
        }
    }
}

/// The set of seams a step uses; [`crate::build_deps`] builds only those (the others stay
/// `smartscale_core::steps::Unwired`, which fails every call).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Needs(BTreeSet<Seam>);

impl Needs {
    /// Needs of exactly `seams`.
    pub fn of(seams: impl IntoIterator<Item = Seam>) -> Needs {
        Needs(seams.into_iter().collect())
    }

    /// True when `seam` is needed.
    pub fn has(&self, seam: Seam) -> bool {
        self.0.contains(&seam)
    }

    /// The needed seams, in [`Seam`] order.
    pub fn seams(&self) -> impl Iterator<Item = Seam> + '_ {
        self.0.iter().copied()
    }
}

/// One step's entry: its kebab-case name and the methods it calls on each seam.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepContract {
    /// The function's kebab-case name (`launch-nodes`).
    pub name: String,
    /// Seam to the method names called on it (`store` -> `renew`, `save_operation`).
    pub uses: BTreeMap<Seam, BTreeSet<String>>,
}

impl StepContract {
    /// The seams this step uses.
    pub fn needs(&self) -> Needs {
        Needs::of(self.uses.keys().copied())
    }

    /// True when the entry lists `method` on `seam`.
    pub fn allows(&self, seam: Seam, method: &str) -> bool {
        self.uses.get(&seam).is_some_and(|m| m.contains(method))
    }
}

/// The whole contract file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// What the file is (prose, for readers of the JSON).
    pub about: String,
    /// Seam to method to the capabilities its adapter needs.
    pub seams: BTreeMap<Seam, BTreeMap<String, Vec<String>>>,
    /// Capability to the IAM actions the CDK grants for it.
    pub capabilities: BTreeMap<String, Vec<String>>,
    /// One entry per Lambda step.
    pub steps: Vec<StepContract>,
}

impl Contract {
    /// Parses and checks a contract: every step's methods exist in `seams`, every capability a
    /// method names exists in `capabilities`, step names are unique. Errors name the first
    /// problem found.
    pub fn parse(json: &str) -> Result<Contract, String> {
        let c: Contract =
            serde_json::from_str(json).map_err(|e| format!("functions/contract.json: {e}"))?;
        for (seam, methods) in &c.seams {
            for (method, caps) in methods {
                if let Some(cap) = caps.iter().find(|k| !c.capabilities.contains_key(*k)) {
                    return Err(format!(
                        "{}.{method} needs capability {cap}, which `capabilities` does not define",
                        seam.as_str()
                    ));
                }
            }
        }
        let mut names = BTreeSet::new();
        for step in &c.steps {
            if !names.insert(step.name.as_str()) {
                return Err(format!("step {} is listed twice", step.name));
            }
            for (seam, methods) in &step.uses {
                for m in methods {
                    if !c.seams.get(seam).is_some_and(|s| s.contains_key(m)) {
                        return Err(format!(
                            "step {} uses {}.{m}, which `seams` does not define",
                            step.name,
                            seam.as_str()
                        ));
                    }
                }
            }
        }
        Ok(c)
    }

    /// The entry of step `name`, if the contract has one.
    pub fn step(&self, name: &str) -> Option<&StepContract> {
        self.steps.iter().find(|s| s.name == name)
    }
}

/// The contract compiled into this binary. Panics only if `functions/contract.json` is invalid,
/// which the unit test below rules out before anything ships.
pub fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| Contract::parse(CONTRACT_JSON).expect("functions/contract.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_contract_is_valid() {
        let c = Contract::parse(CONTRACT_JSON).unwrap();
        assert_eq!(c.steps.len(), crate::steps::NAMES.len());
        let launch = c.step("launch-nodes").unwrap();
        assert!(launch.needs().has(Seam::Notify));
        assert!(!launch.needs().has(Seam::Cluster));
        assert!(launch.allows(Seam::Ec2, "launch"));
        assert!(!launch.allows(Seam::Ec2, "terminate"));
    }

    #[test]
    fn inconsistent_contracts_are_refused() {
        let base = |steps: &str, caps: &str| {
            format!(
                r#"{{"about":"","seams":{{"store":{{"load":["state-read"]}}}},
                "capabilities":{{{caps}}},"steps":[{steps}]}}"#
            )
        };
        let cases = [
            (
                "unknown method",
                base(
                    r#"{"name":"a","uses":{"store":["drop"]}}"#,
                    r#""state-read":[]"#,
                ),
                "uses store.drop",
            ),
            (
                "unknown capability",
                base(r#"{"name":"a","uses":{}}"#, r#""other":[]"#),
                "capability state-read",
            ),
            (
                "duplicate step",
                base(
                    r#"{"name":"a","uses":{}},{"name":"a","uses":{}}"#,
                    r#""state-read":[]"#,
                ),
                "listed twice",
            ),
            (
                "unknown seam",
                base(r#"{"name":"a","uses":{"s3":[]}}"#, r#""state-read":[]"#),
                "unknown variant",
            ),
        ];
        for (name, json, want) in cases {
            let err = Contract::parse(&json).unwrap_err();
            assert!(err.contains(want), "case {name}: {err}");
        }
    }
}
