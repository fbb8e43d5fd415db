//! [`NodeProvisioner`] on EC2: launches workers from the launch template with EC2 Fleet
//! (`CreateFleet` of type `instant`, overrides for every type × subnet), Spot through
//! `price-capacity-optimized` and on-demand `prioritized` (types in preference order, emptiest
//! zone first), with the Spot shortfall launched on-demand at once; terminates only what
//! SmartScale owns.
//!
//! Idempotency: before launching, the instances already tagged with the operation id are counted
//! and only the difference is launched (this is what makes a retry safe on moto, which ignores
//! client tokens); each CreateFleet also carries a `ClientToken` derived from the operation id,
//! the number already present and the call (Spot or on-demand), so a call EC2 did execute but
//! whose answer was lost returns the same instances instead of launching more.

pub mod errors;
pub mod fleet;
pub mod plan;

use crate::adapters::sdk_error::fault_of;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::seams::{
    CapacityType, FailedOffer, LaunchRequest, Launched, ManagedInstance, NodeProvisioner, Pool,
};
use crate::tags;
use async_trait::async_trait;
use aws_sdk_ec2::operation::describe_instances::builders::DescribeInstancesFluentBuilder;
use aws_sdk_ec2::operation::describe_instances::DescribeInstancesError;
use aws_sdk_ec2::types::{
    DefaultTargetCapacityType, Filter, FleetLaunchTemplateConfigRequest,
    FleetLaunchTemplateOverridesRequest, FleetLaunchTemplateSpecificationRequest,
    FleetOnDemandAllocationStrategy, FleetType, Instance, InstanceLifecycleType, InstanceType,
    OnDemandOptionsRequest, ResourceType, SpotAllocationStrategy, SpotOptionsRequest, Tag,
    TagSpecification, TargetCapacitySpecificationRequest,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use chrono::{DateTime, Utc};
use errors::Fault;
use plan::Subnet;

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
}

