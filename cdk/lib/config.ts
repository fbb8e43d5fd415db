/**
 * Settings of one SmartScale deployment, read once from CDK context (`cdk deploy -c key=value`)
 * and validated before any construct is built.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { CDK_DIR } from './sources';
import { EcrCredentialProviderPin, k3sBinary } from './supply-chain';

/** How the private subnets reach the internet; see docs/DEPLOYMENT_GUIDE.md for the cost trade-off. */
export type NatMode = 'per-zone' | 'single' | 'none';

/** When EventBridge starts the scaling state machine. */
export type ScheduleMode =
  /** Every 2 minutes, all day (an EventBridge rule, UTC). */
  | { kind: 'fixed'; ratePeriodMinutes: number }
  /**
   * Every 2 minutes from 09:00 to 20:59 and every 5 minutes otherwise, in `timeZone`
   * (two EventBridge Scheduler schedules, which understand IANA time zones).
   */
  | { kind: 'business-hours'; timeZone: string };

/** Where Flux pulls the cluster manifests from (see lib/gitops.ts and the README's "GitOps"). */
export interface GitOpsConfig {
  /** `https://` or `ssh://` URL of the Git repository holding this tree. */
  readonly repoUrl: string;
  readonly branch: string;
  /** Path of the kustomize tree in the repository, `./`-relative (default `./cdk/gitops`). */
  readonly path: string;
  /** Secret in flux-system with the Git credentials of a private repository, if any. */
  readonly secretName?: string;
}

/** Everything a deployment can choose; every field has a default in {@link defaultConfig}. */
export interface SmartScaleConfig {
  /** Names this cluster in tags, the state table key and the IAM tag conditions. */
  readonly clusterId: string;
  readonly natMode: NatMode;
  readonly schedule: ScheduleMode;
  /** Worker bounds the engine keeps to (MIN_NODES / MAX_NODES). */
  readonly minNodes: number;
  readonly maxNodes: number;
  /**
   * Prefix length of each node subnet, public and private, one of each per zone (context
   * `nodeSubnetCidrMask`; 24 unless the master and `maxNodes` workers need more addresses:
   * {@link nodeAddresses}). A new mask replaces the subnets and every node in them.
   */
  readonly nodeSubnetCidrMask: number;
  /** CPU percentages (SCALE_UP_THRESHOLD_CPU / SCALE_DOWN_THRESHOLD_CPU). */
  readonly scaleUpThresholdCpuPercent: number;
  readonly scaleDownThresholdCpuPercent: number;
  /** Cooldowns in seconds (COOLDOWN_SCALE_UP / COOLDOWN_SCALE_DOWN). */
  readonly cooldownScaleUpSecs: number;
  readonly cooldownScaleDownSecs: number;
  readonly masterInstanceType: string;
  /** The worker launch template's instance type: the first of {@link workerInstanceTypes}. */
  readonly workerInstanceType: string;
  /**
   * The instance types workers launch as, in preference order (WORKER_INSTANCE_TYPES; context
   * `workerInstanceType`, a comma-separated list such as `t3.small,t3a.small`); the first is the
   * baseline type of the cost metric.
   */
  readonly workerInstanceTypes: readonly string[];
  /** Launch workers as Spot first, falling back to on-demand (USE_SPOT). */
  readonly useSpot: boolean;
  /**
   * The first this many workers are on-demand (ON_DEMAND_BASE_CAPACITY); unset: the functions'
   * rule (MIN_NODES, or 0 with USE_SPOT).
   */
  readonly onDemandBaseCapacity?: number;
  /**
   * Percent of the workers above the base that are on-demand, the rest Spot
   * (ON_DEMAND_PERCENTAGE_ABOVE_BASE); unset: the functions' rule (100, or 0 with USE_SPOT).
   */
  readonly onDemandPercentageAboveBase?: number;
  /** Larger types a capped scale-up may launch instead (BURST_INSTANCE_TYPES); empty: never. */
  readonly burstInstanceTypes: readonly string[];
  /** The fixed fleet the cost metric's savings are measured against (BASELINE_NODES on-demand workers). */
  readonly baselineNodes: number;
  /** K3s release installed on the master and the workers (pinned so they always match). */
  readonly k3sVersion: string;
  /**
   * The sha256 of that release's amd64 binary when cdk/lib/supply-chain.ts does not pin it
   * (context `k3sSha256`); the nodes refuse a binary with another sum.
   */
  readonly k3sSha256?: string;
  /**
   * The kubelet ECR credential provider for workers, by version and sha256 (contexts
   * `ecrCredentialProviderVersion` and `ecrCredentialProviderSha256`, both or neither). Unset: it
   * is not installed, and pods cannot pull images from private ECR (see cdk/lib/supply-chain.ts).
   */
  readonly ecrCredentialProvider?: EcrCredentialProviderPin;
  /**
   * CIDR ranges allowed to reach the demo application NodePort 30080. Empty (the default) means
   * nothing is open to the internet.
   */
  readonly demoAppIngressCidrs: readonly string[];
  /**
   * Further settings of the functions, passed to every function's environment as given: any
   * variable functions/core/src/config documents (windows, timeouts, `LOCK_TTL`, `DASHBOARD_URL`,
   * ...) that the stack does not set itself. Context `functionSettings`: a JSON object of strings.
   */
  readonly functionSettings: Readonly<Record<string, string>>;
  /** Directory holding `<function-name>/bootstrap.zip` from `scripts/package-lambdas.sh` (`--out <dir>`). */
  readonly lambdaAssetDir: string;
  /**
   * Synth-only: use the committed placeholder asset (test/fixtures/placeholder-lambda) instead of
   * the real binaries, and the committed fixture ASL / Prometheus files when the real ones are absent.
   * Never deploy a stack synthesised with this on.
   */
  readonly synthOnlyPlaceholders: boolean;
  /** Root of the repository (statemachine/ and target/ are resolved against it). */
  readonly repoRoot: string;
  /** Flux GitOps sync; absent (the default) leaves the stack exactly as without it. */
  readonly gitops?: GitOpsConfig;
}

