//! [`ClusterApi`] on the Kubernetes API with kube-rs: the cluster view, cordon/uncordon, the
//! PDB-respecting drain step (policy/v1 Eviction) and node deletion.
//!
//! RBAC it needs (cdk/manifests/smartscale-rbac.yaml): nodes get/list/patch/delete; pods list;
//! pods/eviction create; policy poddisruptionbudgets list; apps deployments, replicasets and
//! statefulsets list.

pub mod client;
pub mod drain;
pub mod view;
pub mod wire;

use crate::error::{Error, Result};
use crate::model::{ClusterView, NodeInfo};
use crate::seams::{BlockedPod, ClusterApi, DrainMode, DrainProgress};
use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, EvictParams, ListParams};
use serde::de::DeserializeOwned;

pub use client::{build_client, K8sCredentials};

/// Translates a kube-rs error: 404 ⇒ [`Error::NotFound`]; 429, 5xx, connection failures and
/// timeouts ⇒ [`Error::Transient`]; 401/403 ⇒ [`Error::Fatal`] naming RBAC; anything else fatal.
pub fn translate(context: &str, what: &str, e: kube::Error) -> Error {
    match &e {
        kube::Error::Api(s) if s.code == 404 => Error::NotFound {
            context: context.to_owned(),
            what: what.to_owned(),
        },
        kube::Error::Api(s) if s.code == 429 || s.code >= 500 => {
            Error::transient(context, format!("HTTP {}: {}", s.code, s.message))
        }
        kube::Error::Api(s) if s.code == 401 || s.code == 403 => Error::fatal(
            context,
            format!(
                "HTTP {}: {} (check the token in the credentials secret and the smartscale ClusterRole)",
                s.code, s.message
            ),
        ),
        kube::Error::Api(s) => Error::fatal(context, format!("HTTP {}: {}", s.code, s.message)),
        kube::Error::HyperError(_) | kube::Error::Service(_) => Error::transient(context, &e),
        _ => Error::fatal(context, &e),
    }
}

/// Eviction requests one drain step keeps outstanding at once. The API server checks each
/// against the pods' disruption budgets on its own, so concurrent requests cannot overrun a budget.
pub const EVICTIONS_IN_FLIGHT: usize = 16;

/// Objects per list request: a 15,000-pod cluster is read in pages rather than in one response
/// the API server must build whole and the function must hold twice.
pub const LIST_PAGE_SIZE: u32 = 500;

/// The Kubernetes cluster, through a client built in `main` ([`build_client`]).
#[derive(Clone)]
pub struct KubeCluster {
    client: kube::Client,
}

impl KubeCluster {
    /// Wraps a client.
    pub fn new(client: kube::Client) -> Self {
        KubeCluster { client }
    }

    /// Every object of kind `K` in the whole cluster (every namespace for namespaced kinds) that
    /// `params` selects, read as `W` (the fields the caller reads, see [`wire`]) in pages of
    /// [`LIST_PAGE_SIZE`] (`limit`/`continue`) and mapped with `map` as each page arrives.
    async fn list_mapped<K, W, T>(
        &self,
        context: &str,
        params: &ListParams,
        mut map: impl FnMut(W) -> T,
    ) -> Result<Vec<T>>
    where
        K: kube::Resource<DynamicType = ()>,
        W: DeserializeOwned,
    {
        let request = kube::core::Request::new(K::url_path(&(), None));
        let mut items = Vec::new();
        let mut page = params.clone().limit(LIST_PAGE_SIZE);
        loop {
            let failed = |e| translate(context, "resource", e);
            let get = request
                .list(&page)
                .map_err(|e| failed(kube::Error::BuildRequest(e)))?;
            let list: wire::Page<W> = self.client.request(get).await.map_err(failed)?;
            items.extend(list.items.into_iter().map(&mut map));
            match list.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => page = page.continue_token(&token),
                None => return Ok(items),
            }
        }
    }

    async fn pods_on(&self, node: &str) -> Result<Vec<wire::Pod>> {
        let params = ListParams::default().fields(&format!("spec.nodeName={node}"));
        self.list_mapped::<Pod, _, _>(&format!("listing the pods on node {node}"), &params, |p| p)
            .await
    }

    async fn owners(&self, context: &str) -> Result<view::Owners> {
        let lp = ListParams::default();
        let (rs, deploys, sts) = futures::try_join!(
            self.list_mapped::<ReplicaSet, wire::Workload, _>(context, &lp, |w| w),
            self.list_mapped::<Deployment, wire::Workload, _>(context, &lp, |w| w),
            self.list_mapped::<StatefulSet, wire::Workload, _>(context, &lp, |w| w),
        )?;
        Ok(view::Owners::new(&rs, &deploys, &sts))
    }

    async fn set_unschedulable(&self, node: &str, value: bool) -> Result<()> {
        let api: Api<Node> = Api::all(self.client.clone());
        let verb = if value { "cordoning" } else { "uncordoning" };
        let r = if value {
            api.cordon(node).await
        } else {
            api.uncordon(node).await
        };
        r.map(|_| ())
            .map_err(|e| translate(&format!("{verb} node {node}"), &format!("node {node}"), e))
    }
}

