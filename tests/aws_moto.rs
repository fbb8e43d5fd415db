//! The AWS adapters against a live moto server (`scripts/test-aws.sh` starts it and sets
//! `AWS_ENDPOINT_URL`). Every test creates its own table, VPC, subnets, launch template, secrets
//! and cluster id, so the tests run in parallel against one server.
//!
//! The tests are `#[ignore]`d so a plain `cargo test --workspace` does not need a server;
//! `scripts/test-aws.sh` runs them with `--ignored`. Run that way without `AWS_ENDPOINT_URL`, they
//! skip locally and FAIL in CI (`CI=true`).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_ec2::types::{
    InstanceType, RequestLaunchTemplateData, ResourceType, Tag, TagSpecification,
};
use chrono::{DateTime, Duration, Utc};
use smartscale_core::adapters::dynamodb::DynamoStateStore;
use smartscale_core::adapters::ec2::Ec2Provisioner;
use smartscale_core::adapters::kubernetes::K8sCredentials;
use smartscale_core::adapters::notify::SnsTopic;
use smartscale_core::adapters::secrets::SecretsManagerSecrets;
use smartscale_core::lifecycle::Finish;
use smartscale_core::model::{
    AlertRecord, CachedMetrics, Lease, MetricsSnapshot, Operation, OperationKind, ScaleAction,
    ScalingState,
};
use smartscale_core::notify::{Notification, NotificationKind};
use smartscale_core::seams::{
    CapacityType, LaunchRequest, NodeProvisioner, Notifier, Pool, Secrets, SpotClaim, StateStore,
};
use smartscale_core::{Config, Error};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// The SDK configuration for moto, or `None` (skip) outside CI when no server is configured.
async fn sdk() -> Option<aws_config::SdkConfig> {
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "AWS_ENDPOINT_URL is not set: run these tests through scripts/test-aws.sh"
        );
        eprintln!("skipping: AWS_ENDPOINT_URL is not set (run scripts/test-aws.sh)");
        return None;
    }
    Some(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await,
    )
}

/// A name no other test (or earlier run against the same server) uses.
/// What RecordOutcome would hand the store.
fn finish(action: Option<ScaleAction>, reason: &str, node_count: u32, at: DateTime<Utc>) -> Finish {
    Finish {
        action,
        reason: reason.into(),
        node_count,
        at,
    }
}

fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    format!(
        "{prefix}-{}-{nanos:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

// ---------------------------------------------------------------------------------------------
// DynamoDB
// ---------------------------------------------------------------------------------------------

const STATE_TTL: u64 = 86_400;

/// A fresh table and a store for a fresh cluster in it.
async fn store(
    sdk: &aws_config::SdkConfig,
) -> (DynamoStateStore, aws_sdk_dynamodb::Client, String) {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let table = unique("state");
    client
        .create_table()
        .table_name(&table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("cluster_id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("cluster_id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table");
    let cluster = unique("cluster");
    let store = DynamoStateStore::new(client.clone(), &table, &cluster, STATE_TTL);
    (store, client, table)
}

/// `snapshot` as the last good metrics, fetched at `at`.
fn cached(snapshot: &MetricsSnapshot, at: DateTime<Utc>) -> CachedMetrics {
    CachedMetrics {
        snapshot: snapshot.clone(),
        fetched_at: at,
    }
}

fn operation(now: DateTime<Utc>) -> Operation {
    Operation {
        id: "op-1".into(),
        kind: OperationKind::ScaleUp,
        instance_ids: vec!["i-0aaa".into(), "i-0bbb".into()],
        requested_count: 2,
        node_name: None,
        started_at: now,
        deadline: now + Duration::seconds(300),
        reason: "CPU 91% for 3m".into(),
        recovery_attempts: 0,
    }
}

/// The results of concurrent lock-like calls: what the winners got, and the holder and expiry
/// each loser was told (`LockHeld`). Any other error fails the test.
async fn winners_and_losers<T>(
    tasks: Vec<tokio::task::JoinHandle<Result<T, Error>>>,
) -> (Vec<T>, Vec<(String, DateTime<Utc>)>) {
    let mut winners = Vec::new();
    let mut held_by = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(won) => winners.push(won),
            Err(Error::LockHeld { owner, expires_at }) => held_by.push((owner, expires_at)),
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    (winners, held_by)
}

#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn fifty_concurrent_acquires_yield_exactly_one_lease() {
    let Some(sdk) = sdk().await else { return };
    let (store, _, _) = store(&sdk).await;
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.acquire(&format!("exec-{i}"), t0(), 300).await })
        })
        .collect();
    let (leases, held_by) = winners_and_losers(tasks).await;
    assert_eq!(leases.len(), 1, "exactly one lease: {leases:?}");
    let winner = &leases[0];
    assert_eq!(winner.token, 1);
    assert_eq!(winner.expires_at, t0() + Duration::seconds(300));
    assert_eq!(held_by.len(), 49);
    assert!(
        held_by
            .iter()
            .all(|(o, e)| *o == winner.owner && *e == winner.expires_at),
        "every loser is told who holds it until when: {held_by:?}"
    );
    assert_eq!(store.load().await.unwrap().lease.as_ref(), Some(winner));
}

