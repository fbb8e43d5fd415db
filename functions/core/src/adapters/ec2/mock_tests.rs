//! Error codes moto cannot produce (Spot capacity, quotas, throttling), served by
//! `aws-smithy-mocks`: the fallback order and the error kinds.

use super::*;
use aws_sdk_ec2::operation::describe_instances::{DescribeInstancesError, DescribeInstancesOutput};
use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput;
use aws_sdk_ec2::operation::run_instances::{RunInstancesError, RunInstancesOutput};
use aws_sdk_ec2::types::{Placement, Subnet as Ec2Subnet};
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
            "WORKER_SUBNET_IDS" => Some("subnet-a"),
            "WORKER_INSTANCE_TYPES" => Some("t3.small,t3a.small"),
            "USE_SPOT" => Some(if use_spot { "true" } else { "false" }),
            _ => None,
        }
        .map(str::to_owned)
    })
    .unwrap()
}

fn ec2_error(code: &str) -> RunInstancesError {
    RunInstancesError::generic(
        ErrorMetadata::builder()
            .code(code)
            .message(format!("{code} (from the mock)"))
            .build(),
    )
}

/// Rules for the lookups a launch makes: no instance yet, one subnet in us-east-1a.
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
            .build()
    });
    (describe, subnets)
}

/// A RunInstances rule that records each attempt as `lifecycle type token` and answers with
/// `answer(attempt index)`: `Some(code)` fails with that code, `None` launches the instances.
fn run_rule(
    log: Arc<Mutex<Vec<String>>>,
    answer: impl Fn(usize) -> Option<&'static str> + Send + Sync + 'static,
) -> Rule {
    mock!(aws_sdk_ec2::Client::run_instances).then_compute_response(move |req| {
        let spot = req
            .instance_market_options()
            .and_then(|m| m.market_type())
            .is_some_and(|m| *m == MarketType::Spot);
        let itype = req
            .instance_type()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default();
        let mut log = log.lock().unwrap();
        log.push(format!(
            "{} {itype} {}",
            if spot { "spot" } else { "on-demand" },
            req.client_token().unwrap_or_default()
        ));
        match answer(log.len() - 1) {
            Some(code) => MockResponse::Error(ec2_error(code)),
            None => MockResponse::Output(
                RunInstancesOutput::builder()
                    .set_instances(Some(
                        (0..req.min_count().unwrap_or(1))
                            .map(|n| {
                                Instance::builder()
                                    .instance_id(format!("i-{n}"))
                                    .instance_type(InstanceType::from(itype.as_str()))
                                    .placement(
                                        Placement::builder()
                                            .availability_zone("us-east-1a")
                                            .build(),
                                    )
                                    .build()
                            })
                            .collect(),
                    ))
                    .build(),
            ),
        }
    })
}

fn request() -> LaunchRequest {
    LaunchRequest {
        count: 2,
        operation_id: "op-7".into(),
        avoid: vec![],
    }
}

#[tokio::test]
async fn spot_capacity_errors_fall_back_in_order_to_on_demand() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (describe, subnets) = lookups();
    let run = run_rule(log.clone(), |i| {
        [
            Some("InsufficientInstanceCapacity"),
            Some("SpotMaxPriceTooLow"),
            None,
        ][i]
    });
    let p = Ec2Provisioner::new(client(&[&describe, &subnets, &run]), &config(true));
    let launched = p.launch(&request()).await.unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            "spot t3.small op-7-0-0",
            "spot t3a.small op-7-0-1",
            "on-demand t3.small op-7-0-2"
        ]
    );
    assert_eq!(launched.len(), 2);
    assert!(launched.iter().all(|m| m.lifecycle == Lifecycle::OnDemand
        && m.instance_type == "t3.small"
        && m.operation_id.as_deref() == Some("op-7")));
}

#[tokio::test]
async fn every_capacity_code_moves_on_and_exhaustion_is_no_capacity() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (describe, subnets) = lookups();
    let codes = [
        "MaxSpotInstanceCountExceeded",
        "UnfulfillableCapacity",
        "InsufficientInstanceCapacity",
        "InsufficientInstanceCapacity",
    ];
    let run = run_rule(log.clone(), move |i| Some(codes[i]));
    let p = Ec2Provisioner::new(client(&[&describe, &subnets, &run]), &config(true));
    let err = p.launch(&request()).await.unwrap_err();
    assert_eq!(log.lock().unwrap().len(), 4);
    assert!(matches!(err, Error::NoCapacity { .. }), "{err:?}");
    assert!(!err.is_retryable());
    let msg = err.to_string();
    for want in [
        "launching 2 workers from lt-0abc (version 3) for operation op-7",
        "spot t3.small: ",
        "MaxSpotInstanceCountExceeded",
        "on-demand t3a.small: ",
    ] {
        assert!(msg.contains(want), "{msg} lacks {want}");
    }
}

#[tokio::test]
async fn errors_that_stop_the_launch_at_once() {
    let cases = [
        ("vcpu quota", "VcpuLimitExceeded", "QuotaExceeded", false),
        (
            "instance quota",
            "InstanceLimitExceeded",
            "QuotaExceeded",
            false,
        ),
        ("throttled", "RequestLimitExceeded", "Retryable", true),
        ("internal", "InternalError", "Retryable", true),
        (
            "bad template",
            "InvalidLaunchTemplateId.NotFound",
            "Fatal",
            false,
        ),
    ];
    for (name, code, kind, retryable) in cases {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (describe, subnets) = lookups();
        let run = run_rule(log.clone(), move |_| Some(code));
        let p = Ec2Provisioner::new(client(&[&describe, &subnets, &run]), &config(true));
        let err = p.launch(&request()).await.unwrap_err();
        assert_eq!(err.kind(), kind, "case {name}: {err}");
        assert_eq!(err.is_retryable(), retryable, "case {name}");
        assert_eq!(
            log.lock().unwrap().len(),
            1,
            "case {name}: no further attempt"
        );
        let msg = err.to_string();
        assert!(
            msg.starts_with(
                "launching 2 workers from lt-0abc (version 3) for operation op-7 (spot t3.small)"
            ),
            "case {name}: {msg}"
        );
        assert!(msg.contains(code), "case {name}: {msg}");
    }
}

#[tokio::test]
async fn on_demand_only_never_asks_for_spot() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (describe, subnets) = lookups();
    let run = run_rule(log.clone(), |i| {
        [Some("InsufficientInstanceCapacity"), None][i]
    });
    let p = Ec2Provisioner::new(client(&[&describe, &subnets, &run]), &config(false));
    p.launch(&request()).await.unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            "on-demand t3.small op-7-0-0",
            "on-demand t3a.small op-7-0-1"
        ]
    );
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
