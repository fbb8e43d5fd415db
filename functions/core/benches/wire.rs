//! What reading one list page costs the function: 500 pods, and 500 nodes, as a K3s API server
//! serves them (managed fields, environment, probes, a projected token volume, tolerations; a
//! node's image list), parsed as whole `k8s_openapi` objects and as the fields the view reads
//! (`adapters::kubernetes::wire`). The view of a 15,000-pod cluster reads 30 such pod pages.
//! Run: `cargo bench -p smartscale-core --bench wire`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use smartscale_core::adapters::kubernetes::wire;
use std::hint::black_box;

const PAGE: usize = 500;

fn probe() -> Value {
    json!({"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 10,
           "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3})
}

/// Pod `i` of a Deployment's ReplicaSet, Running on a worker, as the API server writes it.
fn pod(i: usize) -> Value {
    let app = format!("app-{}", i % 100);
    let created = "2026-12-01T10:00:00Z";
    json!({
      "apiVersion": "v1", "kind": "Pod",
      "metadata": {
        "name": format!("{app}-7d9f8c6b5-{i:05}"), "generateName": format!("{app}-7d9f8c6b5-"),
        "namespace": "shop", "uid": format!("00000000-0000-4000-8000-{i:012}"),
        "resourceVersion": format!("{}", 100_000 + i), "creationTimestamp": created,
        "labels": {"app": app, "pod-template-hash": "7d9f8c6b5"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{app}-7d9f8c6b5"),
                             "uid": "00000000-0000-4000-8000-000000000001", "controller": true, "blockOwnerDeletion": true}],
        "managedFields": [
          {"apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "k3s", "operation": "Update", "time": created,
           "fieldsV1": {"f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}},
                                       "f:ownerReferences": {".": {}, "k:{\"uid\":\"00000000-0000-4000-8000-000000000001\"}": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:env": {}, "f:image": {}, "f:imagePullPolicy": {},
                                   "f:livenessProbe": {}, "f:name": {}, "f:ports": {}, "f:readinessProbe": {}, "f:resources": {}}},
                                   "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:terminationGracePeriodSeconds": {}}}},
          {"apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "k3s", "operation": "Update", "subresource": "status", "time": created,
           "fieldsV1": {"f:status": {"f:conditions": {}, "f:containerStatuses": {}, "f:hostIP": {}, "f:phase": {}, "f:podIP": {}, "f:startTime": {}}}}
        ]
      },
      "spec": {
        "nodeName": format!("ip-10-0-{}-{}", i % 3, i % 250),
        "containers": [{
          "name": "app", "image": format!("registry.example/{app}:1.4.2"), "imagePullPolicy": "IfNotPresent",
          "env": (0..8).map(|k| json!({"name": format!("VAR_{k}"), "value": format!("value-{k}")})).collect::<Vec<_>>(),
          "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
          "readinessProbe": probe(), "livenessProbe": probe(),
          "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
          "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
          "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access", "readOnly": true}]
        }],
        "dnsPolicy": "ClusterFirst", "enableServiceLinks": true, "priority": 0, "restartPolicy": "Always",
        "schedulerName": "default-scheduler", "securityContext": {}, "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 30,
        "tolerations": [
          {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
          {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}
        ],
        "volumes": [{"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [
          {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
          {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
          {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}
        ]}}]
      },
      "status": {
        "phase": "Running", "hostIP": "10.0.1.10", "podIP": format!("10.42.{}.{}", i / 250, i % 250),
        "startTime": created, "qosClass": "Burstable",
        "conditions": (["Initialized", "Ready", "ContainersReady", "PodScheduled"].iter()
          .map(|t| json!({"type": t, "status": "True", "lastTransitionTime": created})).collect::<Vec<_>>()),
        "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "started": true,
          "image": format!("registry.example/{app}:1.4.2"), "imageID": "registry.example/app@sha256:0123456789abcdef",
          "containerID": "containerd://0123456789abcdef", "state": {"running": {"startedAt": created}}}]
      }
    })
}