#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn expired_lease_is_taken_over_and_the_old_holder_is_fenced_off() {
    let Some(sdk) = sdk().await else { return };
    let (store, _, _) = store(&sdk).await;
    let old = store.acquire("exec-old", t0(), 60).await.unwrap();

    // Still valid: refused, naming the holder.
    match store
        .acquire("exec-new", t0() + Duration::seconds(59), 60)
        .await
    {
        Err(Error::LockHeld { owner, expires_at }) => {
            assert_eq!(owner, "exec-old");
            assert_eq!(expires_at, t0() + Duration::seconds(60));
        }
        other => panic!("expected LockHeld, got {other:?}"),
    }

    // Expired: taken over with a higher token.
    let later = t0() + Duration::seconds(61);
    let new = store.acquire("exec-new", later, 60).await.unwrap();
    assert!(new.token > old.token, "{new:?} vs {old:?}");

    // Every write of the old holder is refused.
    let snapshot = MetricsSnapshot::empty(later);
    let attempts: Vec<(&str, Result<(), Error>)> = vec![
        ("renew", store.renew(&old, later, 60).await.map(|_| ())),
        (
            "save_operation",
            store.save_operation(&old, &operation(later)).await,
        ),
        (
            "finish_operation",
            store
                .finish_operation(&old, &finish(Some(ScaleAction::ScaleUp), "x", 3, later))
                .await,
        ),
        (
            "save_cached_metrics",
            store
                .save_cached_metrics(&old, &cached(&snapshot, later))
                .await,
        ),
        ("release", store.release(&old).await),
    ];
    for (name, res) in attempts {
        match res {
            Err(Error::LeaseLost { context }) => {
                assert!(context.contains("exec-old"), "case {name}: {context}")
            }
            other => panic!("case {name}: expected LeaseLost, got {other:?}"),
        }
    }

    // Nothing the old holder tried landed; the new holder is intact and can renew.
    let state = store.load().await.unwrap();
    assert_eq!(state.lease.as_ref(), Some(&new));
    assert_eq!(state.operation, None);
    assert_eq!(state.cached_metrics, None);
    let renewed = store
        .renew(&new, later + Duration::seconds(30), 60)
        .await
        .unwrap();
    assert_eq!(renewed.token, new.token);
    assert_eq!(renewed.expires_at, later + Duration::seconds(90));
}

#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn a_retried_acquire_by_the_same_owner_gets_a_new_token() {
    let Some(sdk) = sdk().await else { return };
    let (store, _, _) = store(&sdk).await;
    // The first answer is lost (the Lambda timed out after the write); the step is retried.
    let lost = store.acquire("exec-1", t0(), 300).await.unwrap();
    let retried = store
        .acquire("exec-1", t0() + Duration::seconds(5), 300)
        .await
        .unwrap();
    assert!(retried.token > lost.token, "{retried:?} vs {lost:?}");
    assert_eq!(retried.expires_at, t0() + Duration::seconds(305));
    assert_eq!(store.release(&lost).await.unwrap_err().kind(), "LeaseLost");
    // Others are still refused.
    match store
        .acquire("exec-2", t0() + Duration::seconds(6), 300)
        .await
    {
        Err(Error::LockHeld { owner, .. }) => assert_eq!(owner, "exec-1"),
        other => panic!("expected LockHeld, got {other:?}"),
    }
    store.release(&retried).await.unwrap();
}

#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn renew_after_expiry_is_lease_lost_even_without_a_takeover() {
    let Some(sdk) = sdk().await else { return };
    let (store, _, _) = store(&sdk).await;
    let lease = store.acquire("exec-1", t0(), 60).await.unwrap();
    let err = store
        .renew(&lease, t0() + Duration::seconds(60), 60)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "LeaseLost", "{err}");
}

#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn release_by_a_non_owner_fails_and_tokens_keep_rising() {
    let Some(sdk) = sdk().await else { return };
    let (store, _, _) = store(&sdk).await;
    let lease = store.acquire("exec-1", t0(), 300).await.unwrap();
    let impostors = [
        (
            "other owner, same token",
            Lease {
                owner: "exec-2".into(),
                ..lease.clone()
            },
        ),
        (
            "same owner, other token",
            Lease {
                token: lease.token + 1,
                ..lease.clone()
            },
        ),
    ];
    for (name, fake) in impostors {
        let err = store.release(&fake).await.unwrap_err();
        assert_eq!(err.kind(), "LeaseLost", "case {name}: {err}");
        assert_eq!(
            store.load().await.unwrap().lease.as_ref(),
            Some(&lease),
            "case {name}: the lease is untouched"
        );
    }
    store.release(&lease).await.unwrap();
    let state = store.load().await.unwrap();
    assert_eq!(state.lease, None);
    assert_eq!(state.last_token, lease.token);
    // Released twice: no longer ours.
    assert_eq!(store.release(&lease).await.unwrap_err().kind(), "LeaseLost");
    // The next lease, even right away, gets a higher token than any before.
    let next = store.acquire("exec-3", t0(), 300).await.unwrap();
    assert_eq!(next.token, lease.token + 1);
}

#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn load_returns_the_unfinished_operation_of_a_dead_run() {
    let Some(sdk) = sdk().await else { return };
    let (store, client, table) = store(&sdk).await;
    let cluster = store.load().await.unwrap().cluster_id;
    assert_eq!(store.load().await.unwrap(), ScalingState::new(&cluster));

    let lease = store.acquire("exec-dead", t0(), 300).await.unwrap();
    let op = operation(t0());
    store.save_operation(&lease, &op).await.unwrap();
    let mut snapshot = MetricsSnapshot::empty(t0());
    snapshot.cpu_ratio = Some(0.91);
    store
        .save_cached_metrics(&lease, &cached(&snapshot, t0()))
        .await
        .unwrap();
    // The run dies here. The next one finds everything.
    let state = store.load().await.unwrap();
    assert_eq!(state.operation.as_ref(), Some(&op));
    assert_eq!(state.lease.as_ref(), Some(&lease));
    let cached = state.cached_metrics.expect("cached metrics");
    assert_eq!(cached.snapshot, snapshot);
    assert_eq!(cached.fetched_at, t0());

    // It takes over after expiry and finishes the operation.
    let later = t0() + Duration::seconds(400);
    let next = store.acquire("exec-next", later, 300).await.unwrap();
    store
        .finish_operation(
            &next,
            &finish(Some(ScaleAction::ScaleUp), "CPU 91% for 3m", 4, later),
        )
        .await
        .unwrap();
    let state = store.load().await.unwrap();
    assert_eq!(state.operation, None);
    assert_eq!(state.node_count, Some(4));
    assert_eq!(state.last_scale_action, Some(ScaleAction::ScaleUp));
    assert_eq!(state.last_scale_time, Some(later));
    assert_eq!(state.last_scale_reason.as_deref(), Some("CPU 91% for 3m"));

    // An undone operation records the reason and count but no action (no cooldown starts).
    store.save_operation(&next, &op).await.unwrap();
    store
        .finish_operation(
            &next,
            &finish(
                None,
                "join timeout: undone",
                4,
                later + Duration::seconds(5),
            ),
        )
        .await
        .unwrap();
    let state = store.load().await.unwrap();
    assert_eq!(state.operation, None);
    assert_eq!(state.last_scale_time, Some(later));
    assert_eq!(
        state.last_scale_reason.as_deref(),
        Some("join timeout: undone")
    );

    // The raw item carries the attributes docs/STATE_AND_LOCKING.md lists and the TTL.
    let item = client
        .get_item()
        .table_name(&table)
        .key(
            "cluster_id",
            aws_sdk_dynamodb::types::AttributeValue::S(cluster),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let n = |k: &str| item.get(k).and_then(|v| v.as_n().ok()).cloned();
    assert_eq!(
        n("ttl"),
        Some((later.timestamp() + 5 + STATE_TTL as i64).to_string())
    );
    assert_eq!(
        n("lock_expiry"),
        Some((later.timestamp() + 300).to_string())
    );
    assert_eq!(
        item.get("scaling_in_progress")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str),
        Some("true")
    );
    assert!(!item.contains_key("operation"));
}

