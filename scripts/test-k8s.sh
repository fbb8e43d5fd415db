#!/usr/bin/env bash
# Kubernetes side: the kube-rs adapter against the cluster emulator, Debian's kubectl against the
# emulator (get/cordon/uncordon/drain, PDB refusal), and nodes following EC2 in moto server.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$SMARTSCALE_ROOT"

need_apt curl
need_venv

need_kubectl
kubectl() { "$KUBECTL" "$@"; }
"$KUBECTL" version --client

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

log "building smartscale (emulator)"
# --workspace keeps feature unification identical to the other cargo runs, so nothing rebuilds.
cargo build --workspace --locked --all-targets
export SMARTSCALE_BIN="$CARGO_TARGET_DIR/debug/smartscale"

log "kube-rs adapter against the emulator (tests/kubernetes_emulator.rs, crate smartscale-tests)"
cargo test --workspace --locked --test kubernetes_emulator -- --test-threads=2
# The adapter's and the emulator's unit tests: the emulator is its own crate (sim/emulator), whose
# test names carry no common prefix, so every library's unit tests run (built above, a few seconds).
cargo test --workspace --locked --lib

# start_emulator NAME ARGS...: starts `smartscale emulate` on a free port, exports URL_<NAME>.
start_emulator() {
  local name="$1"; shift
  local port; port="$(free_port)"
  "$SMARTSCALE_BIN" emulate --listen "127.0.0.1:$port" "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
  wait_http "http://127.0.0.1:$port/version" 30
  printf -v "URL_$name" '%s' "http://127.0.0.1:$port"
}

# kubeconfig URL FILE: a kubeconfig for the emulator (plain HTTP on loopback, a dummy token).
kubeconfig() {
  cat >"$2" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: emulator
  cluster:
    server: $1
users:
- name: smartscale
  user:
    token: emulator-token
contexts:
- name: emulator
  context: {cluster: emulator, user: smartscale, namespace: default}
current-context: emulator
EOF
}

