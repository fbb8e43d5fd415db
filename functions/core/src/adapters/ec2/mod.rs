//! [`NodeProvisioner`] on EC2: launches workers from the launch template, idempotently and
//! zone-balanced, with Spot-to-on-demand fallback; terminates only what SmartScale owns.
//!
//! Idempotency: before launching, the instances already tagged with the operation id are counted
//! and only the difference is launched (this is what makes a retry safe on moto, which ignores
//! client tokens); each RunInstances also carries a `ClientToken` derived from the operation id,
//! the number already present and the attempt index, so a call EC2 did execute but whose answer
//! was lost returns the same instances instead of launching more.

pub mod errors;
pub mod plan;

use crate::adapters::sdk_error::fault_of;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::seams::{LaunchRequest, Lifecycle, ManagedInstance, NodeProvisioner};
use crate::tags;
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Filter, HttpTokensState, Instance, InstanceLifecycleType, InstanceMarketOptionsRequest,
    InstanceMetadataEndpointState, InstanceMetadataOptionsRequest, InstanceType,
    LaunchTemplateSpecification, MarketType, ResourceType, SpotInstanceType, SpotMarketOptions,
    Tag, TagSpecification,
};
use chrono::{DateTime, Utc};
use errors::Fault;
use plan::{Attempt, Subnet};

/// Instance states that count as "exists" for describe and terminate.
const LIVE_STATES: [&str; 5] = ["pending", "running", "shutting-down", "stopping", "stopped"];

/// EC2 workers of one cluster.
#[derive(Debug, Clone)]
pub struct Ec2Provisioner {
    client: aws_sdk_ec2::Client,
    cluster_id: String,
    launch_template_id: Option<String>,
    launch_template_version: String,
    subnet_ids: Vec<String>,
    instance_types: Vec<String>,
    use_spot: bool,
}

impl Ec2Provisioner {
    /// A provisioner for `cfg.cluster_id` using the launch template, subnets, instance types and
    /// Spot setting of `cfg`. A missing launch template is reported by `launch` only, so terminate
    /// and describe work without one.
    pub fn new(client: aws_sdk_ec2::Client, cfg: &Config) -> Self {
        Ec2Provisioner {
            client,
            cluster_id: cfg.cluster_id.clone(),
            launch_template_id: cfg.launch_template_id.clone(),
            launch_template_version: cfg.launch_template_version.clone(),
            subnet_ids: cfg.worker_subnet_ids.clone(),
            instance_types: cfg.worker_instance_types.clone(),
            use_spot: cfg.use_spot,
        }
    }

    fn filter(name: &str, values: &[&str]) -> Filter {
        Filter::builder()
            .name(name)
            .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
            .build()
    }

    fn ownership_filters(&self) -> Vec<Filter> {
        vec![
            Self::filter(
                &format!("tag:{}", tags::MANAGED_BY.0),
                &[tags::MANAGED_BY.1],
            ),
            Self::filter(&format!("tag:{}", tags::CLUSTER), &[&self.cluster_id]),
            Self::filter("instance-state-name", &LIVE_STATES),
        ]
    }