#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn capacity_alert_is_recorded_under_the_lease_only() {
    let Some(sdk) = sdk().await else { return };
    let (store, _, _) = store(&sdk).await;
    assert_eq!(store.load().await.unwrap().capacity_alert, None);
    let lease = store.acquire("exec-1", t0(), 300).await.unwrap();
    store.record_capacity_alert(&lease, t0()).await.unwrap();
    let want = AlertRecord {
        at: t0(),
        token: lease.token,
    };
    assert_eq!(store.load().await.unwrap().capacity_alert, Some(want));

    // A holder whose lease was taken over cannot move the alert time.
    let later = t0() + Duration::seconds(400);
    let next = store.acquire("exec-2", later, 300).await.unwrap();
    let err = store
        .record_capacity_alert(&lease, later)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "LeaseLost", "{err}");
    assert_eq!(store.load().await.unwrap().capacity_alert, Some(want));
    store.record_capacity_alert(&next, later).await.unwrap();
    assert_eq!(
        store.load().await.unwrap().capacity_alert,
        Some(AlertRecord {
            at: later,
            token: next.token
        })
    );
}

/// The raw spot claim item of `instance` in `table`.
async fn claim_item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    cluster: &str,
    instance: &str,
) -> HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    client
        .get_item()
        .table_name(table)
        .key(
            "cluster_id",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("{cluster}#spot-claim#{instance}")),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the claim item exists")
}

#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn twenty_concurrent_spot_claims_yield_exactly_one() {
    let Some(sdk) = sdk().await else { return };
    let (store, client, table) = store(&sdk).await;
    let cluster = store.load().await.unwrap().cluster_id;
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .claim_instance(SpotClaim {
                        instance_id: "i-0spot",
                        owner: &format!("spot-{i}"),
                        now: t0(),
                        ttl_secs: 600,
                    })
                    .await
                    .map(|()| format!("spot-{i}"))
            })
        })
        .collect();
    let (winners, held_by) = winners_and_losers(tasks).await;
    assert_eq!(winners.len(), 1, "exactly one claim: {winners:?}");
    assert_eq!(held_by.len(), 19);
    let expiry = t0() + Duration::seconds(600);
    assert!(
        held_by
            .iter()
            .all(|(o, e)| *o == winners[0] && *e == expiry),
        "every loser is told who holds it until when: {held_by:?}"
    );

    // The claim is an item of its own: the cluster item (lease, state) is untouched.
    assert_eq!(store.load().await.unwrap(), ScalingState::new(&cluster));
    let item = claim_item(&client, &table, &cluster, "i-0spot").await;
    let get = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_s().ok().or_else(|| v.as_n().ok()).map(String::as_str))
    };
    assert_eq!(get("claim_owner"), Some(winners[0].as_str()));
    assert_eq!(get("instance_id"), Some("i-0spot"));
    let expiry_secs = expiry.timestamp().to_string();
    assert_eq!(get("claim_expiry"), Some(expiry_secs.as_str()));
    assert_eq!(get("ttl"), Some(expiry_secs.as_str()));
}

#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn spot_claims_are_idempotent_for_their_owner_and_lapse() {
    let Some(sdk) = sdk().await else { return };
    let (store, client, table) = store(&sdk).await;
    let cluster = store.load().await.unwrap().cluster_id;
    // (name, owner, now offset secs, want: Ok or LockHeld by whom)
    let steps: Vec<(&str, &str, i64, Option<&str>)> = vec![
        ("first claim", "spot-a", 0, None),
        ("same owner again (a retried step)", "spot-a", 10, None),
        ("another owner before expiry", "spot-b", 100, Some("spot-a")),
        ("another instance is independent", "spot-b", 100, None),
        ("another owner at expiry", "spot-b", 610, None),
        (
            "the first owner is now refused",
            "spot-a",
            620,
            Some("spot-b"),
        ),
    ];
    for (name, owner, offset, held_by) in steps {
        let instance = if name.starts_with("another instance") {
            "i-0other"
        } else {
            "i-0spot"
        };
        let now = t0() + Duration::seconds(offset);
        let claim = SpotClaim {
            instance_id: instance,
            owner,
            now,
            ttl_secs: 600,
        };
        let got = store.claim_instance(claim).await;
        match (held_by, got) {
            (None, Ok(())) => {}
            (Some(holder), Err(Error::LockHeld { owner, .. })) => {
                assert_eq!(owner, holder, "step {name}")
            }
            (want, got) => panic!("step {name}: wanted held by {want:?}, got {got:?}"),
        }
    }
    // "same owner again" at +10 s extended the claim to +610 s, which is when spot-b took it.
    let item = claim_item(&client, &table, &cluster, "i-0spot").await;
    assert_eq!(
        item.get("claim_owner")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str),
        Some("spot-b")
    );
}

