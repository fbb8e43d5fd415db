//! [`StateStore`] on DynamoDB: one item per cluster holding the lease, the last action, the
//! operation in flight and the last good metrics. See `docs/STATE_AND_LOCKING.md`.
//!
//! Every write is one conditional `UpdateItem`: `acquire` on "no lease, expired at `now`, or
//! already held by the same owner", everything else on "`lock_owner` and `lock_token` are still
//! ours". A failed condition is [`Error::LockHeld`] for `acquire` and [`Error::LeaseLost`] for the
//! rest.
//!
//! Acquiring again as the same owner (the state machine retrying an `AcquireLock` step whose
//! answer was lost) succeeds with a new, higher token; the token of the lost answer is fenced off.

pub mod errors;
pub mod item;
pub mod ledger;

use crate::adapters::sdk_error::fault_of;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::forecast::ForecastRecord;
use crate::lifecycle::Finish;
use crate::model::{CachedMetrics, Lease, Operation, ScaleAction, ScalingState};
use crate::seams::{LedgerEntry, Pool, SpotClaim, StateStore};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use chrono::{DateTime, NaiveDate, Utc};
use errors::Fault;
use item::{attr, num, plus_secs, s, secs};
use std::collections::HashMap;

/// The condition every write but `acquire` carries.
const HOLDS_LEASE: &str = "lock_owner = :owner AND lock_token = :token";

/// How often `acquire` re-reads when the holder it lost to has already released.
const ACQUIRE_ATTEMPTS: usize = 3;

/// The DynamoDB state store of one cluster.
#[derive(Debug, Clone)]
pub struct DynamoStateStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    cluster_id: String,
    state_ttl_secs: u64,
}

impl DynamoStateStore {
    /// A store for item `cluster_id` of `table`; writes that take a time set `ttl` to that time
    /// plus `state_ttl_secs`.
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        cluster_id: impl Into<String>,
        state_ttl_secs: u64,
    ) -> Self {
        DynamoStateStore {
            client,
            table: table.into(),
            cluster_id: cluster_id.into(),
            state_ttl_secs,
        }
    }

    /// A store for `cfg.cluster_id` in `cfg.dynamodb_table` with `cfg.state_ttl_secs`.
    pub fn from_config(client: aws_sdk_dynamodb::Client, cfg: &Config) -> Self {
        DynamoStateStore::new(
            client,
            &cfg.dynamodb_table,
            &cfg.cluster_id,
            cfg.state_ttl_secs,
        )
    }

    fn key(&self) -> AttributeValue {
        s(&self.cluster_id)
    }

    fn update(&self) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(attr::CLUSTER_ID, self.key())
    }

    /// An update conditional on `lease`, with `:owner` and `:token` bound.
    fn fenced(&self, lease: &Lease) -> UpdateItemFluentBuilder {
        self.update()
            .condition_expression(HOLDS_LEASE)
            .expression_attribute_values(":owner", s(&lease.owner))
            .expression_attribute_values(":token", num(lease.token))
    }

    /// Sends a fenced update; a failed condition is `LeaseLost`.
    async fn send_fenced(&self, req: UpdateItemFluentBuilder, context: String) -> Result<()> {
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.translate(&e, context, |context| Error::LeaseLost { context })),
        }
    }

    fn translate(
        &self,
        err: &SdkError<UpdateItemError, HttpResponse>,
        context: String,
        on_condition: impl FnOnce(String) -> Error,
    ) -> Error {
        translate_fault(fault_of(err), &self.table, context, on_condition)
    }

    /// Sends an update that carries no condition (the items beside the cluster item).
    async fn send_unconditional(
        &self,
        req: UpdateItemFluentBuilder,
        context: String,
    ) -> Result<()> {
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.translate(&e, context, |c| {
                Error::fatal(c, "unexpected condition failure")
            })),
        }
    }

    fn ttl(&self, now: DateTime<Utc>) -> AttributeValue {
        num(plus_secs(now, self.state_ttl_secs))
    }

    fn describe(&self, lease: &Lease) -> String {
        format!(
            "lease of {} (token {}) on cluster {}",
            lease.owner, lease.token, self.cluster_id
        )
    }

    async fn try_acquire(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        ttl_secs: u64,
        context: &str,
    ) -> Result<std::result::Result<Lease, Option<HashMap<String, AttributeValue>>>> {
        let res = self
            .update()
            .update_expression(
                "SET lock_owner = :owner, \
                 lock_token = if_not_exists(last_token, :zero) + :one, \
                 last_token = if_not_exists(last_token, :zero) + :one, \
                 lock_expiry = :expiry, scaling_in_progress = :true, #ttl = :ttl",
            )
            .condition_expression(
                "attribute_not_exists(lock_owner) OR lock_expiry <= :now OR lock_owner = :owner",
            )
            .expression_attribute_names("#ttl", attr::TTL)
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":zero", num(0))
            .expression_attribute_values(":one", num(1))
            .expression_attribute_values(":expiry", num(plus_secs(now, ttl_secs)))
            .expression_attribute_values(":true", s("true"))
            .expression_attribute_values(":ttl", self.ttl(now))
            .expression_attribute_values(":now", num(secs(now)))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(out) => {
                let written = out.attributes.unwrap_or_default();
                item::written_lease(&written, context).map(Ok)
            }
            Err(SdkError::ServiceError(se))
                if matches!(
                    se.err(),
                    UpdateItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                let old = match se.err() {
                    UpdateItemError::ConditionalCheckFailedException(c) => c.item().cloned(),
                    _ => None,
                };
                Ok(Err(old))
            }
            Err(e) => Err(self.translate(&e, context.to_owned(), |context| {
                Error::fatal(context, "unexpected condition failure")
            })),
        }
    }
}

