/**
 * Names shared with the Rust functions, the state machine and the scripts. Changing one of these
 * breaks a contract with another part of SmartScale, so each lives here once.
 */

/** What one Lambda step may touch; the stack turns each capability into one least-privilege statement. */
export type Capability =
  | 'state-read'
  | 'state-write'
  | 'state-put'
  | 'k8s-secret'
  | 'prometheus-secret'
  | 'slack-secret'
  | 'sns-publish'
  | 'ec2-describe'
  | 'ec2-launch'
  | 'ec2-terminate-managed';

/** One Lambda step: its kebab name, the ASL substitution key, whether it talks to the cluster, and what it may do. */
export interface FunctionSpec {
  readonly name: string;
  /** `${<substitution>}` in the ASL files is replaced by the function's ARN. */
  readonly substitution: string;
  /** True when the function calls the Kubernetes API or Prometheus, so it runs inside the VPC. */
  readonly inVpc: boolean;
  readonly capabilities: readonly Capability[];
}

const pascal = (kebab: string): string =>
  kebab
    .split('-')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');

function spec(name: string, inVpc: boolean, capabilities: Capability[]): FunctionSpec {
  return { name, substitution: `${pascal(name)}FunctionArn`, inVpc, capabilities };
}

const LOCK: Capability[] = ['state-read', 'state-write'];

/** The fourteen steps, in the order the design lists them. */
export const FUNCTIONS: readonly FunctionSpec[] = [
  spec('acquire-lock', false, LOCK),
  spec('evaluate', true, ['state-read', 'state-write', 'k8s-secret', 'prometheus-secret', 'ec2-describe']),
  spec('launch-nodes', false, ['state-write', 'ec2-launch', 'ec2-describe', 'slack-secret', 'sns-publish']),
  spec('check-nodes-ready', true, ['k8s-secret', 'ec2-describe', 'state-write']),
  spec('handle-join-failure', true, ['ec2-terminate-managed', 'ec2-describe', 'k8s-secret', 'state-write']),
  spec('cordon-node', true, ['k8s-secret', 'state-write']),
  spec('drain-node', true, ['k8s-secret', 'state-write']),
  spec('abort-drain', true, ['k8s-secret', 'state-write']),
  spec('terminate-node', true, ['ec2-terminate-managed', 'ec2-describe', 'k8s-secret', 'state-write']),
  spec('record-outcome', false, LOCK),
  spec('notify', false, ['slack-secret', 'sns-publish']),
  spec('release-lock', false, LOCK),
  spec('cleanup', false, [...LOCK, 'slack-secret', 'sns-publish']),
  spec('spot-interruption', true, ['k8s-secret', 'state-write', 'ec2-launch', 'ec2-describe']),
];

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

/** DynamoDB state table layout (issue 3): one item per cluster, TTL attribute `ttl`. */
export const TABLE = { partitionKey: 'cluster_id', ttlAttribute: 'ttl' } as const;

/**
 * CloudWatch namespace and dimension of the custom metrics the functions write as Embedded Metric
 * Format (issue 7). Alarms and the dashboard read `{Namespace: SmartScale, ClusterId: <id>}`.
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
    'EstimatedHourlyCost',
  ],
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