#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn failed_spot_offers_are_remembered_until_they_expire() {
    let Some(sdk) = sdk().await else { return };
    let (store, client, table) = store(&sdk).await;
    let cluster = store.load().await.unwrap().cluster_id;
    let pool = |t: &str, z: &str| Pool {
        instance_type: t.into(),
        zone: z.into(),
    };
    assert!(
        store.failed_offers(t0()).await.unwrap().is_empty(),
        "none yet"
    );
    store
        .remember_failed_offers(
            &[pool("t3.small", "ap-south-1a")],
            t0() + Duration::seconds(600),
        )
        .await
        .unwrap();
    store
        .remember_failed_offers(
            &[pool("t3a.small", "ap-south-1b")],
            t0() + Duration::seconds(60),
        )
        .await
        .unwrap();
    // (name, now offset secs, want)
    let cases: Vec<(&str, i64, Vec<Pool>)> = vec![
        (
            "both skipped",
            30,
            vec![
                pool("t3.small", "ap-south-1a"),
                pool("t3a.small", "ap-south-1b"),
            ],
        ),
        (
            "the short one expired",
            60,
            vec![pool("t3.small", "ap-south-1a")],
        ),
        ("all expired", 600, vec![]),
    ];
    for (name, offset, want) in cases {
        let got = store
            .failed_offers(t0() + Duration::seconds(offset))
            .await
            .unwrap();
        assert_eq!(got, want, "case {name}");
    }
    // One item beside the cluster item, under the key the LeadingKeys condition names.
    let item = client
        .get_item()
        .table_name(&table)
        .key(
            "cluster_id",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("{cluster}#offers")),
        )
        .send()
        .await
        .unwrap()
        .item
        .expect("the offers item exists");
    assert!(item.contains_key("spot:t3.small@ap-south-1a"), "{item:?}");
    assert!(item.contains_key("ttl"), "{item:?}");
}