/// Turns a classified DynamoDB failure into SmartScale's error; `on_condition` builds the error
/// for a failed condition (`LockHeld` or `LeaseLost`).
fn translate_fault(
    (fault, detail): (Fault, String),
    table: &str,
    context: String,
    on_condition: impl FnOnce(String) -> Error,
) -> Error {
    match fault {
        Fault::ConditionFailed => on_condition(context),
        Fault::Transient => Error::Transient { context, detail },
        Fault::TableMissing => Error::NotFound {
            context,
            what: format!("DynamoDB table {table}"),
        },
        Fault::Fatal => Error::Fatal { context, detail },
    }
}

impl DynamoStateStore {
    /// The item under partition key `key`, read consistently. Errors: translated as every read.
    async fn get(
        &self,
        key: AttributeValue,
        context: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::CLUSTER_ID, key)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                translate_fault(fault_of(&e), &self.table, context.to_owned(), |c| {
                    Error::fatal(c, "unexpected condition failure")
                })
            })?;
        Ok(out.item)
    }
}

#[async_trait]
impl StateStore for DynamoStateStore {
    async fn load(&self) -> Result<ScalingState> {
        let context = format!(
            "reading the state of cluster {} from table {}",
            self.cluster_id, self.table
        );
        match self.get(self.key(), &context).await? {
            None => Ok(ScalingState::new(&self.cluster_id)),
            Some(item) => item::state_from_item(&self.cluster_id, &item, &context),
        }
    }

    async fn acquire(&self, owner: &str, now: DateTime<Utc>, ttl_secs: u64) -> Result<Lease> {
        let context = format!(
            "acquiring the lease on cluster {} for {owner}",
            self.cluster_id
        );
        for _ in 0..ACQUIRE_ATTEMPTS {
            let old = match self.try_acquire(owner, now, ttl_secs, &context).await? {
                Ok(lease) => return Ok(lease),
                Err(old) => old,
            };
            // The service returns the item that failed the condition; when it does not, read it.
            let holder = match old {
                Some(item) => item::lease_from_item(&item, &context)?,
                None => self.load().await?.lease,
            };
            match holder {
                Some(l) if secs(l.expires_at) > secs(now) => {
                    return Err(Error::LockHeld {
                        owner: l.owner,
                        expires_at: l.expires_at,
                    })
                }
                // Released or expired between our write and the read: try again.
                _ => continue,
            }
        }
        Err(Error::transient(
            context,
            "the lease changed hands on every attempt",
        ))
    }

    async fn renew(&self, lease: &Lease, now: DateTime<Utc>, ttl_secs: u64) -> Result<Lease> {
        let context = format!("renewing the {}", self.describe(lease));
        let req = self
            .fenced(lease)
            .update_expression("SET lock_expiry = :expiry, #ttl = :ttl")
            .condition_expression(format!("{HOLDS_LEASE} AND lock_expiry > :now"))
            .expression_attribute_names("#ttl", attr::TTL)
            .expression_attribute_values(":expiry", num(plus_secs(now, ttl_secs)))
            .expression_attribute_values(":ttl", self.ttl(now))
            .expression_attribute_values(":now", num(secs(now)))
            .return_values(ReturnValue::AllNew);
        match req.send().await {
            Ok(out) => item::written_lease(&out.attributes.unwrap_or_default(), &context),
            Err(e) => Err(self.translate(&e, context, |context| Error::LeaseLost { context })),
        }
    }

