/**
 * cdk-nag AwsSolutions suppressions. Each one names the finding it covers (IAM5 findings one
 * resource pattern at a time, never a blanket rule) and says why it stands; the CDK tests check
 * the facts each reason relies on (see docs/SECURITY_CHECKLIST.md).
 */
import { Stack } from 'aws-cdk-lib';
import { NagPackSuppression, NagSuppressions } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { FUNCTIONS } from './contract';

/**
 * Actions that AWS authorises only against Resource "*" (no resource-level permissions), the only
 * actions SmartScale grants on "*". The CDK tests assert that every "*"-resource statement uses
 * nothing else.
 */
export const ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS: readonly string[] = [
  'ec2:DescribeInstances',
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
  'ecr:GetAuthorizationToken',
  'cloudwatch:GetMetricData',
  'cloudwatch:ListMetrics',
  'cloudwatch:GetMetricStatistics',
  'ssm:UpdateInstanceInformation',
  'ssmmessages:CreateControlChannel',
  'ssmmessages:CreateDataChannel',
  'ssmmessages:OpenControlChannel',
  'ssmmessages:OpenDataChannel',
  // Step Functions log delivery and X-Ray tracing (added by CDK for logging and tracing).
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
];

const STAR_REASON =
  'Resource "*" only for actions that support no resource-level permissions (EC2 Describe*, Lambda VPC ENI management, ' +
  'ECR GetAuthorizationToken, CloudWatch metric reads, SSM Session Manager channels, Step Functions log delivery and X-Ray); ' +
  'test "every * resource is an action without resource-level permissions" enforces it.';

const EC2_NEW_RESOURCES_REASON =
  'fleet/instance/volume/network-interface/spot-request/image IDs do not exist before launch, so they cannot be named: ' +
  'CreateFleet and RunInstances are conditioned on ec2:LaunchTemplate = the worker template, CreateTags on ec2:CreateAction = RunInstances or CreateFleet, ' +
  'TerminateInstances on the tags ManagedBy=smartscale and Cluster=<id> (asserted by the CDK tests).';

const ec2NewResources = { regex: '/^Resource::arn:<AWS::Partition>:ec2:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|[0-9]{12})?:(fleet|instance|volume|network-interface|spot-instances-request|image)\\/\\*$/g' };

function suppress(scope: IConstruct, rules: NagPackSuppression[]): void {
  NagSuppressions.addResourceSuppressions(scope, rules, true);
}

function child(stack: Stack, id: string): IConstruct {
  const c = stack.node.tryFindChild(id);
  if (!c) throw new Error(`nag suppression target ${id} not found in ${stack.stackName}`);
  return c;
}

/** Applies every suppression SmartScale needs to `stack` (built by SmartScaleStack). */
export function applyNagSuppressions(stack: Stack): void {
  const rotation = (why: string): NagPackSuppression[] => [{ id: 'AwsSolutions-SMG4', reason: `No automatic rotation: ${why}` }];
  suppress(child(stack, 'K3sJoinToken'), rotation('the value is the token K3s generated; rotating it means `k3s token rotate` on the master, a manual, documented procedure (docs/SECURITY_CHECKLIST.md).'));
  suppress(child(stack, 'K8sApiCredentials'), rotation('the master writes the service-account token; rotate by deleting the smartscale-token Secret in the cluster and re-running the master bootstrap (documented).'));
  suppress(child(stack, 'SlackWebhook'), rotation('the webhook URL is issued by Slack; Secrets Manager cannot rotate it.'));
  suppress(child(stack, 'PrometheusBasicAuth'), rotation('Prometheus reads a bcrypt hash made at master bootstrap; rotate with put-secret-value and a re-run of the bootstrap (documented).'));
  suppress(child(stack, 'GrafanaAdmin'), rotation('Grafana reads the password at start; rotate with put-secret-value and a re-run of the bootstrap (documented).'));

  suppress(child(stack, 'WeeklyReportDeadLetters'), [
    { id: 'AwsSolutions-SQS3', reason: 'This queue is the dead-letter queue of the weekly-report schedule (EventBridge Scheduler); a dead-letter queue has none of its own.' },
  ]);

  for (const id of ['WorkerRole', 'MasterRole']) {
    suppress(child(stack, id), [{ id: 'AwsSolutions-IAM5', reason: STAR_REASON, appliesTo: ['Resource::*'] }]);
  }
  for (const f of FUNCTIONS) {
    const role = child(stack, `${f.substitution.replace(/FunctionArn$/, '')}Role`);
    const rules: NagPackSuppression[] = [];
    if (f.inVpc || f.capabilities.includes('ec2-describe') || f.capabilities.includes('metrics-history-read')) rules.push({ id: 'AwsSolutions-IAM5', reason: STAR_REASON, appliesTo: ['Resource::*'] });
    if (f.capabilities.includes('ec2-launch') || f.capabilities.includes('ec2-terminate-managed')) {
      rules.push({ id: 'AwsSolutions-IAM5', reason: EC2_NEW_RESOURCES_REASON, appliesTo: [ec2NewResources] });
    }
    if (rules.length > 0) suppress(role, rules);
  }
  for (const id of ['ScalingStateMachine', 'SpotInterruptionStateMachine']) {
    suppress(child(stack, id), [
      { id: 'AwsSolutions-IAM5', reason: STAR_REASON, appliesTo: ['Resource::*'] },
      {
        id: 'AwsSolutions-IAM5',
        reason: 'lambda:InvokeFunction on "<function ARN>:*" covers versions and aliases of the same SmartScale function only (CDK grantInvoke).',
        appliesTo: [{ regex: '/^Resource::<[A-Za-z]+Function[0-9A-F]{8}\\.Arn>:\\*$/g' }],
      },
    ]);
  }
}
