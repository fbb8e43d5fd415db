/**
 * GitOps (opt-in, `-c gitopsRepoUrl=...`): the Flux `GitRepository` and `Kustomization` that make
 * the cluster apply `cdk/gitops/` (the kustomize tree of cdk/manifests, cdk/prometheus and
 * cdk/dashboards) from a Git repository, so a push changes the cluster. The master places them in
 * K3s's auto-deploy directory with the rest of the bundle; Flux itself is installed by hand (README,
 * "GitOps").
 *
 * Values known only at deploy time (`__DEMO_APP_IMAGE__`, `__AWS_REGION__`: the master substitutes
 * them in every bundle file at boot) cannot come from Git. The Kustomization therefore carries one
 * JSON 6902 `replace` per manifest field holding such a placeholder, with the field's value from
 * the manifest; the master's substitution turns it into the deployed value. Those fields follow
 * the stack, every other field follows Git.
 */
import { parseAllDocuments, stringify } from 'yaml';
import { GitOpsConfig } from './config';

/** The bundle file holding the Flux objects (applied after every other SmartScale manifest). */
export const FLUX_SYNC_FILE = 'smartscale-90-flux-sync.yaml';
/** Namespace Flux's own installation creates; its objects live there. */
export const FLUX_NAMESPACE = 'flux-system';
/** Name of both Flux objects. */
export const FLUX_OBJECT_NAME = 'smartscale';

/** A deploy-time placeholder the master substitutes at boot. */
const PLACEHOLDER = /__[A-Z][A-Z0-9_]*__/;

/** One Flux Kustomization patch: a JSON 6902 document and the object it applies to. */
export interface FluxPatch {
  readonly target: { group?: string; version: string; kind: string; name: string; namespace?: string };
  /** JSON of the operations (`[{"op": "replace", "path": ..., "value": ...}]`). */
  readonly patch: string;
}

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

const pointerPart = (k: string | number) => String(k).replace(/~/g, '~0').replace(/\//g, '~1');

/** Every `[JSON pointer, value]` under `node` whose string value holds a placeholder. */
function placeholderFields(node: unknown, at: string): [string, string][] {
  if (typeof node === 'string') return PLACEHOLDER.test(node) ? [[at, node]] : [];
  if (Array.isArray(node)) return node.flatMap((v, i) => placeholderFields(v, `${at}/${i}`));
  if (node && typeof node === 'object') return Object.entries(node).flatMap(([k, v]) => placeholderFields(v, `${at}/${pointerPart(k)}`));
  return [];
}

/** The patches that put back the deploy-time fields of the static manifests (file name to YAML text). */
export function deployTimePatches(manifests: Record<string, string>): FluxPatch[] {
  const patches: FluxPatch[] = [];
  for (const name of Object.keys(manifests).sort()) {
    for (const d of parseAllDocuments(manifests[name]!)) {
      const doc = d.toJS() as Manifest | null;
      if (!doc) continue;
      const ops = placeholderFields(doc, '').map(([path, value]) => ({ op: 'replace', path, value }));
      if (ops.length === 0) continue;
      const [group, version] = doc.apiVersion.includes('/') ? doc.apiVersion.split('/') : [undefined, doc.apiVersion];
      patches.push({
        target: { ...(group ? { group } : {}), version: version!, kind: doc.kind, name: doc.metadata.name, ...(doc.metadata.namespace ? { namespace: doc.metadata.namespace } : {}) },
        patch: JSON.stringify(ops),
      });
    }
  }
  return patches;
}

/** The Flux `GitRepository` and `Kustomization` as one YAML file for the bundle. */
export function fluxSyncManifest(g: GitOpsConfig, staticManifests: Record<string, string>): string {
  const metadata = { name: FLUX_OBJECT_NAME, namespace: FLUX_NAMESPACE, labels: { 'app.kubernetes.io/part-of': 'smartscale' } };
  const repo = {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata,
    spec: {
      interval: '1m',
      url: g.repoUrl,
      ref: { branch: g.branch },
      ...(g.secretName ? { secretRef: { name: g.secretName } } : {}),
    },
  };
  const kustomization = {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata,
    spec: {
      interval: '10m',
      retryInterval: '2m',
      timeout: '5m',
      path: g.path,
      prune: true,
      sourceRef: { kind: 'GitRepository', name: FLUX_OBJECT_NAME },
      patches: deployTimePatches(staticManifests),
    },
  };
  return [repo, kustomization].map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}