impl Ec2Provisioner {
    /// A provisioner for `cfg.cluster_id` using the launch template, subnets and instance types
    /// of `cfg` (the Spot share comes with each [`LaunchRequest`]). A missing launch template is reported by `launch` only, so terminate
    /// and describe work without one.
    pub fn new(client: aws_sdk_ec2::Client, cfg: &Config) -> Self {
        Ec2Provisioner {
            client,
            cluster_id: cfg.cluster_id.clone(),
            launch_template_id: cfg.launch_template_id.clone(),
            launch_template_version: cfg.launch_template_version.clone(),
            subnet_ids: cfg.worker_subnet_ids.clone(),
            instance_types: cfg.worker_instance_types.clone(),
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

    /// [`Self::ownership_filters`] narrowed to the instances tagged with `operation_id`.
    fn operation_filters(&self, operation_id: &str) -> Vec<Filter> {
        let mut filters = self.ownership_filters();
        filters.push(Self::filter(
            &format!("tag:{}", tags::OPERATION_ID),
            &[operation_id],
        ));
        filters
    }

    /// The instances `request` selects that `keep` accepts, across pages, sorted by id; a failed
    /// page's error as the SDK gave it.
    async fn pages(
        request: DescribeInstancesFluentBuilder,
        keep: impl Fn(&Instance) -> bool,
    ) -> std::result::Result<Vec<ManagedInstance>, SdkError<DescribeInstancesError, HttpResponse>>
    {
        let mut pages = request.into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page?;
            let instances = page.reservations().iter().flat_map(|r| r.instances());
            found.extend(instances.filter(|i| keep(i)).map(to_managed));
        }
        found.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
        Ok(found)
    }

    /// Every instance matching `filters`, sorted by id.
    async fn describe(&self, filters: Vec<Filter>, context: &str) -> Result<Vec<ManagedInstance>> {
        let request = self.client.describe_instances().set_filters(Some(filters));
        Self::pages(request, |_| true)
            .await
            .map_err(|e| translate(fault_of(&e), context))
    }

    /// The managed instances of this cluster among `ids`, sorted by id, by EC2's exact lookup
    /// (`InstanceIds`), which costs what the ids cost rather than a scan of the fleet; an instance
    /// another cluster or tool owns is left out ([`ownership_problem`]). When EC2 does not know
    /// one of the ids (`InvalidInstanceID.NotFound` refuses the whole call) the same ids are
    /// asked by filter, which leaves the unknown one out.
    async fn describe_ids(&self, ids: &[String], context: &str) -> Result<Vec<ManagedInstance>> {
        let request = self
            .client
            .describe_instances()
            .set_instance_ids(Some(ids.to_vec()));
        let owned = |i: &Instance| ownership_problem(i, &self.cluster_id).is_none();
        match Self::pages(request, owned).await {
            Ok(found) => Ok(found),
            Err(e) => match fault_of(&e) {
                (Fault::NotFound, _) => {
                    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                    let mut filters = self.ownership_filters();
                    filters.push(Self::filter("instance-id", &ids));
                    self.describe(filters, context).await
                }
                fault => Err(translate(fault, context)),
            },
        }
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

    fn tag_specs(&self, operation_id: &str, lifecycle: CapacityType) -> Vec<TagSpecification> {
        let lifecycle = lifecycle.ec2_name();
        let tags = [
            tags::PROJECT,
            tags::MANAGED_BY,
            (tags::CLUSTER, self.cluster_id.as_str()),
            tags::SCALING_GROUP,
            (tags::OPERATION_ID, operation_id),
            (tags::LIFECYCLE, lifecycle),
        ]
        .map(|(k, v)| Tag::builder().key(k).value(v).build());
        // An `instant` fleet tags the instances it launches (resource type `instance`); the
        // worker launch template tags their volumes.
        vec![TagSpecification::builder()
            .resource_type(ResourceType::Instance)
            .set_tags(Some(tags.to_vec()))
            .build()]
    }

    /// One `instant` CreateFleet request for `count` workers of `lifecycle` over `overrides`
    /// (Spot: price-capacity-optimized; on-demand: prioritized in the overrides' order), tagged
    /// like every worker. Returns the instances launched and the fleet's errors as
    /// `(code, override's type, override's subnet)`.
    async fn fleet(
        &self,
        template: &str,
        lifecycle: CapacityType,
        count: u32,
        overrides: &[fleet::Override],
        operation_id: &str,
        token: String,
    ) -> std::result::Result<FleetAnswer, (Fault, String)> {
        let count = i32::try_from(count).unwrap_or(i32::MAX);
        let capacity = match lifecycle {
            CapacityType::Spot => TargetCapacitySpecificationRequest::builder()
                .total_target_capacity(count)
                .spot_target_capacity(count)
                .default_target_capacity_type(DefaultTargetCapacityType::Spot),
            CapacityType::OnDemand => TargetCapacitySpecificationRequest::builder()
                .total_target_capacity(count)
                .on_demand_target_capacity(count)
                .default_target_capacity_type(DefaultTargetCapacityType::OnDemand),
        }
        .build();
        let config = FleetLaunchTemplateConfigRequest::builder()
            .launch_template_specification(
                FleetLaunchTemplateSpecificationRequest::builder()
                    .launch_template_id(template)
                    .version(&self.launch_template_version)
                    .build(),
            )
            .set_overrides(Some(
                overrides
                    .iter()
                    .map(|o| {
                        FleetLaunchTemplateOverridesRequest::builder()
                            .instance_type(InstanceType::from(o.instance_type.as_str()))
                            .set_subnet_id(o.subnet_id.clone())
                            .priority(o.priority)
                            .build()
                    })
                    .collect(),
            ))
            .build();
        let out = self
            .client
            .create_fleet()
            .r#type(FleetType::Instant)
            .client_token(token)
            .launch_template_configs(config)
            .target_capacity_specification(capacity)
            .spot_options(
                SpotOptionsRequest::builder()
                    .allocation_strategy(SpotAllocationStrategy::PriceCapacityOptimized)
                    .build(),
            )
            .on_demand_options(
                OnDemandOptionsRequest::builder()
                    .allocation_strategy(FleetOnDemandAllocationStrategy::Prioritized)
                    .build(),
            )
            .set_tag_specifications(Some(self.tag_specs(operation_id, lifecycle)))
            .send()
            .await
            .map_err(|e| fault_of(&e))?;
        let instances = out
            .instances()
            .iter()
            .flat_map(|i| {
                let chosen = i
                    .launch_template_and_overrides()
                    .and_then(|l| l.overrides());
                let zone = i
                    .availability_zone()
                    .or(chosen.and_then(|o| o.availability_zone()))
                    .map(str::to_owned)
                    .unwrap_or_else(|| {
                        overrides
                            .iter()
                            .find(|o| {
                                o.subnet_id.as_deref()
                                    == i.subnet_id().or(chosen.and_then(|c| c.subnet_id()))
                            })
                            .map(|o| o.zone.clone())
                            .unwrap_or_default()
                    });
                let instance_type = i
                    .instance_type()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default();
                i.instance_ids().iter().map(move |id| ManagedInstance {
                    instance_id: id.clone(),
                    zone: zone.clone(),
                    instance_type: instance_type.clone(),
                    capacity_type: lifecycle,
                    state: "pending".into(),
                    launched_at: DateTime::UNIX_EPOCH,
                    operation_id: Some(operation_id.to_owned()),
                    private_dns_name: None,
                    private_ip: None,
                })
            })
            .collect();
        let errors = out
            .errors()
            .iter()
            .map(|e| {
                let o = e
                    .launch_template_and_overrides()
                    .and_then(|l| l.overrides());
                FleetError {
                    code: e.error_code().unwrap_or_default().to_owned(),
                    message: e.error_message().unwrap_or_default().to_owned(),
                    instance_type: o
                        .and_then(|o| o.instance_type())
                        .map(|t| t.as_str().to_owned()),
                    subnet_id: o.and_then(|o| o.subnet_id()).map(str::to_owned),
                }
            })
            .collect();
        Ok(FleetAnswer { instances, errors })
    }
}

/// What one CreateFleet call launched and the errors it reported.
struct FleetAnswer {
    instances: Vec<ManagedInstance>,
    errors: Vec<FleetError>,
}

/// One `Errors[]` entry of an `instant` fleet.
struct FleetError {
    code: String,
    message: String,
    instance_type: Option<String>,
    subnet_id: Option<String>,
}

/// Turns a failed CreateFleet call (not an entry of its `Errors[]`) into SmartScale's error.
fn launch_error((fault, detail): (Fault, String), context: &str, what: &str) -> Error {
    let context = format!("{context} ({what})");
    match fault {
        Fault::Quota => Error::QuotaExceeded { context, detail },
        Fault::Transient => Error::Transient { context, detail },
        Fault::Capacity => Error::NoCapacity { context, detail },
        Fault::NotFound | Fault::Fatal => Error::Fatal { context, detail },
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

fn tag_value<'a>(i: &'a Instance, key: &str) -> Option<&'a str> {
    i.tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

fn to_managed(i: &Instance) -> ManagedInstance {
    let lifecycle = match tag_value(i, tags::LIFECYCLE) {
        Some("spot") => CapacityType::Spot,
        Some(_) => CapacityType::OnDemand,
        None if i.instance_lifecycle() == Some(&InstanceLifecycleType::Spot) => CapacityType::Spot,
        None => CapacityType::OnDemand,
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
        capacity_type: lifecycle,
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
    async fn launch(&self, req: &LaunchRequest) -> Result<Launched> {
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
        let mut have: Vec<ManagedInstance> = self
            .describe(self.operation_filters(&req.operation_id), &lookup_context)
            .await?
            .into_iter()
            .filter(|m| m.state != "shutting-down")
            .collect();
        let (have_spot, have_on_demand) =
            have.iter()
                .fold((0u32, 0u32), |(s, o), m| match m.capacity_type {
                    CapacityType::Spot => (s + 1, o),
                    CapacityType::OnDemand => (s, o + 1),
                });
        let (missing_spot, missing_on_demand) = fleet::missing(req, have_spot, have_on_demand);
        if missing_spot + missing_on_demand == 0 {
            return Ok(Launched {
                instances: have,
                failed_offers: vec![],
            });
        }
        let context = format!(
            "launching {} worker(s) ({missing_spot} Spot, {missing_on_demand} on-demand) from {template} (version {}) for operation {}",
            missing_spot + missing_on_demand,
            self.launch_template_version,
            req.operation_id
        );
        let managed = self.describe(self.ownership_filters(), &context).await?;
        let subnets = plan::by_emptiness(&self.subnets(&context).await?, &managed);
        let types = if req.instance_types.is_empty() {
            &self.instance_types
        } else {
            &req.instance_types
        };
        let already = have.len();
        let mut failed_offers = Vec::new();
        let mut on_demand = missing_on_demand;
        if missing_spot > 0 {
            let overrides = fleet::overrides(types, &subnets, CapacityType::Spot, &req.avoid);
            let launched = if overrides.is_empty() {
                0
            } else {
                let token = plan::client_token(&req.operation_id, already, 0);
                let answer = self
                    .fleet(
                        template,
                        CapacityType::Spot,
                        missing_spot,
                        &overrides,
                        &req.operation_id,
                        token,
                    )
                    .await
                    .map_err(|e| launch_error(e, &context, "Spot"))?;
                for e in &answer.errors {
                    let pool = Pool {
                        instance_type: e.instance_type.clone().unwrap_or_default(),
                        zone: fleet::zone_of(&subnets, e.subnet_id.as_deref()),
                    };
                    tracing::warn!(operation_id = %req.operation_id, code = %e.code, message = %e.message, pool = ?pool, "Spot offer failed");
                    if fleet::is_capacity_error(&e.code)
                        && !failed_offers.iter().any(|f: &FailedOffer| f.pool == pool)
                    {
                        failed_offers.push(FailedOffer {
                            pool,
                            code: e.code.clone(),
                        });
                    }
                }
                let n = answer.instances.len() as u32;
                have.extend(answer.instances);
                n
            };
            on_demand += missing_spot.saturating_sub(launched);
        }
        if on_demand > 0 {
            let overrides = fleet::overrides(types, &subnets, CapacityType::OnDemand, &[]);
            let token = plan::client_token(&req.operation_id, already, 1);
            let answer = self
                .fleet(
                    template,
                    CapacityType::OnDemand,
                    on_demand,
                    &overrides,
                    &req.operation_id,
                    token,
                )
                .await
                .map_err(|e| launch_error(e, &context, "on-demand"))?;
            let launched = answer.instances.len() as u32;
            have.extend(answer.instances);
            if launched == 0 {
                let detail = answer
                    .errors
                    .iter()
                    .map(|e| format!("{}: {}", e.code, e.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(
                    if answer.errors.iter().any(|e| fleet::is_quota_error(&e.code)) {
                        Error::QuotaExceeded { context, detail }
                    } else if types.is_empty() {
                        Error::NoCapacity {
                            context,
                            detail: "no instance type is configured (WORKER_INSTANCE_TYPES)".into(),
                        }
                    } else {
                        Error::NoCapacity {
                            context,
                            detail: if detail.is_empty() {
                                "the fleet launched nothing".into()
                            } else {
                                detail
                            },
                        }
                    },
                );
            }
        }
        tracing::info!(operation_id = %req.operation_id, workers = have.len(), failed_offers = failed_offers.len(), "launched workers");
        Ok(Launched {
            instances: have,
            failed_offers,
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

    async fn describe_operation(
        &self,
        operation_id: &str,
        recorded: &[String],
    ) -> Result<Vec<ManagedInstance>> {
        let context = format!(
            "listing the workers of operation {operation_id} in cluster {}",
            self.cluster_id
        );
        let found = if recorded.is_empty() {
            self.describe(self.operation_filters(operation_id), &context)
                .await?
        } else {
            self.describe_ids(recorded, &context).await?
        };
        Ok(found
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