/// The forecast item: missing at first, written and read back whole (a full week of history in
/// its stored text), optional parts removed when cleared, and fenced by token: a holder whose
/// token is lower than the last writer's is refused.
#[tokio::test]
#[ignore = "needs moto: scripts/test-aws.sh"]
async fn the_forecast_item_round_trips_and_is_fenced() {
    use smartscale_core::forecast::{DaySummary, ForecastRecord};
    let Some(sdk) = sdk().await else { return };
    let (store, client, table) = store(&sdk).await;
    let cluster = store.load().await.unwrap().cluster_id;
    assert_eq!(store.load_forecast().await.unwrap(), None, "none yet");
    let mut record = ForecastRecord {
        announced_floor: Some("mon 09:00-10:00 min=4".into()),
        day: Some(DaySummary {
            day: t0().date_naive(),
            forecasts: 3,
            compared: 2,
            abs_error_sum: 0.5,
            bias_sum: -0.25,
            max_forecast: 4.2,
            max_need: 3.9,
            would_scale_up: 1,
            would_hold: 0,
            first_launch: Some((t0(), "forecast 4.2 workers".into())),
        }),
        backfilled_at: Some(t0()),
        launch_started: Some(t0() + Duration::seconds(60)),
        ..ForecastRecord::default()
    };
    for m in (0..7 * 1440).step_by(2) {
        record
            .history
            .record(t0() + Duration::minutes(m), 2.0 + (m % 7) as f64 / 8.0, 0);
    }
    record.history.boot_to_ready_secs = Some(95);
    let lease = |token: u64| Lease {
        owner: "exec".into(),
        token,
        expires_at: t0(),
    };
    store.save_forecast(&lease(5), &record, t0()).await.unwrap();
    assert_eq!(store.load_forecast().await.unwrap(), Some(record.clone()));

    // One item beside the cluster item, under the key the LeadingKeys condition names.
    let item = client
        .get_item()
        .table_name(&table)
        .key(
            "cluster_id",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("{cluster}#forecast")),
        )
        .send()
        .await
        .unwrap()
        .item
        .expect("the forecast item exists");
    let size: usize = item
        .iter()
        .map(|(k, v)| k.len() + v.as_s().map_or(8, String::len))
        .sum();
    assert!(size < 20_000, "a full week is {size} bytes");

    let cleared = ForecastRecord {
        announced_floor: None,
        day: None,
        launch_started: None,
        ..record.clone()
    };
    store
        .save_forecast(&lease(6), &cleared, t0())
        .await
        .unwrap();
    assert_eq!(store.load_forecast().await.unwrap(), Some(cleared.clone()));

    let err = store
        .save_forecast(&lease(4), &record, t0())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "LeaseLost", "{err}");
    assert_eq!(
        store.load_forecast().await.unwrap(),
        Some(cleared),
        "the older holder wrote nothing"
    );

    // An item this build cannot read is treated as missing (the tick backfills afresh).
    client
        .put_item()
        .table_name(&table)
        .item(
            "cluster_id",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("{cluster}#forecast")),
        )
        .item(
            "history",
            aws_sdk_dynamodb::types::AttributeValue::S("{\"v\":99}".into()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(store.load_forecast().await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------------
// EC2
// ---------------------------------------------------------------------------------------------

/// A VPC with one subnet per zone, a launch template, and a config for a fresh cluster.
struct Ec2Fixture {
    client: aws_sdk_ec2::Client,
    subnets: Vec<(String, String)>,
    template: String,
    image: String,
    cluster: String,
}

impl Ec2Fixture {
    async fn new(sdk: &aws_config::SdkConfig, zones: &[&str]) -> Self {
        let client = aws_sdk_ec2::Client::new(sdk);
        let vpc = client
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .send()
            .await
            .expect("create vpc")
            .vpc
            .unwrap()
            .vpc_id
            .unwrap();
        let mut subnets = Vec::new();
        for (i, zone) in zones.iter().enumerate() {
            let id = client
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(format!("10.0.{i}.0/24"))
                .availability_zone(*zone)
                .send()
                .await
                .expect("create subnet")
                .subnet
                .unwrap()
                .subnet_id
                .unwrap();
            subnets.push((id, zone.to_string()));
        }
        let image = client
            .describe_images()
            .send()
            .await
            .expect("describe images")
            .images()
            .first()
            .and_then(|i| i.image_id())
            .expect("moto ships images")
            .to_owned();
        let template = client
            .create_launch_template()
            .launch_template_name(unique("workers"))
            .launch_template_data(
                RequestLaunchTemplateData::builder()
                    .image_id(&image)
                    .instance_type(InstanceType::T3Small)
                    .build(),
            )
            .send()
            .await
            .expect("create launch template")
            .launch_template
            .unwrap()
            .launch_template_id
            .unwrap();
        Ec2Fixture {
            client,
            subnets,
            template,
            image,
            cluster: unique("cluster"),
        }
    }

    fn config(&self, use_spot: bool) -> Config {
        let subnets = self
            .subnets
            .iter()
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let vars = HashMap::from([
            ("CLUSTER_ID", self.cluster.clone()),
            ("LAUNCH_TEMPLATE_ID", self.template.clone()),
            ("LAUNCH_TEMPLATE_VERSION", "1".to_owned()),
            ("WORKER_SUBNET_IDS", subnets),
            ("WORKER_INSTANCE_TYPES", "t3.small,t3a.small".to_owned()),
            ("USE_SPOT", use_spot.to_string()),
        ]);
        Config::from_lookup(|k| vars.get(k).cloned()).unwrap()
    }

    fn provisioner(&self, use_spot: bool) -> Ec2Provisioner {
        Ec2Provisioner::new(self.client.clone(), &self.config(use_spot))
    }

    async fn tags_of_instance(&self, id: &str) -> BTreeMap<String, String> {
        let out = self
            .client
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .unwrap();
        let i = &out.reservations()[0].instances()[0];
        to_map(i.tags())
    }

    async fn state_of(&self, id: &str) -> String {
        let out = self
            .client
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .unwrap();
        let i = &out.reservations()[0].instances()[0];
        i.state().unwrap().name().unwrap().as_str().to_owned()
    }

    /// An instance launched outside SmartScale, with `tags`.
    async fn foreign_instance(&self, tags: &[(&str, &str)]) -> String {
        let mut req = self
            .client
            .run_instances()
            .image_id(&self.image)
            .instance_type(InstanceType::T3Small)
            .subnet_id(&self.subnets[0].0)
            .min_count(1)
            .max_count(1);
        if !tags.is_empty() {
            req = req.tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Instance)
                    .set_tags(Some(
                        tags.iter()
                            .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                            .collect(),
                    ))
                    .build(),
            );
        }
        req.send().await.unwrap().instances()[0]
            .instance_id()
            .unwrap()
            .to_owned()
    }
}

/// The tags as a map, without the `aws:` ones EC2 adds itself (launch template id and version).
fn to_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter(|t| !t.key().unwrap_or_default().starts_with("aws:"))
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// `count` on-demand workers for `op`, or Spot ones when `spot`.
fn launch_of(count: u32, op: &str, spot: bool) -> LaunchRequest {
    LaunchRequest {
        operation_id: op.to_owned(),
        on_demand: if spot { 0 } else { count },
        spot: if spot { count } else { 0 },
        instance_types: vec![],
        avoid: vec![],
    }
}

fn launch(count: u32, op: &str) -> LaunchRequest {
    launch_of(count, op, false)
}

#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn a_fleet_launch_tags_its_instances() {
    let Some(sdk) = sdk().await else { return };
    let fx = Ec2Fixture::new(&sdk, &["us-east-1a", "us-east-1b"]).await;
    let cases = [
        (
            "on-demand",
            false,
            "op-od",
            CapacityType::OnDemand,
            "on-demand",
        ),
        ("spot", true, "op-spot", CapacityType::Spot, "spot"),
    ];
    for (name, spot, op, lifecycle, lifecycle_tag) in cases {
        let launched = fx
            .provisioner(spot)
            .launch(&launch_of(2, op, spot))
            .await
            .unwrap();
        assert!(launched.failed_offers.is_empty(), "case {name}");
        let launched = launched.instances;
        assert_eq!(launched.len(), 2, "case {name}");
        let want: BTreeMap<String, String> = [
            ("Project", "SmartScale"),
            ("ManagedBy", "smartscale"),
            ("Cluster", fx.cluster.as_str()),
            ("ScalingGroup", "k3s-workers"),
            ("smartscale/operation-id", op),
            ("Lifecycle", lifecycle_tag),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for m in &launched {
            // IMDSv2 with one hop and the volumes' tags come from the worker launch template
            // (CreateFleet sets neither per request); moto's fleet does not copy a template's
            // MetadataOptions, so that property is asserted on the template
            // (cdk/test/security.test.ts, "the worker template requires IMDSv2 …").
            assert_eq!(m.capacity_type, lifecycle, "case {name}");
            assert_eq!(m.instance_type, "t3.small", "case {name}");
            assert_eq!(m.operation_id.as_deref(), Some(op), "case {name}");
            assert_eq!(
                fx.tags_of_instance(&m.instance_id).await,
                want,
                "case {name}: instance tags"
            );
        }
    }
    // describe_managed sees all four with what node matching needs.
    let managed = fx.provisioner(false).describe_managed().await.unwrap();
    assert_eq!(managed.len(), 4);
    for m in &managed {
        assert_eq!(
            m.provider_id(),
            format!("aws:///{}/{}", m.zone, m.instance_id)
        );
        assert!(m.zone.starts_with("us-east-1"), "{m:?}");
        assert!(["pending", "running"].contains(&m.state.as_str()), "{m:?}");
        assert!(m.private_dns_name.is_some(), "{m:?}");
    }
}

#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn launches_keep_zones_balanced() {
    let Some(sdk) = sdk().await else { return };
    let fx = Ec2Fixture::new(&sdk, &["us-east-1a", "us-east-1b", "us-east-1c"]).await;
    let p = fx.provisioner(false);
    let mut zones = Vec::new();
    for i in 0..4 {
        let launched = p
            .launch(&launch(1, &format!("op-{i}")))
            .await
            .unwrap()
            .instances;
        zones.push(launched[0].zone.clone());
    }
    assert_eq!(
        zones,
        vec!["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1a"]
    );
    // A two-worker launch goes to one of the emptiest zones (b), in its subnet.
    let two = p.launch(&launch(2, "op-pair")).await.unwrap().instances;
    assert!(two.iter().all(|m| m.zone == "us-east-1b"), "{two:?}");
    let mut per_zone: BTreeMap<String, usize> = BTreeMap::new();
    for m in p.describe_managed().await.unwrap() {
        *per_zone.entry(m.zone).or_default() += 1;
    }
    assert_eq!(
        per_zone.into_values().collect::<Vec<_>>(),
        vec![2, 3, 1],
        "a, b, c"
    );
}

