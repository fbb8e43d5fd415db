/**
 * GitOps: `kubectl kustomize cdk/gitops` renders exactly the objects of the CDK app's bundle for
 * K3s (so Flux and the master's auto-deploy agree), the opt-in Flux objects carry the settings and
 * put back every deploy-time value, and without the opt-in nothing changes.
 *
 * The rendered tree comes from `SMARTSCALE_GITOPS_RENDERED` (written by scripts/test-cdk.sh with
 * Debian's kubectl) or from `$KUBECTL kustomize`; without either the comparison is skipped locally
 * and fails in CI.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { ConfigError, configFromContext } from '../lib/config';
import { FLUX_NAMESPACE, FLUX_OBJECT_NAME, FLUX_SYNC_FILE, FluxPatch, deployTimePatches } from '../lib/gitops';
import { KUSTOMIZATION_FILE, MANIFEST_SOURCE_DIR, buildManifestBundle } from '../lib/manifests';
import { CDK_DIR } from '../lib/sources';
import { REPO_ROOT, synthCached } from './helpers';

type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; data?: Record<string, string>; spec?: any };
/** YAML 1.1, as Kubernetes reads it (`mode: 0400` is octal there). */
const parseDocs = (text: string): Doc[] => parseAllDocuments(text, { version: '1.1' }).map((d) => d.toJS() as Doc).filter((d) => d);
const keyOf = (d: Doc) => `${d.kind} ${d.metadata.namespace ?? ''}/${d.metadata.name}`;
const ctx = (c: Record<string, string>) => (k: string) => c[k];
const cfg = configFromContext(ctx({}), REPO_ROOT, { SMARTSCALE_SYNTH_PLACEHOLDERS: '1' });
const bundleDocs = (b: ReturnType<typeof buildManifestBundle>, skip: string[] = []) =>
  b.files.filter((f) => !skip.includes(f)).flatMap((f) => parseDocs(fs.readFileSync(path.join(b.dir, f), 'utf8')));
/** What the master does to every bundle file at boot (cdk/userdata/master.sh). */
const substitute = (text: string) => text.replace(/__DEMO_APP_IMAGE__/g, '111111111111.dkr.ecr.eu-west-1.amazonaws.com/demo:latest').replace(/__AWS_REGION__/g, 'eu-west-1');

/** Dashboards are JSON inside a ConfigMap: the bundle re-serialises them, so compare them parsed. */
function normalised(d: Doc): Doc {
  if (d.kind !== 'ConfigMap' || d.metadata.name !== 'grafana-dashboards') return d;
  return { ...d, data: Object.fromEntries(Object.entries(d.data ?? {}).map(([k, v]) => [k, JSON.parse(v)])) as any };
}