    /// Every instance matching `filters`, across pages.
    async fn describe(&self, filters: Vec<Filter>, context: &str) -> Result<Vec<ManagedInstance>> {
        let mut pages = self
            .client
            .describe_instances()
            .set_filters(Some(filters))
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| translate(fault_of(&e), context))?;
            for r in page.reservations() {
                found.extend(r.instances().iter().map(to_managed));
            }
        }
        found.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
        Ok(found)
    }

    /// The configured subnets with their zones, in configured order.
    async fn subnets(&self, context: &str) -> Result<Vec<Subnet>> {
        if self.subnet_ids.is_empty() {
            return Ok(Vec::new());
        }
        let out = self
            .client
            .describe_subnets()
            .set_subnet_ids(Some(self.subnet_ids.clone()))
            .send()
            .await
            .map_err(|e| translate(fault_of(&e), &format!("{context}: describing subnets")))?;
        self.subnet_ids
            .iter()
            .map(|id| {
                out.subnets()
                    .iter()
                    .find(|s| s.subnet_id() == Some(id))
                    .and_then(|s| s.availability_zone())
                    .map(|zone| Subnet {
                        id: id.clone(),
                        zone: zone.to_owned(),
                    })
                    .ok_or_else(|| Error::NotFound {
                        context: context.to_owned(),
                        what: format!("subnet {id} (WORKER_SUBNET_IDS)"),
                    })
            })
            .collect()
    }

    fn tag_specs(&self, operation_id: &str, lifecycle: Lifecycle) -> Vec<TagSpecification> {
        let lifecycle = lifecycle_str(lifecycle);
        let tags = [
            tags::PROJECT,
            tags::MANAGED_BY,
            (tags::CLUSTER, self.cluster_id.as_str()),
            tags::SCALING_GROUP,
            (tags::OPERATION_ID, operation_id),
            (tags::LIFECYCLE, lifecycle),
        ]
        .map(|(k, v)| Tag::builder().key(k).value(v).build());
        [ResourceType::Instance, ResourceType::Volume]
            .map(|rt| {
                TagSpecification::builder()
                    .resource_type(rt)
                    .set_tags(Some(tags.to_vec()))
                    .build()
            })
            .to_vec()
    }

    /// One RunInstances call for `count` workers.
    async fn run(
        &self,
        template: &str,
        attempt: &Attempt,
        count: usize,
        subnet: Option<&Subnet>,
        operation_id: &str,
        token: String,
    ) -> std::result::Result<Vec<ManagedInstance>, (Fault, String)> {
        let count = i32::try_from(count).unwrap_or(i32::MAX);
        let mut req = self
            .client
            .run_instances()
            .launch_template(
                LaunchTemplateSpecification::builder()
                    .launch_template_id(template)
                    .version(&self.launch_template_version)
                    .build(),
            )
            .instance_type(InstanceType::from(attempt.instance_type.as_str()))
            .min_count(count)
            .max_count(count)
            .client_token(token)
            .metadata_options(
                InstanceMetadataOptionsRequest::builder()
                    .http_tokens(HttpTokensState::Required)
                    .http_endpoint(InstanceMetadataEndpointState::Enabled)
                    // One hop: the instance itself, never a pod behind it.
                    .http_put_response_hop_limit(1)
                    .build(),
            )
            .set_tag_specifications(Some(self.tag_specs(operation_id, attempt.lifecycle)));
        if let Some(s) = subnet {
            req = req.subnet_id(&s.id);
        }
        if attempt.lifecycle == Lifecycle::Spot {
            req = req.instance_market_options(
                InstanceMarketOptionsRequest::builder()
                    .market_type(MarketType::Spot)
                    .spot_options(
                        SpotMarketOptions::builder()
                            .spot_instance_type(SpotInstanceType::OneTime)
                            .build(),
                    )
                    .build(),
            );
        }
        match req.send().await {
            Ok(out) => Ok(out
                .instances()
                .iter()
                .map(|i| {
                    let mut m = to_managed(i);
                    // The response may not echo the tags; the request set them.
                    m.lifecycle = attempt.lifecycle;
                    m.operation_id = Some(operation_id.to_owned());
                    m
                })
                .collect()),
            Err(e) => Err(fault_of(&e)),
        }
    }
}

/// Turns a classified EC2 failure outside a launch into SmartScale's error.
fn translate((fault, detail): (Fault, String), context: &str) -> Error {
    let context = context.to_owned();
    match fault {
        Fault::Transient => Error::Transient { context, detail },
        Fault::Quota => Error::QuotaExceeded { context, detail },
        Fault::NotFound => Error::NotFound {
            context,
            what: detail,
        },
        Fault::Capacity | Fault::Fatal => Error::Fatal { context, detail },
    }
}