log "kubectl fidelity"
cat >"$WORK/seed.json" <<'EOF'
{
  "nodes": [
    {"name": "cp", "controlPlane": true, "unschedulable": true, "zone": "us-east-1a"},
    {"name": "w1", "instanceId": "i-0aaa", "zone": "us-east-1a"},
    {"name": "w2", "instanceId": "i-0bbb", "zone": "us-east-1b"},
    {"name": "w3", "instanceId": "i-0ccc", "zone": "us-east-1b"}
  ],
  "objects": [
    {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "node-exporter", "namespace": "kube-system"},
     "spec": {"template": {"metadata": {"labels": {"app": "node-exporter"}},
       "spec": {"containers": [{"name": "ne", "image": "prom/node-exporter",
                "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}}}]}}}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
     "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}},
       "spec": {"terminationGracePeriodSeconds": 1, "nodeSelector": {"kubernetes.io/hostname": "w1"},
                "volumes": [{"name": "cache", "emptyDir": {}}],
                "containers": [{"name": "web", "image": "nginx",
                "resources": {"requests": {"cpu": "200m", "memory": "128Mi"}}}]}}}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "default"},
     "spec": {"replicas": 1, "template": {"metadata": {"labels": {"app": "api"}},
       "spec": {"terminationGracePeriodSeconds": 1, "nodeSelector": {"kubernetes.io/hostname": "w3"},
                "containers": [{"name": "api", "image": "api",
                "resources": {"requests": {"cpu": "200m", "memory": "128Mi"}}}]}}}},
    {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "api-pdb", "namespace": "default"},
     "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "api"}}}}
  ]
}
EOF
start_emulator K8S --seed "$WORK/seed.json" --pod-startup 1s
export KUBECONFIG="$WORK/kubeconfig"
kubeconfig "$URL_K8S" "$KUBECONFIG"
sleep 2

out="$(kubectl get nodes)"; echo "$out"
for n in cp w1 w2 w3; do grep -Eq "^$n +Ready" <<<"$out" || fail "kubectl get nodes does not list $n Ready"; done
grep -Eq '^cp +Ready,SchedulingDisabled +control-plane,master' <<<"$out" || fail "control plane row"

out="$(kubectl cordon w2)"; echo "$out"
[ "$out" = "node/w2 cordoned" ] || fail "cordon said: $out"
kubectl get nodes w2 | grep -q 'Ready,SchedulingDisabled' || fail "w2 not shown cordoned"
out="$(kubectl uncordon w2)"; echo "$out"
[ "$out" = "node/w2 uncordoned" ] || fail "uncordon said: $out"
kubectl get nodes w2 | grep -Eq '^w2 +Ready ' || fail "w2 still cordoned"

kubectl get pods -A -o wide
# w1's pods may go anywhere once w1 is drained: lift the pin, as a rollout would.
kubectl patch deployment web --type=json -p '[{"op":"remove","path":"/spec/template/spec/nodeSelector"}]' \
  || fail "kubectl patch deployment (json patch)"

set +e
out="$(kubectl drain w1 --ignore-daemonsets --delete-emptydir-data --timeout=60s 2>&1)"; rc=$?
set -e
echo "$out"
[ "$rc" -eq 0 ] || fail "kubectl drain w1 exited $rc"
# kubectl 1.20 ends with "node/w1 evicted" after evictions (newer ones say "drained").
grep -Eq '^node/w1 (drained|evicted)$' <<<"$out" || fail "drain w1 did not finish"
grep -qi 'ignoring DaemonSet-managed Pods: kube-system/node-exporter-' <<<"$out" || fail "DaemonSet pod not ignored"
left="$(kubectl get pods -A --field-selector spec.nodeName=w1 -o name)"
[ "$(grep -c web <<<"$left" || true)" -eq 0 ] || fail "web pods left on w1: $left"

set +e
out="$(kubectl drain w3 --ignore-daemonsets --delete-emptydir-data --timeout=12s 2>&1)"; rc=$?
set -e
echo "$out"
[ "$rc" -ne 0 ] || fail "drain of w3 should be refused by api-pdb"
grep -q "Cannot evict pod as it would violate the pod's disruption budget." <<<"$out" \
  || fail "drain refusal does not carry the API server's PDB message"
kubectl get pods -A --field-selector spec.nodeName=w3 | grep -q 'api-' || fail "api pod was evicted despite its PDB"

log "nodes follow EC2 in moto server"
MOTO_PORT="$(free_port)"
"$SMARTSCALE_ROOT/.venv/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
PIDS+=("$!")
wait_http "http://127.0.0.1:$MOTO_PORT/" 60
start_emulator EC2 --ec2-endpoint "http://127.0.0.1:$MOTO_PORT" --cluster-id test-cluster \
  --boot-delay 2s --ec2-poll 500ms
kubeconfig "$URL_EC2" "$KUBECONFIG"

log "watch: kubectl get nodes -w from before the node exists"
# The cluster has no node yet, so every row for the node below comes through the watch stream.
kubectl get nodes -w >"$WORK/watch-nodes.txt" 2>&1 &
WATCH_PID=$!
PIDS+=("$WATCH_PID")
sleep 1

ids="$(MOTO="http://127.0.0.1:$MOTO_PORT" "$SMARTSCALE_ROOT/.venv/bin/python" - <<'EOF'
import os, boto3
ec2 = boto3.client("ec2", endpoint_url=os.environ["MOTO"], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
def launch(extra):
    tags = [{"Key": "Cluster", "Value": "test-cluster"}, {"Key": "ManagedBy", "Value": "smartscale"}] + extra
    r = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.large",
                          Placement={"AvailabilityZone": "us-east-1b"},
                          TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])
    return r["Instances"][0]["InstanceId"]
ok = launch([])
never = launch([{"Key": "smartscale-emulator/never-join", "Value": "true"}])
other = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.large")["Instances"][0]["InstanceId"]
print(ok, never, other)
EOF
)"
read -r OK_ID NEVER_ID OTHER_ID <<<"$ids"
echo "launched $OK_ID (joins), $NEVER_ID (never joins), $OTHER_ID (untagged)"

node_with() { kubectl get nodes -o jsonpath="{range .items[?(@.spec.providerID==\"aws:///us-east-1b/$1\")]}{.metadata.name}{end}"; }
for _ in $(seq 1 60); do [ -n "$(node_with "$OK_ID")" ] && break; sleep 0.5; done
NODE="$(node_with "$OK_ID")"
[ -n "$NODE" ] || fail "no node registered for $OK_ID"
kubectl get nodes -L topology.kubernetes.io/zone -L node.kubernetes.io/instance-type
kubectl get node "$NODE" -o jsonpath='{.metadata.labels.node\.kubernetes\.io/instance-type}' | grep -qx t3.large \
  || fail "instance-type label"
