//! Builders of model values for tests and benchmarks, inside this crate and outside it (a bench
//! or another crate's test cannot see `cfg(test)` code): the one place that fills in every field
//! of a worker node, so a new field is added here once.

use crate::model::{provider_id, CapacityType, NodeInfo, Resources};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

const MI: u64 = 1024 * 1024;

/// A Ready, schedulable on-demand t3.small worker that SmartScale launched: node `name` of instance
/// `instance_id` in `zone` (its `providerID` `aws:///<zone>/<instance_id>`), created at
/// `created_at`, with 1800m CPU and 1536 MiB allocatable, not idle, and no labels, annotations
/// or addresses. Change the rest with struct update syntax.
pub fn worker_node(
    name: &str,
    instance_id: &str,
    zone: &str,
    created_at: DateTime<Utc>,
) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        provider_id: Some(provider_id(zone, instance_id)),
        instance_id: Some(instance_id.into()),
        zone: Some(zone.into()),
        instance_type: Some("t3.small".into()),
        capacity_type: CapacityType::OnDemand,
        ready: true,
        unschedulable: false,
        control_plane: false,
        managed: true,
        created_at,
        idle_since: None,
        allocatable: Resources {
            cpu_millis: 1800,
            memory_bytes: 1536 * MI,
        },
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        addresses: Vec::new(),
    }
}