    async fn release(&self, lease: &Lease) -> Result<()> {
        let context = format!("releasing the {}", self.describe(lease));
        let req = self
            .fenced(lease)
            .update_expression("REMOVE lock_owner, lock_token, lock_expiry, scaling_in_progress");
        self.send_fenced(req, context).await
    }

    async fn save_operation(&self, lease: &Lease, op: &Operation) -> Result<()> {
        let context = format!(
            "recording operation {} under the {}",
            op.id,
            self.describe(lease)
        );
        let req = self
            .fenced(lease)
            .update_expression("SET #op = :op")
            .expression_attribute_names("#op", attr::OPERATION)
            .expression_attribute_values(":op", item::operation_to_attr(op));
        self.send_fenced(req, context).await
    }

    async fn finish_operation(&self, lease: &Lease, finish: &Finish) -> Result<()> {
        let (action, reason, node_count, now) = (
            finish.action,
            finish.reason.as_str(),
            finish.node_count,
            finish.at,
        );
        let context = format!(
            "recording the outcome ({}) under the {}",
            action.map_or("undone", ScaleAction::as_str),
            self.describe(lease)
        );
        let mut set = vec![
            "node_count = :count",
            "last_scale_reason = :reason",
            "#ttl = :ttl",
        ];
        let mut req = self
            .fenced(lease)
            .expression_attribute_names("#ttl", attr::TTL)
            .expression_attribute_names("#op", attr::OPERATION)
            .expression_attribute_values(":count", num(node_count))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":ttl", self.ttl(now));
        if let Some(action) = action {
            set.extend(["last_scale_action = :action", "last_scale_time = :now"]);
            req = req
                .expression_attribute_values(":action", s(action.as_str()))
                .expression_attribute_values(":now", num(secs(now)));
        }
        let req = req.update_expression(format!("SET {} REMOVE #op", set.join(", ")));
        self.send_fenced(req, context).await
    }

    async fn save_cached_metrics(&self, lease: &Lease, cached: &CachedMetrics) -> Result<()> {
        let context = format!("caching metrics under the {}", self.describe(lease));
        let json = serde_json::to_string(cached)
            .map_err(|e| Error::fatal(context.clone(), format!("serialising metrics: {e}")))?;
        let req = self
            .fenced(lease)
            .update_expression("SET cached_metrics = :m, #ttl = :ttl")
            .expression_attribute_names("#ttl", attr::TTL)
            .expression_attribute_values(":m", s(json))
            .expression_attribute_values(":ttl", self.ttl(cached.fetched_at));
        self.send_fenced(req, context).await
    }

    async fn record_capacity_alert(&self, lease: &Lease, now: DateTime<Utc>) -> Result<()> {
        let context = format!(
            "recording the capacity alert under the {}",
            self.describe(lease)
        );
        let req = self
            .fenced(lease)
            .update_expression("SET #at = :at, #by = :token, #ttl = :ttl")
            .expression_attribute_names("#at", attr::CAPACITY_ALERT_TIME)
            .expression_attribute_names("#by", attr::CAPACITY_ALERT_TOKEN)
            .expression_attribute_names("#ttl", attr::TTL)
            .expression_attribute_values(":at", num(secs(now)))
            .expression_attribute_values(":ttl", self.ttl(now));
        self.send_fenced(req, context).await
    }

    async fn failed_offers(&self, now: DateTime<Utc>) -> Result<Vec<Pool>> {
        let context = format!(
            "reading the failed Spot offers of cluster {} from table {}",
            self.cluster_id, self.table
        );
        Ok(self
            .get(s(item::offers_key(&self.cluster_id)), &context)
            .await?
            .map(|i| item::offers_from_item(&i, secs(now)))
            .unwrap_or_default())
    }

    async fn load_forecast(&self) -> Result<Option<ForecastRecord>> {
        let context = format!(
            "reading the forecast history of cluster {} from table {}",
            self.cluster_id, self.table
        );
        let Some(found) = self
            .get(s(item::forecast_key(&self.cluster_id)), &context)
            .await?
        else {
            return Ok(None);
        };
        match item::forecast_from_item(&found) {
            Ok(r) => Ok(Some(r)),
            Err(why) => {
                tracing::warn!(problem = %why, "{context}: unreadable, starting afresh");
                Ok(None)
            }
        }
    }

    async fn save_forecast(
        &self,
        lease: &Lease,
        record: &ForecastRecord,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let context = format!(
            "saving the forecast history under the {}",
            self.describe(lease)
        );
        let mut set = vec![
            "#h = :h".to_string(),
            "#w = :token".into(),
            "#ttl = :ttl".into(),
        ];
        let mut remove = Vec::new();
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::CLUSTER_ID, s(item::forecast_key(&self.cluster_id)))
            .condition_expression("attribute_not_exists(#w) OR #w <= :token")
            .expression_attribute_names("#h", attr::HISTORY)
            .expression_attribute_names("#w", attr::WRITTEN_TOKEN)
            .expression_attribute_names("#ttl", attr::TTL)
            .expression_attribute_values(
                ":h",
                s(smartscale_engine::engine::forecast::codec::encode(
                    &record.history,
                )),
            )
            .expression_attribute_values(":token", num(lease.token))
            .expression_attribute_values(":ttl", self.ttl(now));
        let optional: [(&str, &str, &str, Option<AttributeValue>); 4] = [
            (
                "#f",
                ":f",
                attr::ANNOUNCED_FLOOR,
                record.announced_floor.as_deref().map(s),
            ),
            (
                "#d",
                ":d",
                attr::DAY_SUMMARY,
                record
                    .day
                    .as_ref()
                    .and_then(|d| serde_json::to_string(d).ok())
                    .map(s),
            ),
            (
                "#b",
                ":b",
                attr::BACKFILLED_AT,
                record.backfilled_at.map(|t| num(secs(t))),
            ),
            (
                "#l",
                ":l",
                attr::LAUNCH_STARTED,
                record.launch_started.map(|t| num(secs(t))),
            ),
        ];
        for (name, value, attribute, v) in optional {
            req = req.expression_attribute_names(name, attribute);
            match v {
                Some(v) => {
                    set.push(format!("{name} = {value}"));
                    req = req.expression_attribute_values(value, v);
                }
                None => remove.push(name),
            }
        }
        let mut expr = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        match req.update_expression(expr).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.translate(&e, context, |context| Error::LeaseLost { context })),
        }
    }

    async fn remember_failed_offers(&self, pools: &[Pool], until: DateTime<Utc>) -> Result<()> {
        if pools.is_empty() {
            return Ok(());
        }
        let context = format!(
            "remembering {} failed Spot offer(s) of cluster {}",
            pools.len(),
            self.cluster_id
        );
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::CLUSTER_ID, s(item::offers_key(&self.cluster_id)))
            .expression_attribute_names("#ttl", attr::TTL)
            .expression_attribute_values(":until", num(secs(until)));
        let mut sets = vec!["#ttl = :until".to_string()];
        for (i, pool) in pools.iter().enumerate() {
            req = req.expression_attribute_names(format!("#o{i}"), item::offer_attribute(pool));
            sets.push(format!("#o{i} = :until"));
        }
        self.send_unconditional(
            req.update_expression(format!("SET {}", sets.join(", "))),
            context,
        )
        .await
    }

    async fn claim_instance(&self, claim: SpotClaim<'_>) -> Result<()> {
        let SpotClaim {
            instance_id,
            owner,
            now,
            ttl_secs,
        } = claim;
        let context = format!(
            "claiming spot instance {instance_id} of cluster {} for {owner}",
            self.cluster_id
        );
        let expiry = plus_secs(now, ttl_secs);
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(
                attr::CLUSTER_ID,
                s(item::spot_claim_key(&self.cluster_id, instance_id)),
            )
            .update_expression(
                "SET #owner = :owner, #expiry = :expiry, #instance = :instance, #ttl = :expiry",
            )
            .condition_expression(
                "attribute_not_exists(#owner) OR #expiry <= :now OR #owner = :owner",
            )
            .expression_attribute_names("#owner", attr::CLAIM_OWNER)
            .expression_attribute_names("#expiry", attr::CLAIM_EXPIRY)
            .expression_attribute_names("#instance", attr::INSTANCE_ID)
            .expression_attribute_names("#ttl", attr::TTL)
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":expiry", num(expiry))
            .expression_attribute_values(":instance", s(instance_id))
            .expression_attribute_values(":now", num(secs(now)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let old = match res {
            Ok(_) => return Ok(()),
            Err(SdkError::ServiceError(se))
                if matches!(
                    se.err(),
                    UpdateItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                match se.err() {
                    UpdateItemError::ConditionalCheckFailedException(c) => c.item().cloned(),
                    _ => None,
                }
            }
            Err(e) => {
                return Err(self.translate(&e, context, |c| {
                    Error::fatal(c, "unexpected condition failure")
                }))
            }
        };
        let holder = match old {
            Some(item) => item::claim_from_item(&item, &context)?,
            None => None,
        };
        // The condition failed, so someone else holds an unexpired claim; when the service did
        // not return the item, its owner is unknown here.
        let (owner, expires_at) = holder.unwrap_or_else(|| {
            (
                "another execution".to_owned(),
                DateTime::from_timestamp(expiry, 0).unwrap_or(now),
            )
        });
        Err(Error::LockHeld { owner, expires_at })
    }

    async fn record_week_events(&self, week: NaiveDate, entries: &[LedgerEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let key = ledger::week_key(&self.cluster_id, week);
        let context = format!("recording {} event(s) in ledger item {key}", entries.len());
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::CLUSTER_ID, s(&key))
            .expression_attribute_names("#ttl", attr::TTL)
            .expression_attribute_values(":ttl", num(ledger::ttl_of(week)));
        let mut sets = vec!["#ttl = :ttl".to_string()];
        for (i, e) in entries.iter().enumerate() {
            req = req
                .expression_attribute_names(format!("#e{i}"), ledger::event_attribute(e))
                .expression_attribute_values(format!(":e{i}"), num(secs(e.at)));
            sets.push(format!("#e{i} = if_not_exists(#e{i}, :e{i})"));
        }
        self.send_unconditional(
            req.update_expression(format!("SET {}", sets.join(", "))),
            context,
        )
        .await
    }

    async fn week_events(&self, week: NaiveDate) -> Result<Vec<LedgerEntry>> {
        let key = ledger::week_key(&self.cluster_id, week);
        let context = format!("reading ledger item {key} from table {}", self.table);
        match self.get(s(&key), &context).await? {
            None => Ok(Vec::new()),
            Some(item) => ledger::entries_from_item(&item, &context),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
    use aws_sdk_dynamodb::types::error::{
        ConditionalCheckFailedException, ProvisionedThroughputExceededException,
    };
    use aws_smithy_mocks::{mock, MockResponseInterceptor, Rule, RuleMode};

    fn client(rules: &[&Rule]) -> aws_sdk_dynamodb::Client {
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
        for rule in rules {
            interceptor = interceptor.with_rule(rule);
        }
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(interceptor)
            .build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }

    /// Error metadata as the deserializer fills it from a real response.
    fn code(code: &str) -> aws_smithy_types::error::ErrorMetadata {
        aws_smithy_types::error::ErrorMetadata::builder()
            .code(code)
            .build()
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[tokio::test]
    async fn throttling_is_transient_and_says_what_was_done() {
        let rule = mock!(aws_sdk_dynamodb::Client::update_item).then_error(|| {
            UpdateItemError::ProvisionedThroughputExceededException(
                ProvisionedThroughputExceededException::builder()
                    .message("slow down")
                    .meta(code("ProvisionedThroughputExceededException"))
                    .build(),
            )
        });
        let store = DynamoStateStore::new(client(&[&rule]), "t", "c", 60);
        let err = store.acquire("exec-1", now(), 300).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert!(
            err.to_string()
                .starts_with("acquiring the lease on cluster c for exec-1"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn failed_condition_names_the_holder_from_the_returned_item() {
        let rule = mock!(aws_sdk_dynamodb::Client::update_item).then_error(|| {
            UpdateItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .item(attr::LOCK_OWNER, s("exec-0"))
                    .item(attr::LOCK_TOKEN, num(4))
                    .item(attr::LOCK_EXPIRY, num(1_800_000_100))
                    .meta(code("ConditionalCheckFailedException"))
                    .build(),
            )
        });
        let store = DynamoStateStore::new(client(&[&rule]), "t", "c", 60);
        match store.acquire("exec-1", now(), 300).await {
            Err(Error::LockHeld { owner, expires_at }) => {
                assert_eq!(owner, "exec-0");
                assert_eq!(expires_at.timestamp(), 1_800_000_100);
            }
            other => panic!("expected LockHeld, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn lease_lost_on_fenced_write() {
        let rule = mock!(aws_sdk_dynamodb::Client::update_item).then_error(|| {
            UpdateItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .meta(code("ConditionalCheckFailedException"))
                    .build(),
            )
        });
        let ok = mock!(aws_sdk_dynamodb::Client::update_item)
            .then_output(|| UpdateItemOutput::builder().build());
        let store = DynamoStateStore::new(client(&[&rule, &ok]), "t", "c", 60);
        let lease = Lease {
            owner: "exec-1".into(),
            token: 3,
            expires_at: now(),
        };
        let err = store.release(&lease).await.unwrap_err();
        assert_eq!(err.kind(), "LeaseLost", "{err}");
        assert!(
            err.to_string()
                .contains("releasing the lease of exec-1 (token 3) on cluster c"),
            "{err}"
        );
        store.release(&lease).await.unwrap();
    }
}