#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn retry_of_a_half_done_launch_creates_only_the_missing_instances() {
    let Some(sdk) = sdk().await else { return };
    let fx = Ec2Fixture::new(&sdk, &["us-east-1a", "us-east-1b"]).await;
    let p = fx.provisioner(false);
    // The first run of the step got one worker out before it died.
    let first = p.launch(&launch(1, "op-half")).await.unwrap().instances;
    assert_eq!(first.len(), 1);
    // The retry asks for the operation's full count.
    let all = p.launch(&launch(3, "op-half")).await.unwrap().instances;
    assert_eq!(all.len(), 3);
    assert!(all.iter().any(|m| m.instance_id == first[0].instance_id));
    // Another retry launches nothing.
    let again = p.launch(&launch(3, "op-half")).await.unwrap().instances;
    let ids = |v: &[smartscale_core::seams::ManagedInstance]| {
        let mut ids: Vec<_> = v.iter().map(|m| m.instance_id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&again), ids(&all));
    assert_eq!(p.describe_managed().await.unwrap().len(), 3);
}

/// The readiness poll's EC2 read: the operation's own instances (those recorded, or when none is
/// recorded those tagged with its id), never the rest of the fleet, another cluster's or a
/// terminated one.
#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn an_operations_instances_are_described_alone() {
    let Some(sdk) = sdk().await else { return };
    let fx = Ec2Fixture::new(&sdk, &["us-east-1a"]).await;
    let p = fx.provisioner(false);
    let mine = p.launch(&launch(2, "op-poll")).await.unwrap().instances;
    let other = p.launch(&launch(1, "op-other")).await.unwrap().instances;
    let gone = p
        .launch(&launch(1, "op-poll-gone"))
        .await
        .unwrap()
        .instances;
    p.terminate(&gone[0].instance_id).await.unwrap();
    let foreign = fx
        .foreign_instance(&[("ManagedBy", "smartscale"), ("Cluster", "someone-else")])
        .await;
    let ids = |v: Vec<smartscale_core::seams::ManagedInstance>| {
        let mut ids: Vec<String> = v.into_iter().map(|m| m.instance_id).collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let cases: [(&str, &str, Vec<String>, Vec<String>); 5] = [
        (
            "tagged, nothing recorded",
            "op-poll",
            vec![],
            sorted(mine.iter().map(|m| m.instance_id.clone()).collect()),
        ),
        (
            "recorded under another operation's id",
            "op-none",
            vec![other[0].instance_id.clone()],
            vec![other[0].instance_id.clone()],
        ),
        (
            "recorded but terminated, or another cluster's",
            "op-none",
            vec![gone[0].instance_id.clone(), foreign],
            vec![],
        ),
        (
            "a record is the whole operation: the other tagged one is not asked for",
            "op-poll",
            vec![mine[0].instance_id.clone()],
            vec![mine[0].instance_id.clone()],
        ),
        (
            "an id EC2 does not know is left out",
            "op-poll",
            vec!["i-0123456789abcdef0".into(), mine[1].instance_id.clone()],
            vec![mine[1].instance_id.clone()],
        ),
    ];
    for (name, op, recorded, want) in cases {
        let got = ids(p.describe_operation(op, &recorded).await.unwrap());
        assert_eq!(got, want, "case {name}");
    }
}

#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn terminate_acts_only_on_this_clusters_workers() {
    let Some(sdk) = sdk().await else { return };
    let fx = Ec2Fixture::new(&sdk, &["us-east-1a"]).await;
    let p = fx.provisioner(false);
    let untagged = fx.foreign_instance(&[]).await;
    let other_cluster = fx
        .foreign_instance(&[("ManagedBy", "smartscale"), ("Cluster", "someone-else")])
        .await;
    let not_managed = fx
        .foreign_instance(&[("ManagedBy", "terraform"), ("Cluster", &fx.cluster)])
        .await;
    let refusals = [
        ("untagged", &untagged, "no ManagedBy=smartscale tag"),
        (
            "other cluster",
            &other_cluster,
            "belongs to cluster someone-else",
        ),
        (
            "managed by another tool",
            &not_managed,
            "tagged ManagedBy=terraform",
        ),
    ];
    for (name, id, why) in refusals {
        match p.terminate(id).await {
            Err(e @ Error::NotOwned { .. }) => {
                assert!(e.to_string().contains(why), "case {name}: {e}");
                assert!(!e.is_retryable(), "case {name}");
            }
            other => panic!("case {name}: expected NotOwned, got {other:?}"),
        }
        assert_eq!(fx.state_of(id).await, "running", "case {name}: untouched");
    }

    let ours = p.launch(&launch(1, "op-t")).await.unwrap().instances[0]
        .instance_id
        .clone();
    p.terminate(&ours).await.unwrap();
    assert_eq!(fx.state_of(&ours).await, "terminated");
    // Already terminated, or never existed: done.
    p.terminate(&ours).await.unwrap();
    p.terminate("i-0123456789abcdef0").await.unwrap();
    assert!(p
        .describe_managed()
        .await
        .unwrap()
        .iter()
        .all(|m| m.instance_id != ours));
}