kubectl get nodes "$NODE" | grep -Eq "^$NODE +Ready " || fail "$NODE not Ready"
for _ in $(seq 1 20); do grep -Eq "^$NODE +Ready " "$WORK/watch-nodes.txt" && break; sleep 0.25; done
echo "kubectl get nodes -w so far:"; cat "$WORK/watch-nodes.txt"
grep -Eq "^$NODE +Ready " "$WORK/watch-nodes.txt" || fail "kubectl get nodes -w did not stream $NODE joining"

log "watch: the raw event stream"
# Without resourceVersion every node arrives as ADDED; from the list's resourceVersion nothing
# arrives until something changes; timeoutSeconds ends the stream.
list_json="$(curl -fsS "$URL_EC2/api/v1/nodes")"
rv="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])' <<<"$list_json")"
n_nodes="$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))' <<<"$list_json")"
curl -fsS -N --max-time 10 "$URL_EC2/api/v1/nodes?watch=true&timeoutSeconds=1" >"$WORK/watch-all.jsonl" \
  || fail "watch with timeoutSeconds=1 did not end cleanly"
[ "$n_nodes" -ge 1 ] || fail "no node to watch"
python3 - "$WORK/watch-all.jsonl" "$n_nodes" <<'PY' || fail "watch without resourceVersion: not one ADDED per node"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(events) == int(sys.argv[2]) and all(e["type"] == "ADDED" and e["object"]["kind"] == "Node" for e in events), events
PY
curl -fsS -N --max-time 10 "$URL_EC2/api/v1/nodes?watch=true&resourceVersion=$rv&timeoutSeconds=1" >"$WORK/watch-from-rv.jsonl"
[ ! -s "$WORK/watch-from-rv.jsonl" ] || fail "watch from the list's resourceVersion replayed: $(cat "$WORK/watch-from-rv.jsonl")"
sleep 3
[ -z "$(node_with "$NEVER_ID")" ] || fail "never-join instance $NEVER_ID registered"
[ -z "$(kubectl get nodes -o jsonpath='{.items[*].spec.providerID}' | grep "$OTHER_ID" || true)" ] \
  || fail "untagged instance registered"

MOTO="http://127.0.0.1:$MOTO_PORT" ID="$OK_ID" "$SMARTSCALE_ROOT/.venv/bin/python" - <<'EOF'
import os, boto3
boto3.client("ec2", endpoint_url=os.environ["MOTO"], region_name="us-east-1",
             aws_access_key_id="testing", aws_secret_access_key="testing"
             ).terminate_instances(InstanceIds=[os.environ["ID"]])
EOF
for _ in $(seq 1 40); do kubectl get nodes "$NODE" | grep -Eq "^$NODE +NotReady" && break; sleep 0.5; done
kubectl get nodes
kubectl get nodes "$NODE" | grep -Eq "^$NODE +NotReady" || fail "$NODE not NotReady after termination"
for _ in $(seq 1 20); do grep -Eq "^$NODE +NotReady " "$WORK/watch-nodes.txt" && break; sleep 0.25; done
grep -Eq "^$NODE +NotReady " "$WORK/watch-nodes.txt" || fail "kubectl get nodes -w did not stream $NODE going NotReady"
[ "$(grep -Ec "^$NODE " "$WORK/watch-nodes.txt")" -ge 2 ] || fail "kubectl get nodes -w printed $NODE once: not streamed"
kill "$WATCH_PID" 2>/dev/null || true
echo "kubectl get nodes -w:"; cat "$WORK/watch-nodes.txt"

log "metrics"
curl -fsS "$URL_K8S/metrics" >"$WORK/metrics.txt"
for s in node_cpu_seconds_total node_memory_MemAvailable_bytes node_memory_MemTotal_bytes kube_pod_status_phase \
         kube_node_status_condition kube_pod_container_resource_requests kube_node_info http_requests_total \
         http_request_duration_seconds_bucket; do
  grep -q "^$s{" "$WORK/metrics.txt" || fail "/metrics lacks $s"
done

log "kubernetes tests passed"