/** Error raised when a context value is missing its expected shape; the message names the key. */
export class ConfigError extends Error {}

const NAME_RE = /^[a-z][a-z0-9-]{1,30}[a-z0-9]$/;
const INSTANCE_TYPE_RE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;

/**
 * The engine's defaults, `functions/engine/defaults.json` (the one source the Rust configuration
 * reads too), as the environment would hold them.
 */
export function engineDefaults(): Record<string, string> {
  return JSON.parse(fs.readFileSync(path.join(CDK_DIR, '..', 'functions', 'engine', 'defaults.json'), 'utf8')) as Record<string, string>;
}

/**
 * The instance types the price table `functions/engine/prices.json` knows (the functions refuse at
 * cold start a worker or burst type it cannot price).
 */
export function pricedInstanceTypes(): string[] {
  const table = JSON.parse(fs.readFileSync(path.join(CDK_DIR, '..', 'functions', 'engine', 'prices.json'), 'utf8')) as { instance_types: Record<string, unknown> };
  return Object.keys(table.instance_types);
}

/** A comma-separated list, trimmed, empty entries dropped. */
function list(value: unknown): string[] {
  if (value === undefined || value === '') return [];
  return (Array.isArray(value) ? value.map(String) : String(value).split(',')).map((s) => s.trim()).filter((s) => s !== '');
}

/** Defaults for every field; `repoRoot` and `lambdaAssetDir` are relative to the cdk/ folder's parent. */
export function defaultConfig(repoRoot: string): SmartScaleConfig {
  const e = engineDefaults();
  return {
    clusterId: e.CLUSTER_ID,
    natMode: 'single',
    schedule: { kind: 'fixed', ratePeriodMinutes: 2 },
    minNodes: Number(e.MIN_NODES),
    maxNodes: Number(e.MAX_NODES),
    nodeSubnetCidrMask: 24,
    scaleUpThresholdCpuPercent: Number(e.SCALE_UP_THRESHOLD_CPU),
    scaleDownThresholdCpuPercent: Number(e.SCALE_DOWN_THRESHOLD_CPU),
    cooldownScaleUpSecs: Number(e.COOLDOWN_SCALE_UP),
    cooldownScaleDownSecs: Number(e.COOLDOWN_SCALE_DOWN),
    masterInstanceType: 't3.medium',
    workerInstanceType: list(e.WORKER_INSTANCE_TYPES)[0]!,
    workerInstanceTypes: list(e.WORKER_INSTANCE_TYPES),
    useSpot: e.USE_SPOT === 'true',
    burstInstanceTypes: list(e.BURST_INSTANCE_TYPES),
    baselineNodes: Number(e.BASELINE_NODES),
    k3sVersion: 'v1.31.4+k3s1',
    demoAppIngressCidrs: [],
    functionSettings: {},
    lambdaAssetDir: `${repoRoot}/target/lambda`,
    synthOnlyPlaceholders: false,
    repoRoot,
  };
}

