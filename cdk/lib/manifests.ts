/**
 * Builds the bundle of Kubernetes manifests the master places in K3s's auto-deploy directory:
 * the static files in cdk/manifests/ plus ConfigMaps generated from the Prometheus configuration
 * and rules (cdk/prometheus/, written by the metrics work) and the Grafana dashboards
 * (cdk/dashboards/). The bundle is a directory whose name is the hash of its content, so the
 * CDK asset (and the master's user data) changes exactly when a manifest does.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { SmartScaleConfig } from './config';
import { FLUX_SYNC_FILE, fluxSyncManifest } from './gitops';
import { CDK_DIR, prometheusFile } from './sources';

/** The generated bundle: its directory, file names, and whether a synth-only fixture went into it. */
export interface ManifestBundle {
  readonly dir: string;
  readonly files: readonly string[];
  readonly placeholder: boolean;
}

/** The kustomize file in cdk/manifests (for GitOps, cdk/gitops/); it is no manifest for K3s. */
export const KUSTOMIZATION_FILE = 'kustomization.yaml';

/** cdk/manifests and cdk/dashboards. */
export const MANIFEST_SOURCE_DIR = path.join(CDK_DIR, 'manifests');
export const DASHBOARD_DIR = path.join(CDK_DIR, 'dashboards');

function configMap(name: string, namespace: string, data: Record<string, string>, labels: Record<string, string> = {}): string {
  return stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, labels: { 'app.kubernetes.io/part-of': 'smartscale', ...labels } }, data }, { lineWidth: 0 });
}

/**
 * Sets `global.external_labels.cluster` to this deployment's cluster id (the file carries the
 * seed's default). Text-level, so the file's comments survive; throws when the label is absent.
 */
export function withClusterLabel(prometheusYml: string, clusterId: string): string {
  const re = /^(\s*external_labels:\s*\n(?:\s*#.*\n)*\s+cluster:[ \t]*)(\S+)/m;
  if (!re.test(prometheusYml)) throw new Error('prometheus.yml: no global.external_labels.cluster to set');
  return prometheusYml.replace(re, `$1${clusterId}`);
}

/** Sets a dashboard's `cluster` template variable (the CloudWatch ClusterId dimension) to `clusterId`. */
export function withClusterVariable(dashboard: { templating?: { list?: Record<string, unknown>[] } }, clusterId: string): unknown {
  for (const v of dashboard.templating?.list ?? []) {
    if (v['name'] === 'cluster') {
      v['query'] = clusterId;
      v['current'] = { text: clusterId, value: clusterId };
    }
  }
  return dashboard;
}

/** The generated documents, by file name, before they are written anywhere. */
export function generatedManifests(cfg: SmartScaleConfig): { files: Record<string, string>; placeholder: boolean } {
  const promConfig = prometheusFile(cfg, 'prometheus.yml');
  const rules = prometheusFile(cfg, path.join('rules', 'smartscale-rules.yml'));
  const dashboards: Record<string, string> = {};
  for (const f of fs.readdirSync(DASHBOARD_DIR).filter((n) => n.endsWith('.json')).sort()) {
    // A malformed dashboard fails the synth here; the `cluster` variable is set to this cluster.
    dashboards[f] = JSON.stringify(withClusterVariable(JSON.parse(fs.readFileSync(path.join(DASHBOARD_DIR, f), 'utf8')), cfg.clusterId), null, 2);
  }
  const files: Record<string, string> = {
    'smartscale-31-prometheus-config.yaml': [
      configMap('prometheus-config', 'monitoring', { 'prometheus.yml': withClusterLabel(fs.readFileSync(promConfig.path, 'utf8'), cfg.clusterId) }),
      configMap('prometheus-rules', 'monitoring', { 'smartscale-rules.yml': fs.readFileSync(rules.path, 'utf8') }),
    ].join('---\n'),
    'smartscale-41-grafana-dashboards.yaml': configMap('grafana-dashboards', 'monitoring', dashboards, { 'app.kubernetes.io/name': 'grafana' }),
  };
  return { files, placeholder: promConfig.placeholder || rules.placeholder };
}

const cache = new Map<string, ManifestBundle>();

/** Writes the bundle (static + generated manifests) to a content-addressed temporary directory. */
export function buildManifestBundle(cfg: SmartScaleConfig): ManifestBundle {
  const generated = generatedManifests(cfg);
  const statics: Record<string, string> = {};
  for (const f of fs.readdirSync(MANIFEST_SOURCE_DIR).filter((n) => n.endsWith('.yaml') && n !== KUSTOMIZATION_FILE).sort()) {
    statics[f] = fs.readFileSync(path.join(MANIFEST_SOURCE_DIR, f), 'utf8');
  }
  const all: Record<string, string> = { ...generated.files, ...statics };
  if (cfg.gitops) all[FLUX_SYNC_FILE] = fluxSyncManifest(cfg.gitops, statics);
  const names = Object.keys(all).sort();
  const hash = crypto.createHash('sha256');
  for (const n of names) hash.update(n).update('\0').update(all[n]!).update('\0');
  const digest = hash.digest('hex').slice(0, 16);
  const cached = cache.get(digest);
  if (cached) return cached;
  const dir = path.join(os.tmpdir(), `smartscale-manifests-${digest}`);
  fs.mkdirSync(dir, { recursive: true });
  for (const n of names) fs.writeFileSync(path.join(dir, n), all[n]!);
  const bundle = { dir, files: names, placeholder: generated.placeholder };
  cache.set(digest, bundle);
  return bundle;
}