#[async_trait]
impl ClusterApi for KubeCluster {
    async fn view(&self) -> Result<ClusterView> {
        let context = "reading the cluster view";
        tracing::info!("reading the cluster view");
        let lp = ListParams::default();
        // The pods are read while their owners are, each page mapped to the model as it
        // arrives; each pod's controller is kept and resolved once the owners are known.
        let unowned = |p: wire::Pod| {
            let owner = view::controller(&p.metadata).cloned();
            (view::unowned_pod_info(&p), owner)
        };
        let (owners, pods, mut nodes, pdbs) = futures::try_join!(
            self.owners(context),
            self.list_mapped::<Pod, wire::Pod, _>(context, &lp, unowned),
            self.list_mapped::<Node, wire::Node, _>(context, &lp, |n| view::node_info(&n)),
            self.list_mapped::<PodDisruptionBudget, PodDisruptionBudget, _>(context, &lp, |b| {
                view::pdb_info(&b)
            }),
        )?;
        let pods: Vec<_> = pods
            .into_iter()
            .map(|(mut pod, owner)| {
                if let Some(owner) = owner {
                    view::with_owner(&mut pod, &owner, &owners);
                }
                pod
            })
            .collect();
        view::with_idle_since(&mut nodes, &pods);
        tracing::info!(
            nodes = nodes.len(),
            pods = pods.len(),
            budgets = pdbs.len(),
            "read the cluster view"
        );
        Ok(ClusterView { nodes, pods, pdbs })
    }

    async fn nodes(&self) -> Result<Vec<NodeInfo>> {
        self.list_mapped::<Node, wire::Node, _>("listing the nodes", &ListParams::default(), |n| {
            view::node_info(&n)
        })
        .await
    }

    async fn cordon(&self, node: &str) -> Result<()> {
        self.set_unschedulable(node, true).await
    }

    async fn uncordon(&self, node: &str) -> Result<()> {
        self.set_unschedulable(node, false).await
    }

    async fn drain_step(&self, node: &str, mode: DrainMode) -> Result<DrainProgress> {
        let context = format!("draining node {node}");
        let pods = self.pods_on(node).await?;
        // The drain plan reads only each pod's own controller kind, never a workload's replicas:
        // the poll lists the node's pods alone, not every ReplicaSet, Deployment and StatefulSet.
        let owners = view::Owners::default();
        let listed: Vec<_> = pods
            .iter()
            .map(|p| {
                (
                    view::pod_info(p, &owners),
                    p.metadata.deletion_timestamp.is_some(),
                )
            })
            .collect();
        let plan = drain::plan(&listed, mode);
        let mut progress = DrainProgress {
            evicted: Vec::new(),
            remaining: plan.remaining,
            blocked: plan.blocked,
        };
        // Every eviction is requested at once (at most EVICTIONS_IN_FLIGHT outstanding), as
        // `kubectl drain` does: a node under a 2-minute Spot warning cannot wait for them in turn.
        let context = context.as_str();
        let outcomes: Vec<(String, String, u16, String, Vec<String>)> =
            futures::stream::iter(plan.evict)
                .map(|(ns, name)| async move {
                    let key = format!("{ns}/{name}");
                    let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
                    match api.evict(&name, &EvictParams::default()).await {
                        Ok(_) => Ok((ns, key, 201, String::new(), Vec::new())),
                        Err(kube::Error::Api(s)) => {
                            let causes = s
                                .details
                                .as_ref()
                                .map(|d| d.causes.iter().map(|c| c.message.clone()).collect())
                                .unwrap_or_default();
                            Ok((ns, key, s.code, s.message.clone(), causes))
                        }
                        Err(e) => Err(translate(&format!("{context}: evicting {key}"), &key, e)),
                    }
                })
                .buffered(EVICTIONS_IN_FLIGHT)
                .try_collect()
                .await?;
        for (ns, key, code, message, causes) in outcomes {
            match drain::classify_eviction(code, &ns, &message, &causes) {
                Some(drain::Eviction::Evicted) => progress.evicted.push(key),
                Some(drain::Eviction::Gone) => progress.remaining.retain(|k| *k != key),
                Some(drain::Eviction::Blocked(reason)) => {
                    progress.blocked.push(BlockedPod { pod: key, reason })
                }
                None if code >= 500 => {
                    return Err(Error::transient(
                        format!("{context}: evicting {key}"),
                        format!("HTTP {code}: {message}"),
                    ))
                }
                None => {
                    return Err(Error::fatal(
                        format!("{context}: evicting {key}"),
                        format!("HTTP {code}: {message}"),
                    ))
                }
            }
        }
        Ok(progress)
    }

    async fn delete_node(&self, node: &str) -> Result<()> {
        let api: Api<Node> = Api::all(self.client.clone());
        match api.delete(node, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(translate(
                &format!("deleting node {node}"),
                &format!("node {node}"),
                e,
            )),
        }
    }
}