/** Reads a context value; `get` returns undefined for keys that are not set. */
export type ContextGetter = (key: string) => unknown;

function asInt(key: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'number' ? value : Number(String(value));
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`context ${key}: expected a non-negative integer, got ${String(value)}`);
  return n;
}

function asFlag(key: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new ConfigError(`context ${key}: expected true or false, got ${String(value)}`);
}

function asSettings(value: unknown): Record<string, string> {
  if (value === undefined || value === '') return {};
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new ConfigError(`context functionSettings: expected a JSON object, got ${value}`);
    }
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError('context functionSettings: expected a JSON object of strings');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(k)) throw new ConfigError(`context functionSettings: ${k} is not an environment variable name`);
    if (typeof v !== 'string') throw new ConfigError(`context functionSettings: ${k} must be a string, got ${JSON.stringify(v)}`);
    out[k] = v;
  }
  return out;
}

function asBool(value: unknown): boolean {
  return value === true || value === 'true' || value === '1';
}

/**
 * Builds the configuration from CDK context (and the `SMARTSCALE_SYNTH_PLACEHOLDERS` environment
 * variable for tests). Throws {@link ConfigError} naming the key when a value is invalid.
 */
export function configFromContext(get: ContextGetter, repoRoot: string, env: NodeJS.ProcessEnv = process.env): SmartScaleConfig {
  const d = defaultConfig(repoRoot);
  const clusterId = (get('clusterId') as string | undefined) ?? d.clusterId;
  if (!NAME_RE.test(clusterId)) throw new ConfigError(`context clusterId: expected lower-case letters, digits and dashes (3-32), got ${clusterId}`);
  const natMode = ((get('natMode') as string | undefined) ?? d.natMode) as NatMode;
  if (!['per-zone', 'single', 'none'].includes(natMode)) throw new ConfigError(`context natMode: expected per-zone, single or none, got ${natMode}`);
  const tz = get('businessHoursTimeZone') as string | undefined;
  const schedule: ScheduleMode = tz ? { kind: 'business-hours', timeZone: tz } : d.schedule;
  const cidrs = get('demoAppIngressCidrs');
  const demoAppIngressCidrs = cidrs === undefined || cidrs === '' ? [] : Array.isArray(cidrs) ? cidrs.map(String) : String(cidrs).split(',').map((s) => s.trim());
  for (const c of demoAppIngressCidrs) {
    if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(c)) throw new ConfigError(`context demoAppIngressCidrs: not an IPv4 CIDR: ${c}`);
  }
  const workerTypes = get('workerInstanceType') === undefined ? d.workerInstanceTypes : list(get('workerInstanceType'));
  if (workerTypes.length === 0) throw new ConfigError('context workerInstanceType: expected one instance type or a comma-separated list, got nothing');
  const optionalInt = (key: string) => (get(key) === undefined || get(key) === '' ? undefined : asInt(key, get(key), 0));
  const cfg: SmartScaleConfig = {
    ...d,
    clusterId,
    natMode,
    schedule,
    minNodes: asInt('minNodes', get('minNodes'), d.minNodes),
    maxNodes: asInt('maxNodes', get('maxNodes'), d.maxNodes),
    nodeSubnetCidrMask: asInt('nodeSubnetCidrMask', get('nodeSubnetCidrMask'), d.nodeSubnetCidrMask),
    scaleUpThresholdCpuPercent: asInt('scaleUpThresholdCpu', get('scaleUpThresholdCpu'), d.scaleUpThresholdCpuPercent),
    scaleDownThresholdCpuPercent: asInt('scaleDownThresholdCpu', get('scaleDownThresholdCpu'), d.scaleDownThresholdCpuPercent),
    cooldownScaleUpSecs: asInt('cooldownScaleUp', get('cooldownScaleUp'), d.cooldownScaleUpSecs),
    cooldownScaleDownSecs: asInt('cooldownScaleDown', get('cooldownScaleDown'), d.cooldownScaleDownSecs),
    masterInstanceType: (get('masterInstanceType') as string | undefined) ?? d.masterInstanceType,
    workerInstanceType: workerTypes[0]!,
    workerInstanceTypes: workerTypes,
    useSpot: asFlag('useSpot', get('useSpot'), d.useSpot),
    onDemandBaseCapacity: optionalInt('onDemandBaseCapacity'),
    onDemandPercentageAboveBase: optionalInt('onDemandPercentageAboveBase'),
    burstInstanceTypes: get('burstInstanceTypes') === undefined ? d.burstInstanceTypes : list(get('burstInstanceTypes')),
    baselineNodes: asInt('baselineNodes', get('baselineNodes'), d.baselineNodes),
    k3sVersion: (get('k3sVersion') as string | undefined) ?? d.k3sVersion,
    k3sSha256: get('k3sSha256') as string | undefined,
    ecrCredentialProvider: ecrProviderFromContext(get),
    demoAppIngressCidrs,
    functionSettings: asSettings(get('functionSettings')),
    lambdaAssetDir: (get('lambdaAssetDir') as string | undefined) ?? d.lambdaAssetDir,
    synthOnlyPlaceholders: asBool(get('synthOnlyPlaceholders')) || asBool(env.SMARTSCALE_SYNTH_PLACEHOLDERS),
  };
  if (cfg.minNodes < 1 || cfg.minNodes > cfg.maxNodes) throw new ConfigError(`context minNodes/maxNodes: need 1 <= minNodes (${cfg.minNodes}) <= maxNodes (${cfg.maxNodes})`);
  validateAddresses(cfg);
  if (cfg.scaleDownThresholdCpuPercent >= cfg.scaleUpThresholdCpuPercent || cfg.scaleUpThresholdCpuPercent > 100) {
    throw new ConfigError('context scaleUpThresholdCpu/scaleDownThresholdCpu: need down < up <= 100');
  }
  const typed: [string, string][] = [
    ['masterInstanceType', cfg.masterInstanceType],
    ...cfg.workerInstanceTypes.map((t): [string, string] => ['workerInstanceType', t]),
    ...cfg.burstInstanceTypes.map((t): [string, string] => ['burstInstanceTypes', t]),
  ];
  for (const [key, type] of typed) {
    if (!INSTANCE_TYPE_RE.test(type)) throw new ConfigError(`context ${key}: expected an EC2 instance type such as t3.small, got ${type}`);
  }
  validateCapacity(cfg);
  if (!/^v\d+\.\d+\.\d+\+k3s\d+$/.test(cfg.k3sVersion)) throw new ConfigError(`context k3sVersion: expected e.g. v1.31.4+k3s1, got ${cfg.k3sVersion}`);
  if (cfg.k3sSha256 !== undefined && !/^[0-9a-f]{64}$/.test(cfg.k3sSha256)) throw new ConfigError(`context k3sSha256: expected 64 lower-case hex digits, got ${cfg.k3sSha256}`);
  if (!k3sBinary(cfg.k3sVersion, cfg.k3sSha256).sha256) {
    throw new ConfigError(`context k3sVersion ${cfg.k3sVersion}: no sha256 is pinned for it in cdk/lib/supply-chain.ts; pass -c k3sSha256=<the k3s line of its release's sha256sum-amd64.txt>`);
  }
  const gitops = gitopsFromContext(get);
  return gitops ? { ...cfg, gitops } : cfg;
}