// ---------------------------------------------------------------------------------------------
// Secrets Manager
// ---------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn secrets_are_read_once_per_process() {
    let Some(sdk) = sdk().await else { return };
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = unique("k8s-credentials");
    client
        .create_secret()
        .name(&name)
        .secret_string(r#"{"server":"https://10.0.1.10:6443","ca":"-----BEGIN CERTIFICATE-----","token":"sa-token"}"#)
        .send()
        .await
        .unwrap();
    let secrets = SecretsManagerSecrets::new(client.clone());
    let first = secrets.get(&name).await.unwrap();
    let creds = K8sCredentials::from_json(&first).unwrap();
    assert_eq!(creds.server, "https://10.0.1.10:6443");
    assert_eq!(creds.token, "sa-token");

    // Delete it on the server: the cached value is still served, so the second read did not ask.
    client
        .delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    assert_eq!(secrets.get(&name).await.unwrap(), first);
    // A fresh process (cache) does ask, and finds it gone.
    let fresh = SecretsManagerSecrets::new(client);
    assert!(matches!(
        fresh.get(&name).await,
        Err(Error::SecretMissing { .. })
    ));
}

/// A rotated secret reaches a warm process: after the cache's time to live, or at once when the
/// caller forgets a refused value.
#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn rotated_secrets_are_read_again() {
    let Some(sdk) = sdk().await else { return };
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = unique("k3s-token");
    client
        .create_secret()
        .name(&name)
        .secret_string("placeholder")
        .send()
        .await
        .unwrap();
    let rotate = |value: &'static str| {
        let client = client.clone();
        let name = name.clone();
        async move {
            client
                .put_secret_value()
                .secret_id(&name)
                .secret_string(value)
                .send()
                .await
                .unwrap();
        }
    };
    // (name, time to live, forget before the second read, want the second read)
    let cases: Vec<(&str, std::time::Duration, bool, &str)> = vec![
        (
            "within the time to live",
            std::time::Duration::from_secs(300),
            false,
            "old",
        ),
        (
            "forgotten after a refusal",
            std::time::Duration::from_secs(300),
            true,
            "new",
        ),
        (
            "time to live passed",
            std::time::Duration::ZERO,
            false,
            "new",
        ),
    ];
    for (case, ttl, forget, want) in cases {
        rotate("old").await;
        let secrets = SecretsManagerSecrets::with_ttl(client.clone(), ttl);
        assert_eq!(secrets.get(&name).await.unwrap(), "old", "case {case}");
        rotate("new").await;
        if forget {
            secrets.forget(&name);
        }
        assert_eq!(secrets.get(&name).await.unwrap(), want, "case {case}");
    }
}

