/**
 * Names shared with the Rust functions, the state machine and the scripts. Changing one of these
 * breaks a contract with another part of SmartScale, so each lives here once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CDK_DIR } from './sources';
import { costMetricNames } from './cost-dashboard';

/**
 * What one Lambda step may touch; the stack turns each capability into least-privilege statements.
 * The capabilities of a step are not written here: they follow from the seam methods its entry in
 * `functions/contract.json` uses, the same file the Rust runtime builds the step's seams from.
 */
export const CAPABILITIES = [
  'state-read',
  'state-write',
  'k8s-secret',
  'prometheus-secret',
  'slack-secret',
  'sns-publish',
  'ec2-describe',
  'ec2-launch',
  'ec2-terminate-managed',
  'metrics-history-read',
] as const;

/** One of {@link CAPABILITIES}. */
export type Capability = (typeof CAPABILITIES)[number];

/** The seams of `functions/core` as `functions/contract.json` names them. */
export type Seam = 'store' | 'ec2' | 'cluster' | 'metrics' | 'notify' | 'history';

/** Seams whose calls go to the cluster (Kubernetes API, Prometheus): their users run in the VPC. */
const IN_VPC_SEAMS: readonly Seam[] = ['cluster', 'metrics'];

/** One Lambda step: its kebab name, the ASL substitution key, whether it talks to the cluster, and what it may do. */
export interface FunctionSpec {
  readonly name: string;
  /** `${<substitution>}` in the ASL files is replaced by the function's ARN. */
  readonly substitution: string;
  /** True when the function calls the Kubernetes API or Prometheus, so it runs inside the VPC. */
  readonly inVpc: boolean;
  /** The seam methods the step calls, from `functions/contract.json`. */
  readonly uses: Readonly<Partial<Record<Seam, readonly string[]>>>;
  /** What its role may do: the capabilities of the seam methods it uses, in {@link CAPABILITIES} order. */
  readonly capabilities: readonly Capability[];
}

/** `functions/contract.json` as parsed. */
export interface ContractFile {
  readonly seams: Record<Seam, Record<string, Capability[]>>;
  readonly capabilities: Record<Capability, string[]>;
  readonly steps: { name: string; uses: Partial<Record<Seam, string[]>> }[];
}

/** Where the step-rights contract lives (the repository's `functions/contract.json`). */
export const CONTRACT_FILE = path.join(CDK_DIR, '..', 'functions', 'contract.json');

const pascal = (kebab: string): string =>
  kebab
    .split('-')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');

/**
 * Reads and checks the contract: every capability it names is one of {@link CAPABILITIES} and
 * every step's method exists. Throws an error naming the first problem.
 */
export function readContract(file: string = CONTRACT_FILE): ContractFile {
  const c = JSON.parse(fs.readFileSync(file, 'utf8')) as ContractFile;
  const known = new Set<string>(CAPABILITIES);
  const defined = Object.keys(c.capabilities);
  const unknown = defined.filter((k) => !known.has(k));
  const missing = CAPABILITIES.filter((k) => !defined.includes(k));
  if (unknown.length > 0 || missing.length > 0) {
    throw new Error(`${file}: capabilities differ from cdk/lib/contract.ts CAPABILITIES (unknown: ${unknown.join(', ') || '-'}; missing: ${missing.join(', ') || '-'})`);
  }
  for (const step of c.steps) {
    for (const [seam, methods] of Object.entries(step.uses) as [Seam, string[]][]) {
      for (const m of methods) {
        if (!c.seams[seam]?.[m]) throw new Error(`${file}: step ${step.name} uses ${seam}.${m}, which \`seams\` does not define`);
      }
    }
  }
  return c;
}

/** The function spec of each contract entry: capabilities and VPC placement follow from its uses. */
export function functionSpecs(c: ContractFile): FunctionSpec[] {
  return c.steps.map((step) => {
    const uses = step.uses;
    const caps = new Set<Capability>();
    for (const [seam, methods] of Object.entries(uses) as [Seam, string[]][]) {
      for (const m of methods) for (const cap of c.seams[seam][m]!) caps.add(cap);
    }
    return {
      name: step.name,
      substitution: `${pascal(step.name)}FunctionArn`,
      inVpc: IN_VPC_SEAMS.some((s) => (uses[s]?.length ?? 0) > 0),
      uses,
      capabilities: CAPABILITIES.filter((k) => caps.has(k)),
    };
  });
}

/** The steps, in the order of `functions/contract.json`. */
export const FUNCTIONS: readonly FunctionSpec[] = functionSpecs(readContract());

/** Tags every SmartScale-launched worker carries (the launch template sets the static ones). */
export const TAGS = {
  project: ['Project', 'SmartScale'],
  managedBy: ['ManagedBy', 'smartscale'],
  scalingGroup: ['ScalingGroup', 'k3s-workers'],
  clusterKey: 'Cluster',
  lifecycleKey: 'Lifecycle',
  operationKey: 'smartscale/operation-id',
  roleKey: 'Role',
  masterRole: 'k3s-master',
} as const;

/** DynamoDB state table layout (docs/STATE_AND_LOCKING.md): one item per cluster, TTL `ttl`. */
export const TABLE = { partitionKey: 'cluster_id', ttlAttribute: 'ttl' } as const;

/**
 * CloudWatch namespace and dimension of the custom metrics the functions write as Embedded Metric
 * Format (docs/OPERATIONS.md, "Telemetry"). Alarms and the dashboard read
 * `{Namespace: SmartScale, ClusterId: <id>}`.
 */
export const METRICS = {
  namespace: 'SmartScale',
  clusterDimension: 'ClusterId',
  names: [
    'AutoscalerInvocations',
    'ScaleUpEvents',
    'ScaleDownEvents',
    'ScalingFailures',
    'NodeJoinLatency',
    'LambdaExecutionTime',
    'CurrentNodeCount',
    'ClusterCPUUtilization',
    'ClusterMemoryUtilization',
    'PendingPods',
    ...Object.values(costMetricNames().metrics),
    'WorkersNeeded',
    'WorkersForecast',
    'ForecastError',
  ] as readonly string[],
} as const;

/** Fixed ports: K3s API, flannel VXLAN, kubelet, Prometheus NodePort, demo app NodePort, Grafana NodePort. */
export const PORTS = {
  apiServer: 6443,
  vxlan: 8472,
  kubelet: 10250,
  prometheusNodePort: 30090,
  demoAppNodePort: 30080,
  grafanaNodePort: 30300,
} as const;