/** Availability zones the VPC spans: one public and one private node subnet in each. */
export const NODE_ZONES = 2;
/** Addresses AWS keeps in every subnet: network, router, DNS, reserved, broadcast. */
const AWS_RESERVED_PER_SUBNET = 5;
/** Addresses left in each zone's node subnet for what is not a node: the functions' and the interface endpoints' network interfaces. */
const NON_NODE_ADDRESSES_PER_ZONE = 16;
/** The largest node subnets a /16 VPC holds four of (two public, two private). */
const WIDEST_NODE_SUBNET_MASK = 18;
/** The smallest subnet worth having: 16 addresses, 11 of them usable. */
const NARROWEST_NODE_SUBNET_MASK = 28;

/** How many nodes (the master and the workers) node subnets of prefix length `mask` hold across {@link NODE_ZONES} zones. */
export function nodeAddresses(mask: number): number {
  return NODE_ZONES * Math.max(0, 2 ** (32 - mask) - AWS_RESERVED_PER_SUBNET - NON_NODE_ADDRESSES_PER_ZONE);
}

/**
 * The longest prefix (the smallest node subnets) whose {@link NODE_ZONES} node subnets hold
 * `nodes` nodes, or undefined when not even the widest allowed subnets do.
 */
export function nodeSubnetMaskFor(nodes: number): number | undefined {
  for (let mask = NARROWEST_NODE_SUBNET_MASK; mask >= WIDEST_NODE_SUBNET_MASK; mask -= 1) {
    if (nodeAddresses(mask) >= nodes) return mask;
  }
  return undefined;
}

