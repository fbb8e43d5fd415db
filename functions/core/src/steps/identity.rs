//! Which Node is which instance. A Node names its instance through the `providerID` its own
//! kubelet reports, so a Node is trusted to be instance `i` only when it is the one Node claiming
//! `i` and one of its addresses (`InternalIP`, `Hostname`) or its name is `i`'s private IP or
//! private DNS name. Every decision (Evaluate), every readiness check and every terminate goes
//! through [`Identities`]; see `docs/SECURITY_CHECKLIST.md` ("Node identity").

use crate::model::{parse_provider_id, NodeInfo};
use crate::seams::ManagedInstance;
use std::collections::BTreeMap;

/// The instance id `node` claims: its `instance_id`, else the one in its provider id.
pub fn claimed_instance(node: &NodeInfo) -> Option<String> {
    node.instance_id.clone().or_else(|| {
        node.provider_id
            .as_deref()
            .and_then(parse_provider_id)
            .map(|(_, id)| id)
    })
}

/// True when `node`'s name or one of its addresses is `instance`'s private IP or DNS name.
pub fn addresses_match(node: &NodeInfo, instance: &ManagedInstance) -> bool {
    let own = [
        instance.private_ip.as_deref(),
        instance.private_dns_name.as_deref(),
    ];
    own.into_iter()
        .flatten()
        .filter(|a| !a.is_empty())
        .any(|a| node.name == a || node.addresses.iter().any(|n| n == a))
}

/// The verified pairing of the view's Nodes with the cluster's managed instances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identities {
    /// Instance id → the name of the one Node verified to be it.
    pub matched: BTreeMap<String, String>,
    /// One sentence per untrusted claim on a managed instance, sorted: `node X claims i-… but
    /// its address does not match …`, or several nodes claiming one instance.
    pub problems: Vec<String>,
    /// Names of the Nodes whose claim was not trusted.
    pub untrusted: Vec<String>,
}

impl Identities {
    /// Pairs `nodes` with `instances`. Claims on instances that are not in `instances` (not
    /// SmartScale's) are neither matched nor problems: such nodes are never managed anyway.
    pub fn of(nodes: &[NodeInfo], instances: &[ManagedInstance]) -> Self {
        let by_id: BTreeMap<&str, &ManagedInstance> = instances
            .iter()
            .map(|i| (i.instance_id.as_str(), i))
            .collect();
        let mut claims: BTreeMap<String, Vec<&NodeInfo>> = BTreeMap::new();
        for n in nodes {
            if let Some(id) = claimed_instance(n).filter(|id| by_id.contains_key(id.as_str())) {
                claims.entry(id).or_default().push(n);
            }
        }
        let mut out = Identities::default();
        for (id, claimants) in claims {
            let instance = by_id[id.as_str()];
            match claimants.as_slice() {
                [one] if addresses_match(one, instance) => {
                    out.matched.insert(id, one.name.clone());
                }
                [one] => {
                    out.problems.push(format!(
                        "node {} claims {id} but its address does not match (node has {}; instance has {})",
                        one.name,
                        list(one.addresses.iter().map(String::as_str)),
                        list(
                            [instance.private_ip.as_deref(), instance.private_dns_name.as_deref()]
                                .into_iter()
                                .flatten()
                        ),
                    ));
                    out.untrusted.push(one.name.clone());
                }
                many => {
                    let names: Vec<&str> = many.iter().map(|n| n.name.as_str()).collect();
                    out.problems.push(format!(
                        "nodes {} all claim {id}: none is trusted",
                        names.join(", ")
                    ));
                    out.untrusted.extend(names.iter().map(|n| n.to_string()));
                }
            }
        }
        out.untrusted.sort();
        out
    }

    /// The Node verified to be `instance_id`, if any.
    pub fn node_of(&self, instance_id: &str) -> Option<&str> {
        self.matched.get(instance_id).map(String::as_str)
    }
}

fn list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = items.collect();
    if v.is_empty() {
        "no address".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testkit::*;

    #[test]
    fn claims() {
        let with_addr = |name: &str, id: &str, addr: &str| {
            let mut n = node(name, Some(id), true);
            n.addresses = vec![addr.to_string()];
            n
        };
        // (name, nodes, want matched (instance, node), want untrusted)
        type Case = (
            &'static str,
            Vec<NodeInfo>,
            Vec<(&'static str, &'static str)>,
            Vec<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "address matches",
                vec![node("w1", Some("i-1"), true), node("w2", Some("i-2"), true)],
                vec![("i-1", "w1"), ("i-2", "w2")],
                vec![],
            ),
            (
                "wrong address",
                vec![
                    with_addr("fake", "i-1", "10.9.9.9"),
                    node("w2", Some("i-2"), true),
                ],
                vec![("i-2", "w2")],
                vec!["fake"],
            ),
            (
                "no address at all",
                vec![with_addr("fake", "i-1", "")],
                vec![],
                vec!["fake"],
            ),
            (
                "two nodes claim one instance, one of them genuine",
                vec![
                    node("w1", Some("i-1"), true),
                    with_addr("fake", "i-1", &fake_ip("i-1")),
                ],
                vec![],
                vec!["fake", "w1"],
            ),
            (
                "name is the private DNS name",
                vec![with_addr("node-i-1", "i-1", "")],
                vec![("i-1", "node-i-1")],
                vec![],
            ),
            (
                "claim on a foreign instance is ignored",
                vec![with_addr("other", "i-9", "10.9.9.9")],
                vec![],
                vec![],
            ),
        ];
        let instances = vec![instance("i-1", None), instance("i-2", None)];
        for (name, nodes, matched, untrusted) in cases {
            let got = Identities::of(&nodes, &instances);
            let m: Vec<(&str, &str)> = got
                .matched
                .iter()
                .map(|(i, n)| (i.as_str(), n.as_str()))
                .collect();
            assert_eq!(m, matched, "case {name}");
            assert_eq!(got.untrusted, untrusted, "case {name}");
            assert_eq!(
                got.problems.len(),
                usize::from(!untrusted.is_empty()),
                "case {name}"
            );
        }
        let got = Identities::of(&[with_addr("fake", "i-1", "10.9.9.9")], &instances);
        assert!(
            got.problems[0].starts_with("node fake claims i-1 but its address does not match"),
            "{:?}",
            got.problems
        );
    }
}
