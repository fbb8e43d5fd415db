/**
 * Cluster manifests: the bundle the master applies is complete, SmartScale's RBAC grants exactly
 * what the contract says, the workloads carry the sizes the issue asks for, and every document
 * validates against the Kubernetes schemas offline (kubernetes-validate ships them; the run is
 * made in a network namespace without network when `unshare` allows it).
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { configFromContext } from '../lib/config';
import { buildManifestBundle, withClusterLabel } from '../lib/manifests';
import { prometheusFile } from '../lib/sources';
import { REPO_ROOT } from './helpers';

const cfg = configFromContext(() => undefined, REPO_ROOT, { SMARTSCALE_SYNTH_PLACEHOLDERS: '1' });
const bundle = buildManifestBundle(cfg);
type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> }; [k: string]: any };
const docs: Doc[] = bundle.files.flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(bundle.dir, f), 'utf8')).map((d) => d.toJS() as Doc));
const find = (kind: string, name: string, namespace?: string): Doc => {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name && (namespace === undefined || x.metadata.namespace === namespace));
  assert.ok(d, `${kind} ${namespace ?? ''}/${name} missing`);
  return d;
};
const k8sMinor = cfg.k3sVersion.replace(/^v(\d+\.\d+)\..*$/, '$1.0');

describe('manifest bundle', () => {
  it('every file parses and names apiVersion, kind and metadata.name', () => {
    assert.ok(docs.length >= 20);
    for (const d of docs) assert.ok(d.apiVersion && d.kind && d.metadata?.name, JSON.stringify(d).slice(0, 200));
  });
  it('file names cannot collide with K3s packaged manifests', () => {
    for (const f of bundle.files) assert.match(f, /^smartscale-[a-z0-9-]+\.yaml$/);
  });
  it('the Prometheus ConfigMaps are built from cdk/prometheus at generation time', () => {
    const cm = find('ConfigMap', 'prometheus-config', 'monitoring');
    assert.equal(cm.data['prometheus.yml'], withClusterLabel(fs.readFileSync(prometheusFile(cfg, 'prometheus.yml').path, 'utf8'), cfg.clusterId));
    const rules = find('ConfigMap', 'prometheus-rules', 'monitoring');
    assert.equal(rules.data['smartscale-rules.yml'], fs.readFileSync(prometheusFile(cfg, 'rules/smartscale-rules.yml').path, 'utf8'));
  });
  it('the cluster id becomes the external label cluster, comments kept', () => {
    const text = 'global:\n  external_labels:\n    # set by the deployment\n    cluster: smartscale-prod\nrule_files: []\n';
    assert.equal(withClusterLabel(text, 'shop-eu'), text.replace('cluster: smartscale-prod', 'cluster: shop-eu'));
    assert.throws(() => withClusterLabel('global: {}\n', 'x'), /external_labels/);
  });
  it('the Grafana dashboards ConfigMap holds the four dashboards, set to this cluster', () => {
    const data = find('ConfigMap', 'grafana-dashboards', 'monitoring').data as Record<string, string>;
    assert.deepEqual(Object.keys(data).sort(), ['application.json', 'autoscaler-performance.json', 'cluster-overview.json', 'cost.json']);
    const other = buildManifestBundle({ ...cfg, clusterId: 'shop-eu' });
    const text = fs.readFileSync(path.join(other.dir, 'smartscale-41-grafana-dashboards.yaml'), 'utf8');
    const perf = JSON.parse((parseAllDocuments(text)[0]!.toJS() as Doc).data['autoscaler-performance.json']);
    assert.equal(perf.templating.list.find((v: { name: string }) => v.name === 'cluster').query, 'shop-eu');
  });
});

describe('SmartScale RBAC', () => {
  it('service account smartscale in kube-system with a long-lived token secret', () => {
    find('ServiceAccount', 'smartscale', 'kube-system');
    const secret = find('Secret', 'smartscale-token', 'kube-system');
    assert.equal(secret.type, 'kubernetes.io/service-account-token');
    assert.equal(secret.metadata.annotations?.['kubernetes.io/service-account.name'], 'smartscale');
    assert.equal(secret.data, undefined, 'no token value is committed');
  });
  it('the ClusterRole grants exactly the contract', () => {
    const rules = find('ClusterRole', 'smartscale').rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    const grants = rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.map((res) => `${g || 'core'}/${res}: ${[...r.verbs].sort().join(',')}`))).sort();
    assert.deepEqual(grants, [
      'apps/daemonsets: get,list',
      'apps/deployments: get,list',
      'apps/replicasets: get,list',
      'apps/statefulsets: get,list',
      'core/nodes: delete,get,list,patch,watch',
      'core/pods/eviction: create',
      'core/pods: get,list,watch',
      'policy/poddisruptionbudgets: get,list',
    ]);
  });
  it('the ClusterRoleBinding ties the role to the service account', () => {
    const b = find('ClusterRoleBinding', 'smartscale');
    assert.deepEqual(b.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'smartscale' });
    assert.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: 'smartscale', namespace: 'kube-system' }]);
  });
});

describe('workloads', () => {
  it('Prometheus: StatefulSet, 20 Gi volume, 500m / 1 Gi limits, basic auth, NodePort 30090, 7 days', () => {
    const sts = find('StatefulSet', 'prometheus', 'monitoring');
    assert.equal(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage, '20Gi');
    const c = sts.spec.template.spec.containers[0];
    assert.deepEqual(c.resources.limits, { cpu: '500m', memory: '1Gi' });
    assert.ok(c.args.includes('--web.config.file=/etc/prometheus/web-config.yml'));
    assert.ok(c.args.includes('--storage.tsdb.retention.time=7d'));
    const svc = find('Service', 'prometheus', 'monitoring');
    assert.equal(svc.spec.type, 'NodePort');
    assert.equal(svc.spec.ports[0].nodePort, 30090);
  });
  it('Prometheus serves TLS with the master-made key from secret prometheus-tls; its self-scrape and Grafana verify that CA', () => {
    const sts = find('StatefulSet', 'prometheus', 'monitoring');
    const sources = sts.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'config').projected.sources as { secret?: { name: string; items: { key: string; path: string; mode?: number }[] } }[];
    const tls = sources.find((x) => x.secret?.name === 'prometheus-tls')!.secret!;
    assert.deepEqual(tls.items.map((i) => `${i.key}->${i.path}`), ['tls.crt->tls/tls.crt', 'tls.key->tls/tls.key', 'ca.crt->tls/ca.crt']);
    // `mode: 0400`: octal to Kubernetes (YAML 1.1), 400 to this YAML 1.2 parser.
    assert.ok([0o400, 400].includes(tls.items.find((i) => i.key === 'tls.key')!.mode!), 'the key is 0400');
    const prom = parse(find('ConfigMap', 'prometheus-config', 'monitoring').data['prometheus.yml'] as string);
    const self = prom.scrape_configs.find((j: { job_name: string }) => j.job_name === 'prometheus');
    assert.equal(self.scheme, 'https');
    assert.deepEqual(self.tls_config, { ca_file: '/etc/prometheus/tls/ca.crt' });
    assert.ok(!self.tls_config.insecure_skip_verify);
    const ds = parse(find('ConfigMap', 'grafana-provisioning', 'monitoring').data['datasources.yaml'] as string).datasources.find((d: { type: string }) => d.type === 'prometheus');
    assert.match(ds.url, /^https:\/\/prometheus\.monitoring\.svc\.cluster\.local:9090$/);
    assert.deepEqual(ds.jsonData, { tlsAuthWithCACert: true });
    assert.equal(ds.secureJsonData.tlsCACert, '${PROM_CA}');
    const env = find('Deployment', 'grafana', 'monitoring').spec.template.spec.containers[0].env as { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
    assert.deepEqual(env.find((e) => e.name === 'PROM_CA')!.valueFrom!.secretKeyRef, { name: 'prometheus-tls', key: 'ca.crt' });
  });
  it('kube-state-metrics Deployment and node-exporter DaemonSet on every node', () => {
    find('Deployment', 'kube-state-metrics', 'monitoring');
    const ds = find('DaemonSet', 'node-exporter', 'monitoring');
    assert.deepEqual(ds.spec.template.spec.tolerations, [{ operator: 'Exists' }]);
  });
  it('Grafana has the Prometheus data source with basic auth from a Kubernetes secret', () => {
    const prov = find('ConfigMap', 'grafana-provisioning', 'monitoring').data['datasources.yaml'] as string;
    assert.match(prov, /type: prometheus/);
    assert.match(prov, /basicAuthPassword: \$\{PROM_PASSWORD\}/);
    const env = find('Deployment', 'grafana', 'monitoring').spec.template.spec.containers[0].env as { name: string; value?: string; valueFrom?: unknown }[];
    for (const e of env.filter((x) => /PASSWORD/.test(x.name))) assert.ok(e.valueFrom && e.value === undefined, `${e.name} comes from a secret`);
  });
  it('demo app: probes /health and /ready, requests 200m / 256Mi, metrics, NodePort and a PDB', () => {
    const dep = find('Deployment', 'demo-app', 'demo');
    const c = dep.spec.template.spec.containers[0];
    assert.equal(c.livenessProbe.httpGet.path, '/health');
    assert.equal(c.readinessProbe.httpGet.path, '/ready');
    assert.deepEqual(c.resources.requests, { cpu: '200m', memory: '256Mi' });
    assert.equal(dep.spec.template.metadata.annotations['prometheus.io/scrape'], 'true');
    assert.equal(find('Service', 'demo-app', 'demo').spec.ports[0].nodePort, 30080);
    const pdb = find('PodDisruptionBudget', 'demo-app', 'demo');
    assert.deepEqual(pdb.spec.selector.matchLabels, dep.spec.selector.matchLabels);
  });
  it('no container runs privileged or may escalate privileges', () => {
    for (const d of docs.filter((x) => x.spec?.template?.spec?.containers)) {
      for (const c of d.spec.template.spec.containers) {
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${d.kind}/${d.metadata.name}/${c.name}`);
        assert.notEqual(c.securityContext?.privileged, true);
        assert.ok(c.resources?.limits, `${d.metadata.name}/${c.name} has limits`);
      }
    }
  });
});

describe('Kubernetes schema validation (offline)', () => {
  const exe = path.join(REPO_ROOT, '.venv', 'bin', 'kubernetes-validate');
  const available = fs.existsSync(exe);
  it('kubernetes-validate is installed (required in CI)', { skip: !available && process.env.CI !== 'true' && 'not installed' }, () => {
    assert.ok(available, `${exe} is required in CI (scripts/test-cdk.sh installs it)`);
  });
  const offline = spawnSync('unshare', ['-n', 'true']).status === 0;
  const validate = (files: string[]) => {
    const args = ['--strict', '--quiet', '-k', k8sMinor, ...files];
    return offline ? spawnSync('unshare', ['-n', exe, ...args], { encoding: 'utf8' }) : spawnSync(exe, args, { encoding: 'utf8' });
  };
  it(`every manifest validates strictly against Kubernetes ${k8sMinor}${offline ? ' with no network' : ''}`, { skip: !available && 'kubernetes-validate not installed' }, () => {
    const r = validate(bundle.files.map((f) => path.join(bundle.dir, f)));
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
  it('a manifest with an unknown field is rejected (the validator can fail)', { skip: !available && 'kubernetes-validate not installed' }, () => {
    const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'smartscale-bad-')), 'bad.yaml');
    fs.writeFileSync(bad, 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  type: NodePort\n  portz: []\n');
    const r = validate([bad]);
    assert.notEqual(r.status, 0, r.stdout);
  });
});