/**
 * The node subnets must hold the master and `maxNodes` workers: beyond them EC2 refuses every
 * launch (`InsufficientFreeAddressesInSubnet`), so a configured maximum the subnets cannot reach
 * is refused at synth, naming the mask that would fit.
 */
function validateAddresses(cfg: SmartScaleConfig): void {
  const mask = cfg.nodeSubnetCidrMask;
  if (mask < WIDEST_NODE_SUBNET_MASK || mask > NARROWEST_NODE_SUBNET_MASK) {
    throw new ConfigError(`context nodeSubnetCidrMask: expected ${WIDEST_NODE_SUBNET_MASK} to ${NARROWEST_NODE_SUBNET_MASK} (the VPC is a /16 holding four node subnets), got ${mask}`);
  }
  const needed = cfg.maxNodes + 1;
  if (needed > nodeAddresses(mask)) {
    const fits = nodeSubnetMaskFor(needed);
    const hint = fits !== undefined
      ? `set context nodeSubnetCidrMask to ${fits} or lower (a new mask replaces the subnets and every node in them)`
      : `even /${WIDEST_NODE_SUBNET_MASK} subnets hold only ${nodeAddresses(WIDEST_NODE_SUBNET_MASK)}; lower maxNodes`;
    throw new ConfigError(`context maxNodes: ${cfg.maxNodes} workers and the master need ${needed} addresses, but the ${NODE_ZONES} /${mask} node subnets hold ${nodeAddresses(mask)}; ${hint}`);
  }
}

/**
 * The capacity settings as the functions validate them (functions/engine/src/config): every worker
 * and burst type priced in functions/engine/prices.json, no burst type among the worker types, the
 * on-demand base within MAX_NODES, the share a percentage, a baseline of at least one worker.
 */
function validateCapacity(cfg: SmartScaleConfig): void {
  const priced = pricedInstanceTypes();
  for (const [key, types] of [['workerInstanceType', cfg.workerInstanceTypes], ['burstInstanceTypes', cfg.burstInstanceTypes]] as const) {
    const unpriced = types.filter((t) => !priced.includes(t));
    if (unpriced.length > 0) throw new ConfigError(`context ${key}: ${unpriced.join(', ')} not in functions/engine/prices.json (it prices ${priced.join(', ')}); add the type's prices there`);
  }
  const both = cfg.burstInstanceTypes.find((t) => cfg.workerInstanceTypes.includes(t));
  if (both) throw new ConfigError(`context burstInstanceTypes: ${both} is also a worker instance type; a burst type must be a larger one`);
  if (cfg.onDemandBaseCapacity !== undefined && cfg.onDemandBaseCapacity > cfg.maxNodes) {
    throw new ConfigError(`context onDemandBaseCapacity: ${cfg.onDemandBaseCapacity} is greater than maxNodes (${cfg.maxNodes})`);
  }
  if (cfg.onDemandPercentageAboveBase !== undefined && cfg.onDemandPercentageAboveBase > 100) {
    throw new ConfigError(`context onDemandPercentageAboveBase: expected 0 to 100, got ${cfg.onDemandPercentageAboveBase}`);
  }
  if (cfg.baselineNodes < 1) throw new ConfigError(`context baselineNodes: expected at least 1, got ${cfg.baselineNodes}`);
}