function rendered(): string | undefined {
  const file = process.env['SMARTSCALE_GITOPS_RENDERED'];
  if (file) return fs.readFileSync(file, 'utf8');
  const r = spawnSync(process.env['KUBECTL'] ?? 'kubectl', ['kustomize', path.join(CDK_DIR, 'gitops')], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : undefined;
}

/** Applies the JSON 6902 `replace` operations of the patches to the documents they target. */
function applyPatches(docs: Doc[], patches: readonly FluxPatch[]): Doc[] {
  const out = structuredClone(docs);
  for (const p of patches) {
    const target = out.find((d) => d.kind === p.target.kind && d.metadata.name === p.target.name && (d.metadata.namespace ?? undefined) === p.target.namespace);
    assert.ok(target, `patch target ${p.target.kind} ${p.target.namespace}/${p.target.name} exists in the tree`);
    assert.equal(target.apiVersion, p.target.group ? `${p.target.group}/${p.target.version}` : p.target.version);
    for (const op of JSON.parse(p.patch) as { op: string; path: string; value: string }[]) {
      assert.equal(op.op, 'replace');
      const parts = op.path.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
      let node: any = target;
      for (const k of parts.slice(0, -1)) node = node[k];
      assert.ok(parts.at(-1)! in node, `${op.path} exists in ${keyOf(target)}`);
      node[parts.at(-1)!] = op.value;
    }
  }
  return out;
}

describe('GitOps kustomize tree', () => {
  it('cdk/manifests/kustomization.yaml lists every manifest there, and the K3s bundle leaves it out', () => {
    const k = parseDocs(fs.readFileSync(path.join(MANIFEST_SOURCE_DIR, KUSTOMIZATION_FILE), 'utf8'))[0] as unknown as { resources: string[] };
    const files = fs.readdirSync(MANIFEST_SOURCE_DIR).filter((f) => f.endsWith('.yaml') && f !== KUSTOMIZATION_FILE).sort();
    assert.deepEqual([...k.resources].sort(), files);
    assert.ok(!buildManifestBundle(cfg).files.includes(KUSTOMIZATION_FILE));
  });

  const text = rendered();
  it('a rendering of cdk/gitops is available (required in CI)', { skip: !text && process.env['CI'] !== 'true' && 'no kubectl' }, () => {
    assert.ok(text, 'set SMARTSCALE_GITOPS_RENDERED or KUBECTL (scripts/test-cdk.sh does)');
  });
  it('kubectl kustomize cdk/gitops renders the objects of the CDK bundle, field for field', { skip: !text && 'no rendering' }, () => {
    const tree = new Map(parseDocs(text!).map((d) => [keyOf(d), normalised(d)]));
    const bundle = new Map(bundleDocs(buildManifestBundle(cfg)).map((d) => [keyOf(d), normalised(d)]));
    assert.deepEqual([...tree.keys()].sort(), [...bundle.keys()].sort());
    for (const [k, d] of bundle) assert.deepEqual(tree.get(k), d, k);
  });
  it('with the stack\'s patches and the boot-time substitution, Flux applies what the master applies', { skip: !text && 'no rendering' }, () => {
    const on = configFromContext(ctx({ gitopsRepoUrl: 'https://git.example/shop/smartscale.git' }), REPO_ROOT, { SMARTSCALE_SYNTH_PLACEHOLDERS: '1' });
    const b = buildManifestBundle(on);
    const flux = parseDocs(substitute(fs.readFileSync(path.join(b.dir, FLUX_SYNC_FILE), 'utf8')));
    const patches = flux.find((d) => d.kind === 'Kustomization')!.spec.patches as FluxPatch[];
    assert.ok(patches.length >= 2, 'the demo image and the Grafana region at least');
    const applied = applyPatches(parseDocs(text!), patches).map(normalised);
    const master = bundleDocs(b, [FLUX_SYNC_FILE]).map((d) => normalised(parseDocs(substitute(JSON.stringify(d)))[0]!));
    assert.deepEqual(new Map(applied.map((d) => [keyOf(d), d])), new Map(master.map((d) => [keyOf(d), d])));
    assert.doesNotMatch(JSON.stringify(applied), /__[A-Z_]+__/, 'no placeholder left for Flux to apply');
  });
});

describe('Flux objects (opt-in)', () => {
  it('off by default: no Flux file, the bundle is the static and generated manifests only', () => {
    assert.equal(cfg.gitops, undefined);
    const names = buildManifestBundle(cfg).files;
    assert.ok(!names.includes(FLUX_SYNC_FILE));
    const statics = fs.readdirSync(MANIFEST_SOURCE_DIR).filter((f) => f.endsWith('.yaml') && f !== KUSTOMIZATION_FILE);
    assert.equal(names.length, statics.length + 2);
  });
  it('on: a GitRepository and a Kustomization in flux-system with the configured source', () => {
    const on = configFromContext(ctx({ gitopsRepoUrl: 'ssh://git@git.example/shop/smartscale.git', gitopsBranch: 'release/1', gitopsPath: './clusters/eu', gitopsSecretName: 'smartscale-git' }), REPO_ROOT, {});
    const b = buildManifestBundle(on);
    assert.ok(b.files.includes(FLUX_SYNC_FILE));
    const [repo, ks] = parseDocs(fs.readFileSync(path.join(b.dir, FLUX_SYNC_FILE), 'utf8'));
    assert.deepEqual([repo!.apiVersion, repo!.kind, repo!.metadata.namespace, repo!.metadata.name], ['source.toolkit.fluxcd.io/v1', 'GitRepository', FLUX_NAMESPACE, FLUX_OBJECT_NAME]);
    assert.deepEqual(repo!.spec, { interval: '1m', url: 'ssh://git@git.example/shop/smartscale.git', ref: { branch: 'release/1' }, secretRef: { name: 'smartscale-git' } });
    assert.deepEqual([ks!.apiVersion, ks!.kind, ks!.metadata.namespace], ['kustomize.toolkit.fluxcd.io/v1', 'Kustomization', FLUX_NAMESPACE]);
    assert.equal(ks!.spec.path, './clusters/eu');
    assert.equal(ks!.spec.prune, true);
    assert.deepEqual(ks!.spec.sourceRef, { kind: 'GitRepository', name: FLUX_OBJECT_NAME });
    for (const k of ['interval', 'timeout', 'retryInterval']) assert.match(ks!.spec[k], /^\d+[smh]$/, k);
  });
  it('one replace per placeholder field, with the field\'s path and manifest value', () => {
    const patches = deployTimePatches({
      'a.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec: {template: {spec: {containers: [{name: c, image: __IMG__}]}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\ndata: {x: "1"}\n',
      'b.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {"a/b.yaml": "region: __REGION__\\n"}\n',
    });
    assert.deepEqual(patches, [
      { target: { group: 'apps', version: 'v1', kind: 'Deployment', name: 'web', namespace: 'shop' }, patch: JSON.stringify([{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: '__IMG__' }]) },
      { target: { version: 'v1', kind: 'ConfigMap', name: 'cm' }, patch: JSON.stringify([{ op: 'replace', path: '/data/a~1b.yaml', value: 'region: __REGION__\n' }]) },
    ]);
  });
  it('on, the stack differs from the default only in the manifest bundle it ships', () => {
    const hashes = (b: ReturnType<typeof buildManifestBundle>) => path.basename(b.dir).replace('smartscale-manifests-', '');
    const off = JSON.stringify(synthCached().json);
    const onCfg = { gitopsRepoUrl: 'https://git.example/shop/smartscale.git' };
    const on = JSON.stringify(synthCached(onCfg).json);
    assert.notEqual(on, off);
    const assetOf = (t: string) => [...new Set([...t.matchAll(/[0-9a-f]{64}\.zip/g)].map((m) => m[0]))];
    const offAssets = assetOf(off);
    const onAssets = assetOf(on);
    const changed = onAssets.filter((a) => !offAssets.includes(a));
    assert.equal(changed.length, 1, 'one asset differs: the manifests');
    const gone = offAssets.filter((a) => !onAssets.includes(a));
    assert.equal(on.replaceAll(changed[0]!, gone[0]!), off);
    assert.notEqual(hashes(buildManifestBundle(cfg)), hashes(buildManifestBundle(configFromContext(ctx(onCfg), REPO_ROOT, {}))));
  });
  const bad: [string, Record<string, string>, RegExp][] = [
    ['not a URL', { gitopsRepoUrl: 'git.example/x' }, /gitopsRepoUrl/],
    ['path leaving the repository', { gitopsRepoUrl: 'https://g/x', gitopsPath: './a/../../etc' }, /gitopsPath/],
    ['path not ./-relative', { gitopsRepoUrl: 'https://g/x', gitopsPath: 'cdk/gitops' }, /gitopsPath/],
    ['branch with a space', { gitopsRepoUrl: 'https://g/x', gitopsBranch: 'a b' }, /gitopsBranch/],
    ['secret name with capitals', { gitopsRepoUrl: 'https://g/x', gitopsSecretName: 'Git' }, /gitopsSecretName/],
  ];
  for (const [name, c, re] of bad) {
    it(`rejects ${name}`, () => assert.throws(() => configFromContext(ctx(c), REPO_ROOT, {}), (e: unknown) => e instanceof ConfigError && re.test(e.message)));
  }
});
