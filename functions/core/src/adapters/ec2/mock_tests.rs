//! What moto's CreateFleet cannot produce (its `instant` fleets always launch: no `Errors[]`
//! entries for Spot capacity or quotas, no throttling), served by `aws-smithy-mocks`: the fleet
//! requests, the Spot-to-on-demand fallback, the failed offers and the error kinds.

use super::*;
use aws_sdk_ec2::operation::create_fleet::{CreateFleetError, CreateFleetOutput};
use aws_sdk_ec2::operation::describe_instances::{DescribeInstancesError, DescribeInstancesOutput};
use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput;
use aws_sdk_ec2::types::{
    CreateFleetError as CreateFleetErrorEntry, CreateFleetInstance, FleetLaunchTemplateOverrides,
    InstanceLifecycle, LaunchTemplateAndOverridesResponse, Subnet as Ec2Subnet,
};
use aws_smithy_mocks::{mock, MockResponse, MockResponseInterceptor, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use std::sync::{Arc, Mutex};

fn client(rules: &[&Rule]) -> aws_sdk_ec2::Client {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let conf = aws_sdk_ec2::Config::builder()
        .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
        .region(aws_sdk_ec2::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
        .http_client(aws_smithy_mocks::create_mock_http_client())
        .interceptor(interceptor)
        .build();
    aws_sdk_ec2::Client::from_conf(conf)
}

fn config(use_spot: bool) -> Config {
    Config::from_lookup(|k| {
        match k {
            "CLUSTER_ID" => Some("c1"),
            "LAUNCH_TEMPLATE_ID" => Some("lt-0abc"),
            "LAUNCH_TEMPLATE_VERSION" => Some("3"),
            "WORKER_SUBNET_IDS" => Some("subnet-a,subnet-b"),
            "WORKER_INSTANCE_TYPES" => Some("t3.small,t3a.small"),
            "USE_SPOT" => Some(if use_spot { "true" } else { "false" }),
            _ => None,
        }
        .map(str::to_owned)
    })
    .unwrap()
}

fn fleet_call_error(code: &str) -> CreateFleetError {
    CreateFleetError::generic(
        ErrorMetadata::builder()
            .code(code)
            .message(format!("{code} (from the mock)"))
            .build(),
    )
}

/// Rules for the lookups a launch makes: no instance yet, subnets in us-east-1a and us-east-1b.
fn lookups() -> (Rule, Rule) {
    let describe = mock!(aws_sdk_ec2::Client::describe_instances)
        .then_output(|| DescribeInstancesOutput::builder().build());
    let subnets = mock!(aws_sdk_ec2::Client::describe_subnets).then_output(|| {
        DescribeSubnetsOutput::builder()
            .subnets(
                Ec2Subnet::builder()
                    .subnet_id("subnet-a")
                    .availability_zone("us-east-1a")
                    .build(),
            )
            .subnets(
                Ec2Subnet::builder()
                    .subnet_id("subnet-b")
                    .availability_zone("us-east-1b")
                    .build(),
            )
            .build()
    });
    (describe, subnets)
}

/// What the mock fleet does with one request.
#[derive(Clone, Copy)]
enum Answer {
    /// Launch the whole target in the first override.
    Launch,
    /// Launch nothing; report `code` for every override (an `Errors[]` entry each).
    Errors(&'static str),
    /// Fail the call itself with `code`.
    CallFails(&'static str),
}

/// A CreateFleet rule that records each call as `<capacity type> <count> [<type>@<subnet>…]
/// <token>` and answers with `answer(call index)`.
fn fleet_rule(
    log: Arc<Mutex<Vec<String>>>,
    answer: impl Fn(usize) -> Answer + Send + Sync + 'static,
) -> Rule {
    mock!(aws_sdk_ec2::Client::create_fleet).then_compute_response(move |req| {
        let capacity = req.target_capacity_specification().unwrap();
        let kind = capacity
            .default_target_capacity_type()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default();
        let count = capacity.total_target_capacity().unwrap_or(0);
        let overrides: Vec<(String, String)> = req.launch_template_configs()[0]
            .overrides()
            .iter()
            .map(|o| {
                (
                    o.instance_type()
                        .map(|t| t.as_str().to_owned())
                        .unwrap_or_default(),
                    o.subnet_id().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        assert_eq!(req.r#type(), Some(&FleetType::Instant));
        assert_eq!(
            req.launch_template_configs()[0]
                .launch_template_specification()
                .and_then(|l| l.launch_template_id()),
            Some("lt-0abc"),
            "launch-template only"
        );
        let mut log = log.lock().unwrap();
        log.push(format!(
            "{kind} {count} [{}] {}",
            overrides
                .iter()
                .map(|(t, s)| format!("{t}@{s}"))
                .collect::<Vec<_>>()
                .join(" "),
            req.client_token().unwrap_or_default()
        ));
        let lifecycle = if kind == "spot" {
            InstanceLifecycle::Spot
        } else {
            InstanceLifecycle::OnDemand
        };
        let with_override = |(t, s): &(String, String)| {
            LaunchTemplateAndOverridesResponse::builder()
                .overrides(
                    FleetLaunchTemplateOverrides::builder()
                        .instance_type(InstanceType::from(t.as_str()))
                        .subnet_id(s)
                        .build(),
                )
                .build()
        };
        match answer(log.len() - 1) {
            Answer::CallFails(code) => MockResponse::Error(fleet_call_error(code)),
            Answer::Errors(code) => MockResponse::Output(
                CreateFleetOutput::builder()
                    .set_errors(Some(
                        overrides
                            .iter()
                            .map(|o| {
                                CreateFleetErrorEntry::builder()
                                    .error_code(code)
                                    .error_message(format!("{code} in {}", o.1))
                                    .lifecycle(lifecycle.clone())
                                    .launch_template_and_overrides(with_override(o))
                                    .build()
                            })
                            .collect(),
                    ))
                    .build(),
            ),
            Answer::Launch => MockResponse::Output(
                CreateFleetOutput::builder()
                    .instances(
                        CreateFleetInstance::builder()
                            .lifecycle(lifecycle)
                            .instance_type(InstanceType::from(overrides[0].0.as_str()))
                            .launch_template_and_overrides(with_override(&overrides[0]))
                            .set_instance_ids(Some(
                                (0..count).map(|n| format!("i-{kind}-{n}")).collect(),
                            ))
                            .build(),
                    )
                    .build(),
            ),
        }
    })
}

fn request(on_demand: u32, spot: u32, avoid: Vec<Pool>) -> LaunchRequest {
    LaunchRequest {
        operation_id: "op-7".into(),
        on_demand,
        spot,
        instance_types: vec![],
        avoid,
    }
}

struct FleetCase {
    name: &'static str,
    req: LaunchRequest,
    answers: &'static [Answer],
    /// The fleet calls, as [`fleet_rule`] logs them.
    want_calls: &'static [&'static str],
    /// Spot and on-demand instances launched.
    want_launched: (usize, usize),
    want_failed: &'static [&'static str],
}

#[tokio::test]
async fn one_fleet_per_purchase_option_and_spot_falls_back_at_once() {
    let cases = [
        FleetCase {
            name: "spot fulfilled",
            req: request(0, 2, vec![]),
            answers: &[Answer::Launch],
            want_calls: &["spot 2 [t3.small@subnet-a t3.small@subnet-b t3a.small@subnet-a t3a.small@subnet-b] op-7-0-0"],
            want_launched: (2, 0),
            want_failed: &[],
        },
        FleetCase {
            name: "no spot capacity anywhere: the same request goes on-demand",
            req: request(0, 2, vec![]),
            answers: &[Answer::Errors("InsufficientInstanceCapacity"), Answer::Launch],
            want_calls: &[
                "spot 2 [t3.small@subnet-a t3.small@subnet-b t3a.small@subnet-a t3a.small@subnet-b] op-7-0-0",
                "on-demand 2 [t3.small@subnet-a t3.small@subnet-b t3a.small@subnet-a t3a.small@subnet-b] op-7-0-1",
            ],
            want_launched: (0, 2),
            want_failed: &[
                "t3.small@us-east-1a",
                "t3.small@us-east-1b",
                "t3a.small@us-east-1a",
                "t3a.small@us-east-1b",
            ],
        },
        FleetCase {
            name: "MaxSpotInstanceCountExceeded is a failed offer too",
            req: request(1, 1, vec![]),
            answers: &[Answer::Errors("MaxSpotInstanceCountExceeded"), Answer::Launch],
            want_calls: &[
                "spot 1 [t3.small@subnet-a t3.small@subnet-b t3a.small@subnet-a t3a.small@subnet-b] op-7-0-0",
                "on-demand 2 [t3.small@subnet-a t3.small@subnet-b t3a.small@subnet-a t3a.small@subnet-b] op-7-0-1",
            ],
            want_launched: (0, 2),
            want_failed: &[
                "t3.small@us-east-1a",
                "t3.small@us-east-1b",
                "t3a.small@us-east-1a",
                "t3a.small@us-east-1b",
            ],
        },
        FleetCase {
            name: "remembered offers are left out of the Spot request",
            req: request(0, 1, vec![Pool { instance_type: "t3.small".into(), zone: "us-east-1a".into() }]),
            answers: &[Answer::Launch],
            want_calls: &["spot 1 [t3.small@subnet-b t3a.small@subnet-a t3a.small@subnet-b] op-7-0-0"],
            want_launched: (1, 0),
            want_failed: &[],
        },
        FleetCase {
            name: "on-demand only never asks for Spot",
            req: request(2, 0, vec![]),
            answers: &[Answer::Launch],
            want_calls: &["on-demand 2 [t3.small@subnet-a t3.small@subnet-b t3a.small@subnet-a t3a.small@subnet-b] op-7-0-1"],
            want_launched: (0, 2),
            want_failed: &[],
        },
    ];
    for c in cases {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (describe, subnets) = lookups();
        let answers = c.answers;
        let fleet = fleet_rule(log.clone(), move |i| answers[i]);
        let p = Ec2Provisioner::new(client(&[&describe, &subnets, &fleet]), &config(true));
        let launched = p.launch(&c.req).await.unwrap();
        assert_eq!(*log.lock().unwrap(), c.want_calls, "case {}", c.name);
        let spot = launched
            .instances
            .iter()
            .filter(|m| m.capacity_type == CapacityType::Spot)
            .count();
        assert_eq!(
            (spot, launched.instances.len() - spot),
            c.want_launched,
            "case {}",
            c.name
        );
        assert!(
            launched
                .instances
                .iter()
                .all(|m| m.operation_id.as_deref() == Some("op-7")
                    && m.zone.starts_with("us-east-1")),
            "case {}: {:?}",
            c.name,
            launched.instances
        );
        let failed: Vec<String> = launched
            .failed_offers
            .iter()
            .map(|f| format!("{}@{}", f.pool.instance_type, f.pool.zone))
            .collect();
        assert_eq!(failed, c.want_failed, "case {}", c.name);
    }
}

struct StopCase {
    name: &'static str,
    answers: &'static [Answer],
    kind: &'static str,
    retryable: bool,
    calls: usize,
    has: &'static str,
}

#[tokio::test]
async fn errors_that_stop_the_launch() {
    let cases = [
        StopCase {
            name: "no capacity for on-demand either",
            answers: &[
                Answer::Errors("InsufficientInstanceCapacity"),
                Answer::Errors("InsufficientInstanceCapacity"),
            ],
            kind: "Fatal",
            retryable: false,
            calls: 2,
            has: "InsufficientInstanceCapacity: InsufficientInstanceCapacity in subnet-a",
        },
        StopCase {
            name: "vcpu quota on the on-demand fleet",
            answers: &[
                Answer::Errors("InsufficientInstanceCapacity"),
                Answer::Errors("VcpuLimitExceeded"),
            ],
            kind: "QuotaExceeded",
            retryable: false,
            calls: 2,
            has: "VcpuLimitExceeded",
        },
        StopCase {
            name: "throttled call",
            answers: &[Answer::CallFails("RequestLimitExceeded")],
            kind: "Retryable",
            retryable: true,
            calls: 1,
            has: "(Spot)",
        },
        StopCase {
            name: "bad template",
            answers: &[Answer::CallFails("InvalidLaunchTemplateId.NotFound")],
            kind: "Fatal",
            retryable: false,
            calls: 1,
            has: "InvalidLaunchTemplateId.NotFound",
        },
    ];
    for c in cases {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (describe, subnets) = lookups();
        let answers = c.answers;
        let fleet = fleet_rule(log.clone(), move |i| answers[i]);
        let p = Ec2Provisioner::new(client(&[&describe, &subnets, &fleet]), &config(true));
        let err = p.launch(&request(0, 2, vec![])).await.unwrap_err();
        assert_eq!(err.kind(), c.kind, "case {}: {err}", c.name);
        assert_eq!(err.is_retryable(), c.retryable, "case {}", c.name);
        assert_eq!(log.lock().unwrap().len(), c.calls, "case {}", c.name);
        let msg = err.to_string();
        assert!(
            msg.starts_with("launching 2 worker(s) (2 Spot, 0 on-demand) from lt-0abc (version 3) for operation op-7"),
            "case {}: {msg}",
            c.name
        );
        assert!(msg.contains(c.has), "case {}: {msg}", c.name);
    }
}

#[tokio::test]
async fn terminate_of_an_unknown_instance_is_done() {
    let describe = mock!(aws_sdk_ec2::Client::describe_instances).then_error(|| {
        DescribeInstancesError::generic(
            ErrorMetadata::builder()
                .code("InvalidInstanceID.NotFound")
                .message("The instance ID 'i-0gone' does not exist")
                .build(),
        )
    });
    let p = Ec2Provisioner::new(client(&[&describe]), &config(false));
    p.terminate("i-0gone").await.unwrap();
}

#[tokio::test]
async fn describe_throttling_is_transient() {
    let describe = mock!(aws_sdk_ec2::Client::describe_instances).then_error(|| {
        DescribeInstancesError::generic(
            ErrorMetadata::builder()
                .code("RequestLimitExceeded")
                .message("Request limit exceeded.")
                .build(),
        )
    });
    let p = Ec2Provisioner::new(client(&[&describe]), &config(false));
    let err = p.describe_managed().await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(
        err.to_string()
            .starts_with("listing the managed workers of cluster c1"),
        "{err}"
    );
}