/// Worker `i` as its kubelet reports it, with the 20 images it holds.
fn node(i: usize) -> Value {
    json!({
      "apiVersion": "v1", "kind": "Node",
      "metadata": {"name": format!("ip-10-0-{}-{i}", i % 3), "creationTimestamp": "2026-12-01T08:00:00Z",
                   "labels": {"topology.kubernetes.io/zone": "us-east-1a", "node.kubernetes.io/instance-type": "t3.large",
                              "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"},
                   "annotations": {"k3s.io/node-args": "[\"agent\"]", "node.alpha.kubernetes.io/ttl": "0"}},
      "spec": {"providerID": format!("aws:///us-east-1a/i-{i:017x}"), "podCIDR": "10.42.1.0/24"},
      "status": {
        "allocatable": {"cpu": "2", "memory": "7901560Ki", "pods": "110", "ephemeral-storage": "19316009748"},
        "capacity": {"cpu": "2", "memory": "8003960Ki", "pods": "110", "ephemeral-storage": "20134592Ki"},
        "addresses": [{"type": "InternalIP", "address": format!("10.0.1.{}", i % 250)}, {"type": "Hostname", "address": format!("ip-10-0-{}-{i}", i % 3)}],
        "conditions": (["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"].iter()
          .map(|t| json!({"type": t, "status": if *t == "Ready" { "True" } else { "False" }, "reason": "KubeletReady",
                          "message": "kubelet is posting ready status", "lastHeartbeatTime": "2026-12-01T10:00:00Z",
                          "lastTransitionTime": "2026-12-01T08:00:00Z"})).collect::<Vec<_>>()),
        "images": (0..20).map(|k| json!({"names": [format!("registry.example/app-{k}@sha256:0123456789abcdef0123456789abcdef"),
                                                   format!("registry.example/app-{k}:1.4.2")], "sizeBytes": 50_000_000 + k})).collect::<Vec<_>>(),
        "nodeInfo": {"architecture": "amd64", "kubeletVersion": "v1.31.4+k3s1", "osImage": "Ubuntu 24.04 LTS",
                     "containerRuntimeVersion": "containerd://1.7.23-k3s2", "kernelVersion": "6.8.0", "machineID": "m",
                     "systemUUID": "s", "bootID": "b", "kubeProxyVersion": "v1.31.4+k3s1", "operatingSystem": "linux"}
      }
    })
}

fn page(item: fn(usize) -> Value) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"apiVersion": "v1", "kind": "List", "metadata": {"continue": "shop/next"},
                               "items": (0..PAGE).map(item).collect::<Vec<_>>()}),
    )
    .expect("a page serialises")
}

#[derive(serde::Deserialize)]
#[serde(bound(deserialize = "T: DeserializeOwned"))]
struct Whole<T> {
    items: Vec<T>,
}

/// Times parsing `bytes` as whole objects `W` and as the view's fields `S`.
fn compare<W: DeserializeOwned, S: DeserializeOwned>(c: &mut Criterion, kind: &str, bytes: &[u8]) {
    let mut g = c.benchmark_group(format!("a page of {PAGE} {kind}"));
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("whole k8s_openapi objects", |b| {
        b.iter(|| {
            serde_json::from_slice::<Whole<W>>(black_box(bytes))
                .unwrap()
                .items
        })
    });
    g.bench_function("the fields the view reads", |b| {
        b.iter(|| {
            serde_json::from_slice::<wire::Page<S>>(black_box(bytes))
                .unwrap()
                .items
        })
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    compare::<k8s_openapi::api::core::v1::Pod, wire::Pod>(c, "pods", &page(pod));
    compare::<k8s_openapi::api::core::v1::Node, wire::Node>(c, "nodes", &page(node));
}

criterion_group!(benches, bench);
criterion_main!(benches);