fn lifecycle_str(l: Lifecycle) -> &'static str {
    match l {
        Lifecycle::Spot => "spot",
        Lifecycle::OnDemand => "on-demand",
    }
}

fn tag_value<'a>(i: &'a Instance, key: &str) -> Option<&'a str> {
    i.tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

fn to_managed(i: &Instance) -> ManagedInstance {
    let lifecycle = match tag_value(i, tags::LIFECYCLE) {
        Some("spot") => Lifecycle::Spot,
        Some(_) => Lifecycle::OnDemand,
        None if i.instance_lifecycle() == Some(&InstanceLifecycleType::Spot) => Lifecycle::Spot,
        None => Lifecycle::OnDemand,
    };
    ManagedInstance {
        instance_id: i.instance_id().unwrap_or_default().to_owned(),
        zone: i
            .placement()
            .and_then(|p| p.availability_zone())
            .unwrap_or_default()
            .to_owned(),
        instance_type: i
            .instance_type()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        lifecycle,
        state: i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default(),
        launched_at: i
            .launch_time()
            .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()))
            .unwrap_or(DateTime::UNIX_EPOCH),
        operation_id: tag_value(i, tags::OPERATION_ID).map(str::to_owned),
        private_dns_name: i
            .private_dns_name()
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
        private_ip: i.private_ip_address().map(str::to_owned),
    }
}

/// Why `i` is not this cluster's to terminate, or `None` when it is.
fn ownership_problem(i: &Instance, cluster_id: &str) -> Option<String> {
    match (
        tag_value(i, tags::MANAGED_BY.0),
        tag_value(i, tags::CLUSTER),
    ) {
        (Some(m), _) if m != tags::MANAGED_BY.1 => Some(format!(
            "it is tagged {}={m}, not {}",
            tags::MANAGED_BY.0,
            tags::MANAGED_BY.1
        )),
        (None, _) => Some(format!(
            "it has no {}={} tag",
            tags::MANAGED_BY.0,
            tags::MANAGED_BY.1
        )),
        (_, Some(c)) if c != cluster_id => {
            Some(format!("it belongs to cluster {c}, not {cluster_id}"))
        }
        (_, None) => Some(format!("it has no {} tag", tags::CLUSTER)),
        _ => None,
    }
}

#[async_trait]
impl NodeProvisioner for Ec2Provisioner {
    async fn launch(&self, req: &LaunchRequest) -> Result<Vec<ManagedInstance>> {
        let template = match &self.launch_template_id {
            Some(t) => t.as_str(),
            None => {
                return Err(Error::Config {
                    problems: vec![crate::error::ConfigProblem {
                        variable: "LAUNCH_TEMPLATE_ID".into(),
                        problem:
                            "is not set: the worker launch template id, for example lt-0abc123"
                                .into(),
                    }],
                })
            }
        };
        let lookup_context = format!(
            "looking up the workers of operation {} on cluster {}",
            req.operation_id, self.cluster_id
        );
        let mut filters = self.ownership_filters();
        filters.push(Self::filter(
            &format!("tag:{}", tags::OPERATION_ID),
            &[&req.operation_id],
        ));
        let mut have: Vec<ManagedInstance> = self
            .describe(filters, &lookup_context)
            .await?
            .into_iter()
            .filter(|m| m.state != "shutting-down")
            .collect();
        let wanted = req.count as usize;
        if have.len() >= wanted {
            return Ok(have);
        }
        let missing = wanted - have.len();
        let context = format!(
            "launching {missing} worker{} from {template} (version {}) for operation {}",
            if missing == 1 { "" } else { "s" },
            self.launch_template_version,
            req.operation_id
        );
        let managed = self.describe(self.ownership_filters(), &context).await?;
        let subnets = self.subnets(&context).await?;
        let subnet = plan::choose_subnet(&subnets, &managed);
        let mut failures = Vec::new();
        let zone = subnet.map(|s| s.zone.as_str());
        for (i, attempt) in plan::attempts(&self.instance_types, self.use_spot)
            .iter()
            .enumerate()
            .filter(|(_, a)| !plan::avoided(a, zone, &req.avoid))
        {
            let token = plan::client_token(&req.operation_id, have.len(), i);
            let what = format!(
                "{} {}",
                lifecycle_str(attempt.lifecycle),
                attempt.instance_type
            );
            match self
                .run(template, attempt, missing, subnet, &req.operation_id, token)
                .await
            {
                Ok(launched) => {
                    tracing::info!(
                        operation_id = %req.operation_id,
                        launched = launched.len(),
                        attempt = %what,
                        subnet = subnet.map(|s| s.id.as_str()),
                        "launched workers"
                    );
                    have.extend(launched);
                    return Ok(have);
                }
                Err((Fault::Capacity, detail)) => {
                    tracing::warn!(operation_id = %req.operation_id, attempt = %what, %detail, "no capacity, trying the next option");
                    failures.push(format!("{what}: {detail}"));
                }
                Err((Fault::Quota, detail)) => {
                    return Err(Error::QuotaExceeded {
                        context: format!("{context} ({what})"),
                        detail,
                    })
                }
                Err((Fault::Transient, detail)) => {
                    return Err(Error::Transient {
                        context: format!("{context} ({what})"),
                        detail,
                    })
                }
                Err((_, detail)) => {
                    return Err(Error::Fatal {
                        context: format!("{context} ({what})"),
                        detail,
                    })
                }
            }
        }
        Err(Error::NoCapacity {
            context,
            detail: if failures.is_empty() {
                "no instance type is configured (WORKER_INSTANCE_TYPES)".into()
            } else {
                failures.join("; ")
            },
        })
    }

