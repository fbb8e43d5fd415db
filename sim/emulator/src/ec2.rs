//! Nodes follow EC2: the emulator polls DescribeInstances (moto server in tests) for instances
//! tagged `Cluster=<id>` and `ManagedBy=smartscale`, and does what their K3s agents would: a
//! running instance registers a Ready node `aws:///<zone>/<id>` after the boot delay; a stopped or
//! terminated one leaves its node NotReady. An instance tagged `smartscale-emulator/never-join=true`
//! (or named through `POST /control/never-join`) never registers, for join-failure tests.

use super::seed::{build_node, node_conditions, NodeSeed};
use super::store::{Key, Store};
use super::AppState;
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::types::Filter;
use chrono::{DateTime, Duration, Utc};
use k8s_openapi::api::core::v1::Node;
use std::collections::{BTreeMap, HashMap};

/// The tag that keeps an instance from ever joining.
pub const NEVER_JOIN_TAG: &str = "smartscale-emulator/never-join";

/// What the follower needs to know about one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Instance id.
    pub id: String,
    /// Availability zone.
    pub zone: String,
    /// Instance type.
    pub instance_type: String,
    /// EC2 state name.
    pub state: String,
    /// Private DNS name, used as the node name as on Amazon Linux.
    pub private_dns_name: Option<String>,
    /// Private IP.
    pub private_ip: Option<String>,
    /// Tagged never-join.
    pub never_join: bool,
}

/// An EC2 client for `endpoint` (moto) with throwaway credentials: the emulator only ever talks
/// to a local stand-in.
pub fn client(endpoint: &str, region: &str) -> aws_sdk_ec2::Client {
    let conf = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "smartscale-emulator",
        ))
        .build();
    aws_sdk_ec2::Client::from_conf(conf)
}

/// The cluster's tagged instances, in any state.
///
/// Errors: the SDK error, rendered, when EC2 cannot be asked.
pub async fn describe(
    client: &aws_sdk_ec2::Client,
    cluster_id: &str,
) -> Result<Vec<Instance>, String> {
    let filter = |k: &str, v: &str| Filter::builder().name(k).values(v).build();
    let mut out = Vec::new();
    let mut pages = client
        .describe_instances()
        .filters(filter("tag:Cluster", cluster_id))
        .filters(filter("tag:ManagedBy", "smartscale"))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| format!("{}", aws_sdk_ec2::error::DisplayErrorContext(e)))?;
        for i in page.reservations().iter().flat_map(|r| r.instances()) {
            let tag = |k: &str| {
                i.tags()
                    .iter()
                    .find(|t| t.key() == Some(k))
                    .and_then(|t| t.value().map(str::to_owned))
            };
            out.push(Instance {
                id: i.instance_id().unwrap_or_default().to_owned(),
                zone: i
                    .placement()
                    .and_then(|p| p.availability_zone())
                    .unwrap_or_default()
                    .to_owned(),
                instance_type: i
                    .instance_type()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default(),
                state: i
                    .state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_owned())
                    .unwrap_or_default(),
                private_dns_name: i
                    .private_dns_name()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
                private_ip: i.private_ip_address().map(str::to_owned),
                never_join: tag(NEVER_JOIN_TAG).as_deref() == Some("true"),
            });
        }
    }
    Ok(out)
}

/// The instance id in a node's provider id, when it has one.
fn instance_of(n: &Node) -> Option<String> {
    n.spec
        .as_ref()
        .and_then(|s| s.provider_id.as_deref())
        .and_then(smartscale_engine::model::parse_provider_id)
        .map(|(_, id)| id)
}

#[cfg(test)]
fn node_for<'a>(store: &'a Store, instance_id: &str) -> Option<&'a Node> {
    store
        .nodes
        .values()
        .find(|n| instance_of(n).as_deref() == Some(instance_id))
}