/** The variables {@link capacityEnvironment} owns: set through their context keys, never through `functionSettings`. */
export const CAPACITY_VARIABLES = ['WORKER_INSTANCE_TYPES', 'BURST_INSTANCE_TYPES', 'BASELINE_NODES', 'USE_SPOT', 'ON_DEMAND_BASE_CAPACITY', 'ON_DEMAND_PERCENTAGE_ABOVE_BASE'] as const;

/**
 * The capacity settings as the functions' environment holds them: the worker and burst types and
 * the baseline always, the on-demand base and share only when set (unset, the functions derive them).
 */
export function capacityEnvironment(cfg: SmartScaleConfig): Record<string, string> {
  return {
    WORKER_INSTANCE_TYPES: cfg.workerInstanceTypes.join(','),
    BURST_INSTANCE_TYPES: cfg.burstInstanceTypes.join(','),
    BASELINE_NODES: String(cfg.baselineNodes),
    USE_SPOT: String(cfg.useSpot),
    ...(cfg.onDemandBaseCapacity === undefined ? {} : { ON_DEMAND_BASE_CAPACITY: String(cfg.onDemandBaseCapacity) }),
    ...(cfg.onDemandPercentageAboveBase === undefined ? {} : { ON_DEMAND_PERCENTAGE_ABOVE_BASE: String(cfg.onDemandPercentageAboveBase) }),
  };
}

/** The credential provider's pin: both contexts or neither; a version without its sum is refused. */
function ecrProviderFromContext(get: ContextGetter): EcrCredentialProviderPin | undefined {
  const version = get('ecrCredentialProviderVersion') as string | undefined;
  const sha256 = get('ecrCredentialProviderSha256') as string | undefined;
  if (version === undefined && sha256 === undefined) return undefined;
  if (version === undefined || sha256 === undefined) {
    throw new ConfigError('context ecrCredentialProviderVersion/ecrCredentialProviderSha256: give both (the provider is installed only when pinned by sha256) or neither');
  }
  if (!/^v\d+\.\d+\.\d+$/.test(version)) throw new ConfigError(`context ecrCredentialProviderVersion: expected e.g. v1.31.1, got ${version}`);
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new ConfigError(`context ecrCredentialProviderSha256: expected 64 lower-case hex digits, got ${sha256}`);
  return { version, sha256 };
}

function gitopsFromContext(get: ContextGetter): GitOpsConfig | undefined {
  const repoUrl = get('gitopsRepoUrl') as string | undefined;
  if (repoUrl === undefined || repoUrl === '') return undefined;
  if (!/^(https|ssh):\/\/[^\s]+$/.test(repoUrl)) throw new ConfigError(`context gitopsRepoUrl: expected an https:// or ssh:// URL, got ${repoUrl}`);
  const branch = (get('gitopsBranch') as string | undefined) ?? 'main';
  if (!/^[A-Za-z0-9._/-]+$/.test(branch)) throw new ConfigError(`context gitopsBranch: not a branch name: ${branch}`);
  const path = (get('gitopsPath') as string | undefined) ?? './cdk/gitops';
  if (!/^\.\/[A-Za-z0-9._/-]*$/.test(path) || path.split('/').includes('..')) throw new ConfigError(`context gitopsPath: expected a ./-relative path inside the repository, got ${path}`);
  const secretName = get('gitopsSecretName') as string | undefined;
  if (secretName !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(secretName)) throw new ConfigError(`context gitopsSecretName: not a Kubernetes Secret name: ${secretName}`);
  return { repoUrl, branch, path, ...(secretName ? { secretName } : {}) };
}