    async fn terminate(&self, instance_id: &str) -> Result<()> {
        let context = format!("terminating {instance_id} of cluster {}", self.cluster_id);
        let out = match self
            .client
            .describe_instances()
            .instance_ids(instance_id)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                return match fault_of(&e) {
                    (Fault::NotFound, _) => Ok(()),
                    fault => Err(translate(fault, &context)),
                }
            }
        };
        let Some(instance) = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(instance_id))
        else {
            return Ok(());
        };
        let state = instance.state().and_then(|s| s.name()).map(|n| n.as_str());
        if state == Some("terminated") {
            return Ok(());
        }
        if let Some(why) = ownership_problem(instance, &self.cluster_id) {
            return Err(Error::NotOwned {
                action: "terminate".into(),
                resource: instance_id.to_owned(),
                why,
            });
        }
        match self
            .client
            .terminate_instances()
            .instance_ids(instance_id)
            .send()
            .await
        {
            Ok(_) => {
                tracing::info!(instance_id, cluster = %self.cluster_id, "terminated worker");
                Ok(())
            }
            Err(e) => match fault_of(&e) {
                (Fault::NotFound, _) => Ok(()),
                fault => Err(translate(fault, &context)),
            },
        }
    }

    async fn describe_managed(&self) -> Result<Vec<ManagedInstance>> {
        let context = format!("listing the managed workers of cluster {}", self.cluster_id);
        Ok(self
            .describe(self.ownership_filters(), &context)
            .await?
            .into_iter()
            .filter(|m| m.state != "terminated")
            .collect())
    }

    async fn gone(&self, instance_ids: &[String]) -> Result<Vec<String>> {
        if instance_ids.is_empty() {
            return Ok(Vec::new());
        }
        let context = format!("looking up instances {}", instance_ids.join(", "));
        let ids: Vec<&str> = instance_ids.iter().map(String::as_str).collect();
        // A filter, not InstanceIds: an unknown id is then an absent row, not an error.
        let found = self
            .describe(vec![Self::filter("instance-id", &ids)], &context)
            .await?;
        Ok(instance_ids
            .iter()
            .filter(|id| {
                !found.iter().any(|m| {
                    &m.instance_id == *id
                        && !matches!(m.state.as_str(), "terminated" | "shutting-down")
                })
            })
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod mock_tests;