#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn a_missing_secret_is_a_clear_permanent_error() {
    let Some(sdk) = sdk().await else { return };
    let secrets = SecretsManagerSecrets::new(aws_sdk_secretsmanager::Client::new(&sdk));
    let name = unique("slack-webhook");
    let err = secrets.get(&name).await.unwrap_err();
    assert!(matches!(err, Error::SecretMissing { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert!(
        err.to_string()
            .starts_with(&format!("secret {name} is missing")),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// SNS (delivered to SQS by moto)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn sns_topic_delivers_subject_message_and_attributes() {
    let Some(sdk) = sdk().await else { return };
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let topic_arn = sns
        .create_topic()
        .name(unique("alerts"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name(unique("alerts-inbox"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()
        .remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .unwrap();
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .send()
        .await
        .unwrap();

    let cfg = Config::default();
    let n = Notification {
        kind: NotificationKind::AtMaximumCapacity,
        cluster_id: "smartscale-moto".into(),
        reason: "at maximum capacity: 10 workers, MAX_NODES is 10".into(),
        action: "Cannot scale further".into(),
        nodes_before: Some(10),
        nodes_after: Some(10),
        recommendation: Some("Optimise workloads or raise MAX_NODES".into()),
        recovered: false,
        time: t0(),
        execution_arn: Some("arn:aws:states:us-east-1:123456789012:execution:smartscale:x".into()),
    };
    let topic = SnsTopic::new(sns, &topic_arn, cfg.clone());
    assert_eq!(topic.channel(), "sns");
    topic.send(&n).await.unwrap();

    let msgs = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    // Without raw delivery, SQS receives SNS's JSON envelope.
    let envelope: serde_json::Value =
        serde_json::from_str(msgs[0].body.as_deref().unwrap()).unwrap();
    let (subject, message) =
        smartscale_core::notify::sns::subject_and_message(&n, &cfg.presentation());
    assert_eq!(envelope["TopicArn"], topic_arn.as_str());
    assert_eq!(envelope["Subject"], subject.as_str());
    assert_eq!(
        subject,
        "SmartScale Alert: Cluster at Maximum Capacity [smartscale-moto]"
    );
    assert_eq!(envelope["Message"], message.as_str());
    for line in [
        "Reason: at maximum capacity: 10 workers, MAX_NODES is 10",
        "Nodes: 10 → 10",
        "Estimated cost impact: $0.00/day",
        "Recommendation: Optimise workloads or raise MAX_NODES",
        "View execution: https://us-east-1.console.aws.amazon.com/",
    ] {
        assert!(message.contains(line), "{line} not in {message}");
    }
    let attrs = &envelope["MessageAttributes"];
    for (name, want) in [
        ("kind", "at_maximum_capacity"),
        ("severity", "alert"),
        ("cluster_id", "smartscale-moto"),
    ] {
        assert_eq!(attrs[name]["Type"], "String", "attribute {name}: {attrs}");
        assert_eq!(attrs[name]["Value"], want, "attribute {name}: {attrs}");
    }
}

// ---------------------------------------------------------------------------------------------
// The weekly report's reads: the ledger item and CloudWatch (docs/WEEKLY_REPORT.md)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn the_weekly_ledger_keeps_each_event_once_under_its_week() {
    use smartscale_core::notify::weekly::WeekEvent;
    use smartscale_core::seams::LedgerEntry;
    let Some(sdk) = sdk().await else { return };
    let (_, client, table) = store(&sdk).await;
    let cluster = unique("cluster");
    let store = DynamoStateStore::new(client.clone(), &table, &cluster, STATE_TTL);
    let week = chrono::NaiveDate::from_ymd_opt(2027, 1, 11).unwrap();
    let e = |kind, id: &str, secs: i64| LedgerEntry {
        kind,
        id: id.into(),
        at: t0() + Duration::seconds(secs),
    };
    store
        .record_week_events(week, &[e(WeekEvent::ScaleUp, "op-1", 0)])
        .await
        .unwrap();
    // A retried RecordOutcome records the same id later: the first time stays.
    store
        .record_week_events(
            week,
            &[
                e(WeekEvent::ScaleUp, "op-1", 60),
                e(WeekEvent::SpotWarning, "i-0abc", 60),
            ],
        )
        .await
        .unwrap();
    let next = week + Duration::days(7);
    store
        .record_week_events(next, &[e(WeekEvent::ScaleDown, "op-2", 0)])
        .await
        .unwrap();

    let got = store.week_events(week).await.unwrap();
    assert_eq!(
        got,
        vec![
            e(WeekEvent::ScaleUp, "op-1", 0),
            e(WeekEvent::SpotWarning, "i-0abc", 60)
        ]
    );
    assert_eq!(
        store.week_events(next).await.unwrap(),
        vec![e(WeekEvent::ScaleDown, "op-2", 0)]
    );
    assert!(store
        .week_events(week - Duration::days(7))
        .await
        .unwrap()
        .is_empty());

    // The item sits beside the cluster item, with a TTL five weeks after its Monday.
    let item = client
        .get_item()
        .table_name(&table)
        .key(
            "cluster_id",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("{cluster}#week#2027-01-11")),
        )
        .send()
        .await
        .unwrap()
        .item
        .expect("the ledger item");
    let ttl: i64 = item["ttl"].as_n().unwrap().parse().unwrap();
    assert_eq!(
        ttl,
        DateTime::parse_from_rfc3339("2027-02-15T00:00:00Z")
            .unwrap()
            .timestamp()
    );
}

#[tokio::test]
#[ignore = "needs a moto server: run scripts/test-aws.sh"]
async fn the_weekly_report_integrates_the_cloudwatch_gauges_of_its_cluster_only() {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
    use smartscale_core::adapters::cloudwatch::CloudWatchHistory;
    use smartscale_core::steps::{weekly_report, Deps};
    let Some(sdk) = sdk().await else { return };
    let (_, client, table) = store(&sdk).await;
    let cluster = unique("cluster");
    let store = DynamoStateStore::new(client, &table, &cluster, STATE_TTL);
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    let now = Utc::now();
    // 30 two-minute ticks from 61 to 3 minutes ago: 3 workers, 2 on-demand t3.small and
    // 1 Spot t3a.small; a pod waited 140 s once. Evaluate writes HourlyCost by capacity type and
    // instance type and by capacity type alone; the report reads the latter, which CloudWatch
    // keeps apart from the former (it matches the whole dimension set), so nothing counts twice.
    // Another cluster's series must not count.
    let put = |cluster: String,
               metric: &'static str,
               dims: Vec<(&'static str, &'static str)>,
               v: f64,
               at: DateTime<Utc>| {
        let cw = cw.clone();
        async move {
            let mut d = MetricDatum::builder()
                .metric_name(metric)
                .value(v)
                .unit(StandardUnit::None)
                .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                    at.timestamp(),
                ))
                .dimensions(
                    Dimension::builder()
                        .name("ClusterId")
                        .value(cluster)
                        .build(),
                );
            for (k, v) in dims {
                d = d.dimensions(Dimension::builder().name(k).value(v).build());
            }
            cw.put_metric_data()
                .namespace("SmartScale")
                .metric_data(d.build())
                .send()
                .await
                .expect("PutMetricData");
        }
    };
    let od = vec![("CapacityType", "on-demand"), ("InstanceType", "t3.small")];
    let spot = vec![("CapacityType", "spot"), ("InstanceType", "t3a.small")];
    let od_all = vec![("CapacityType", "on-demand")];
    let spot_all = vec![("CapacityType", "spot")];
    for i in 0..30 {
        let at = now - Duration::minutes(61) + Duration::minutes(2 * i);
        put(cluster.clone(), "CurrentNodeCount", vec![], 3.0, at).await;
        put(cluster.clone(), "BaselineHourlyCost", vec![], 0.104, at).await;
        put(cluster.clone(), "HourlyCost", od.clone(), 0.0416, at).await;
        put(cluster.clone(), "HourlyCost", spot.clone(), 0.0068, at).await;
        put(cluster.clone(), "HourlyCost", od_all.clone(), 0.0416, at).await;
        put(cluster.clone(), "HourlyCost", spot_all.clone(), 0.0068, at).await;
        put("someone-else".into(), "CurrentNodeCount", vec![], 50.0, at).await;
    }
    put(
        cluster.clone(),
        "LongestPendingSeconds",
        vec![],
        140.0,
        now - Duration::minutes(30),
    )
    .await;
    put(
        "someone-else".into(),
        "LongestPendingSeconds",
        vec![],
        9_000.0,
        now - Duration::minutes(30),
    )
    .await;

    let mut config = Config::default();
    config.policy.cluster_id = cluster.clone();
    // t3a.small has since been removed from the configuration: its Spot worker is still billed.
    config.policy.worker_instance_types = vec!["t3.small".into()];
    let mut deps = Deps::unwired(config);
    deps.store = Arc::new(store);
    deps.history = Arc::new(CloudWatchHistory::new(cw.clone(), &cluster));
    let r = weekly_report::build(&deps, &cluster, now).await.unwrap();

    let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
    // 29 gaps of 2 minutes, and the last tick stands until `now`, 3 minutes later: 61 minutes.
    let hours = 61.0 / 60.0;
    assert!(close(r.sampled_hours, hours), "{}", r.sampled_hours);
    assert!(close(r.worker_hours, 3.0 * hours), "{}", r.worker_hours);
    assert!(
        close(r.cost_usd["on-demand"], 0.0416 * hours),
        "{:?}",
        r.cost_usd
    );
    assert!(
        close(r.cost_usd["spot"], 0.0068 * hours),
        "{:?}",
        r.cost_usd
    );
    assert!(close(r.baseline_usd.unwrap(), 0.104 * hours));
    assert_eq!(r.longest_pending_secs, Some(140.0));
    assert!(r.events.is_empty());
}