/// Brings the nodes in line with `instances` at `now`. `first_seen` remembers when each instance
/// was first seen running, which starts its boot delay.
pub fn reconcile(
    store: &mut Store,
    instances: &[Instance],
    first_seen: &mut BTreeMap<String, DateTime<Utc>>,
    boot_delay: Duration,
    now: DateTime<Utc>,
) {
    // Each instance's node, looked up once per pass (not a scan of every node per instance).
    let nodes: HashMap<String, Key> = store
        .nodes
        .iter()
        .filter_map(|(k, n)| instance_of(n).map(|id| (id, k.clone())))
        .collect();
    for i in instances {
        let existing = nodes.get(&i.id).and_then(|k| {
            let ready = super::kubelet::node_ready(store.nodes.get(k)?);
            Some((k, ready))
        });
        match (i.state.as_str(), existing) {
            ("running", None) => {
                let seen = *first_seen.entry(i.id.clone()).or_insert(now);
                if i.never_join || store.never_join.contains(&i.id) || seen + boot_delay > now {
                    continue;
                }
                let mut name = i.private_dns_name.clone().unwrap_or_else(|| i.id.clone());
                if store.nodes.contains_key(&(String::new(), name.clone())) {
                    name = format!("{name}-{}", i.id);
                }
                let seed = NodeSeed {
                    name,
                    instance_id: Some(i.id.clone()),
                    zone: Some(i.zone.clone()),
                    instance_type: Some(i.instance_type.clone()),
                    address: i.private_ip.clone(),
                    ..Default::default()
                };
                let _ = store.create(build_node(&seed, now), now);
            }
            ("shutting-down" | "terminated" | "stopping" | "stopped", Some((key, true))) => {
                store.modify::<Node>(key, |n| {
                    let st = n.status.get_or_insert_with(Default::default);
                    st.conditions = Some(node_conditions(false, now));
                });
            }
            _ => {}
        }
    }
}

/// Polls EC2 every `interval` for ever, reconciling nodes; errors are logged and retried.
pub async fn follow(state: AppState, client: aws_sdk_ec2::Client, interval: std::time::Duration) {
    let mut first_seen = BTreeMap::new();
    let cluster = state.config.cluster_id.clone();
    let boot_delay = Duration::from_std(state.config.boot_delay).unwrap_or_default();
    loop {
        match describe(&client, &cluster).await {
            Ok(instances) => {
                let mut store = state.store.lock().unwrap_or_else(|p| p.into_inner());
                reconcile(
                    &mut store,
                    &instances,
                    &mut first_seen,
                    boot_delay,
                    Utc::now(),
                );
            }
            Err(e) => tracing::warn!("describing EC2 instances of cluster {cluster}: {e}"),
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(id: &str, state: &str, never: bool) -> Instance {
        Instance {
            id: id.into(),
            zone: "us-east-1a".into(),
            instance_type: "t3.medium".into(),
            state: state.into(),
            private_dns_name: Some(format!("ip-{id}.ec2.internal")),
            private_ip: Some("10.0.1.5".into()),
            never_join: never,
        }
    }

    #[test]
    fn nodes_follow_instances() {
        let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let delay = Duration::seconds(20);
        let mut store = Store::default();
        let mut seen = BTreeMap::new();
        let ready = |s: &Store, id: &str| node_for(s, id).map(super::super::kubelet::node_ready);

        reconcile(
            &mut store,
            &[inst("i-1", "running", false), inst("i-2", "running", true)],
            &mut seen,
            delay,
            t0,
        );
        assert_eq!(ready(&store, "i-1"), None, "case still booting");
        reconcile(
            &mut store,
            &[inst("i-1", "running", false), inst("i-2", "running", true)],
            &mut seen,
            delay,
            t0 + delay,
        );
        assert_eq!(
            ready(&store, "i-1"),
            Some(true),
            "case joined after the boot delay"
        );
        assert_eq!(ready(&store, "i-2"), None, "case never-join tag");
        let n = node_for(&store, "i-1").unwrap();
        assert_eq!(
            n.spec.as_ref().unwrap().provider_id.as_deref(),
            Some("aws:///us-east-1a/i-1"),
            "case provider id"
        );
        reconcile(
            &mut store,
            &[inst("i-1", "terminated", false)],
            &mut seen,
            delay,
            t0 + delay * 2,
        );
        assert_eq!(
            ready(&store, "i-1"),
            Some(false),
            "case terminated goes NotReady"
        );
    }
}
