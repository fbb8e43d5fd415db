/**
 * The SmartScale stack: network, K3s master and worker launch template, state table, secrets,
 * alert topic, one Lambda per step, the state machines with their triggers, alarms, dashboard
 * and the demo application's container registry.
 */
import * as fs from 'node:fs';
import { CfnCondition, CfnOutput, CfnParameter, Duration, Fn, RemovalPolicy, Stack, StackProps, Tags } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { CAPACITY_VARIABLES, NODE_ZONES, SmartScaleConfig, capacityEnvironment, engineDefaults } from './config';
import { Capability, FUNCTIONS, FunctionSpec, PORTS, TABLE, TAGS } from './contract';
import { buildManifestBundle } from './manifests';
import { addMonitoring } from './monitoring';
import { lambdaAsset, stateMachineDefinition } from './sources';
import { ecrCredentialProvider, k3sBinary } from './supply-chain';
import { renderUserData } from './userdata';
import { addWeeklyReportSchedule } from './weekly-report';

/** Props of {@link SmartScaleStack}: the validated configuration. */
export interface SmartScaleStackProps extends StackProps {
  readonly config: SmartScaleConfig;
}

/** What the account (its administrators' IAM policies) may do with the alert key: named actions, no wildcard. */
export const KEY_ADMIN_ACTIONS = [
  'kms:CancelKeyDeletion', 'kms:CreateAlias', 'kms:CreateGrant', 'kms:Decrypt', 'kms:DeleteAlias', 'kms:DescribeKey',
  'kms:DisableKey', 'kms:DisableKeyRotation', 'kms:EnableKey', 'kms:EnableKeyRotation', 'kms:Encrypt', 'kms:GenerateDataKey',
  'kms:GetKeyPolicy', 'kms:GetKeyRotationStatus', 'kms:ListAliases', 'kms:ListGrants', 'kms:ListKeyPolicies', 'kms:ListResourceTags',
  'kms:PutKeyPolicy', 'kms:RetireGrant', 'kms:RevokeGrant', 'kms:ScheduleKeyDeletion', 'kms:TagResource', 'kms:UntagResource',
  'kms:UpdateAlias', 'kms:UpdateKeyDescription',
];

/**
 * The definition text of `file` with the machine's overall `TimeoutSeconds` set from `timeout`
 * (right after `StartAt`). The stack owns that value: `StateMachine`'s `timeout` does not reach a
 * definition given as a string, and a definition file that sets its own fails the synth, as does
 * malformed JSON (the message names the file).
 */
export function withTimeout(file: string, text: string, timeout: Duration): string {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  if ('TimeoutSeconds' in parsed) throw new Error(`${file}: TimeoutSeconds is set by the stack (the state machine's timeout), remove it from the file`);
  const { Comment, StartAt, ...rest } = parsed;
  return JSON.stringify({ Comment, StartAt, TimeoutSeconds: timeout.toSeconds(), ...rest }, null, 2);
}

/** The deployable SmartScale system for one cluster. */
export class SmartScaleStack extends Stack {
  /** Every Lambda step, keyed by its kebab name. */
  public readonly functions: Record<string, lambda.Function> = {};
  /** True when any input was a synth-only placeholder (tests); such a template must not be deployed. */
  public readonly usesPlaceholders: boolean;

  constructor(scope: Construct, id: string, props: SmartScaleStackProps) {
    super(scope, id, props);
    const cfg = props.config;
    const prefix = `smartscale-${cfg.clusterId}`;
    Tags.of(this).add(TAGS.project[0], TAGS.project[1]);
    Tags.of(this).add(TAGS.clusterKey, cfg.clusterId);
    let placeholders = false;

    // ---------------------------------------------------------------- network
    const natGateways = cfg.natMode === 'per-zone' ? 2 : cfg.natMode === 'single' ? 1 : 0;
    const privateType = natGateways > 0 ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED;
    const flowLogGroup = new logs.LogGroup(this, 'VpcFlowLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.0.0.0/16'),
      maxAzs: NODE_ZONES,
      natGateways,
      subnetConfiguration: [
        // Without NAT the nodes live in the public subnets and need a public address for egress;
        // their security groups still admit nothing from the internet.
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: cfg.nodeSubnetCidrMask, mapPublicIpOnLaunch: cfg.natMode === 'none' },
        { name: 'private', subnetType: privateType, cidrMask: cfg.nodeSubnetCidrMask },
      ],
      gatewayEndpoints: {
        DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
      },
      flowLogs: {
        Rejected: { trafficType: ec2.FlowLogTrafficType.REJECT, destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup) },
      },
    });
    const nodeSubnets: ec2.SubnetSelection = { subnetType: cfg.natMode === 'none' ? ec2.SubnetType.PUBLIC : privateType };
    const lambdaSubnets: ec2.SubnetSelection = { subnetType: privateType };

    const masterSg = new ec2.SecurityGroup(this, 'MasterSg', { vpc, description: 'K3s master: API from workers and SmartScale Lambdas only', allowAllOutbound: true });
    const workerSg = new ec2.SecurityGroup(this, 'WorkerSg', { vpc, description: 'K3s workers: cluster traffic from the master and each other', allowAllOutbound: true });
    const lambdaSg = new ec2.SecurityGroup(this, 'LambdaSg', { vpc, description: 'SmartScale Lambdas that call the K3s API and Prometheus', allowAllOutbound: false });
    masterSg.addIngressRule(workerSg, ec2.Port.tcp(PORTS.apiServer), 'K3s API from workers');
    masterSg.addIngressRule(lambdaSg, ec2.Port.tcp(PORTS.apiServer), 'K3s API from SmartScale Lambdas');
    masterSg.addIngressRule(lambdaSg, ec2.Port.tcp(PORTS.prometheusNodePort), 'Prometheus NodePort from SmartScale Lambdas');
    masterSg.addIngressRule(workerSg, ec2.Port.udp(PORTS.vxlan), 'flannel VXLAN from workers');
    masterSg.addIngressRule(workerSg, ec2.Port.tcp(PORTS.kubelet), 'kubelet from workers');
    workerSg.addIngressRule(masterSg, ec2.Port.udp(PORTS.vxlan), 'flannel VXLAN from the master');
    workerSg.addIngressRule(workerSg, ec2.Port.udp(PORTS.vxlan), 'flannel VXLAN between workers');
    workerSg.addIngressRule(masterSg, ec2.Port.tcp(PORTS.kubelet), 'kubelet (logs, exec, metrics) from the master');
    workerSg.addIngressRule(masterSg, ec2.Port.tcp(9100), 'node-exporter scraped by Prometheus on the master');
    lambdaSg.addEgressRule(masterSg, ec2.Port.tcp(PORTS.apiServer), 'K3s API');
    lambdaSg.addEgressRule(masterSg, ec2.Port.tcp(PORTS.prometheusNodePort), 'Prometheus');
    lambdaSg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'AWS APIs (through NAT or VPC endpoints)');
    for (const cidr of cfg.demoAppIngressCidrs) {
      workerSg.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(PORTS.demoAppNodePort), 'demo app NodePort (opted in)');
      masterSg.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(PORTS.demoAppNodePort), 'demo app NodePort (opted in)');
    }
    if (cfg.natMode === 'none') {
      // Lambdas in isolated subnets reach Secrets Manager and EC2 through interface endpoints.
      const endpointSg = new ec2.SecurityGroup(this, 'EndpointSg', { vpc, description: 'Interface endpoints: HTTPS from SmartScale Lambdas', allowAllOutbound: false });
      endpointSg.addIngressRule(lambdaSg, ec2.Port.tcp(443), 'HTTPS from SmartScale Lambdas');
      for (const [name, service] of [
        ['SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
        ['Ec2', ec2.InterfaceVpcEndpointAwsService.EC2],
      ] as const) {
        vpc.addInterfaceEndpoint(`${name}Endpoint`, { service, subnets: lambdaSubnets, securityGroups: [endpointSg], open: false });
      }
    }

    // ---------------------------------------------------------------- secrets, state, alerts
    const secret = (id: string, description: string, template?: { json: string; key: string }) =>
      new secretsmanager.Secret(this, id, {
        description,
        removalPolicy: RemovalPolicy.DESTROY,
        generateSecretString: template
          ? { secretStringTemplate: template.json, generateStringKey: template.key, excludePunctuation: true, passwordLength: 32 }
          : { excludePunctuation: true, passwordLength: 32 },
      });
    const k3sToken = secret('K3sJoinToken', `SmartScale ${cfg.clusterId}: K3s join token (written by the master at boot; a random placeholder until then)`);
    const k8sCredentials = secret('K8sApiCredentials', `SmartScale ${cfg.clusterId}: K3s API server, CA and smartscale service-account token as JSON (written by the master)`);
    const slackWebhook = secret('SlackWebhook', `SmartScale ${cfg.clusterId}: Slack incoming-webhook URL (set it after deploy; a placeholder means Slack is off)`);
    const prometheusAuth = secret('PrometheusBasicAuth', `SmartScale ${cfg.clusterId}: Prometheus basic-auth credentials and the CA certificate of its TLS endpoint (added by the master)`, { json: '{"username":"smartscale"}', key: 'password' });
    const grafanaAdmin = secret('GrafanaAdmin', `SmartScale ${cfg.clusterId}: Grafana admin credentials`, { json: '{"username":"admin"}', key: 'password' });

    const table = new dynamodb.Table(this, 'StateTable', {
      partitionKey: { name: TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TABLE.ttlAttribute,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // Key policy with named actions only (the CDK default grants the account "kms:*").
    const keyAdmin = new iam.PolicyStatement({
      sid: 'AccountAdministersKey',
      principals: [new iam.AccountRootPrincipal()],
      actions: KEY_ADMIN_ACTIONS,
      resources: ['*'],
    });
    const alarmsPublish = new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsPublish',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
    });
    const alertKey = new kms.Key(this, 'AlertTopicKey', {
      description: `SmartScale ${cfg.clusterId}: encrypts the alert topic`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      policy: new iam.PolicyDocument({ statements: [keyAdmin, alarmsPublish] }),
    });
    const topic = new sns.Topic(this, 'AlertTopic', {
      topicName: `${prefix}-alerts`,
      displayName: 'SmartScale Autoscaler Alerts',
      masterKey: alertKey,
      enforceSSL: true,
    });
    // The topic policy (TLS-only) replaces SNS's default policy, so CloudWatch alarms need an explicit allow.
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );
    const alertEmail = new CfnParameter(this, 'AlertEmail', {
      type: 'String',
      default: '',
      description: 'E-mail address subscribed to SmartScale alerts (empty: no e-mail subscription)',
      allowedPattern: '^$|^[^@\\s]+@[^@\\s]+$',
    });
    const hasEmail = new CfnCondition(this, 'HasAlertEmail', { expression: Fn.conditionNot(Fn.conditionEquals(alertEmail.valueAsString, '')) });
    const sub = new sns.CfnSubscription(this, 'AlertEmailSubscription', { topicArn: topic.topicArn, protocol: 'email', endpoint: alertEmail.valueAsString });
    sub.cfnOptions.condition = hasEmail;

    const repo = new ecr.Repository(this, 'DemoAppRepository', {
      repositoryName: `${prefix}-demo-app`,
      imageScanOnPush: true,
      imageTagMutability: ecr.TagMutability.MUTABLE,
      encryption: ecr.RepositoryEncryption.AES_256,
      removalPolicy: RemovalPolicy.DESTROY,
      emptyOnDelete: true,
      lifecycleRules: [{ rulePriority: 1, description: 'Keep the last 10 images', maxImageCount: 10 }],
    });
    // AES-256 is ECR's default; stated in the template so the encryption is visible and tested.
    (repo.node.defaultChild as ecr.CfnRepository).encryptionConfiguration = { encryptionType: 'AES256' };

    // ---------------------------------------------------------------- node roles
    const ssmSessionStatement = () =>
      new iam.PolicyStatement({
        sid: 'SessionManager',
        actions: ['ssm:UpdateInstanceInformation', 'ssmmessages:CreateControlChannel', 'ssmmessages:CreateDataChannel', 'ssmmessages:OpenControlChannel', 'ssmmessages:OpenDataChannel'],
        resources: ['*'],
      });
    const workerRole = new iam.Role(this, 'WorkerRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'K3s workers: read the join token, find the master, pull the demo app image',
      inlinePolicies: {
        worker: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({ sid: 'JoinToken', actions: ['secretsmanager:GetSecretValue'], resources: [k3sToken.secretArn] }),
            new iam.PolicyStatement({ sid: 'FindMaster', actions: ['ec2:DescribeInstances'], resources: ['*'] }),
            new iam.PolicyStatement({ sid: 'EcrAuth', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
            new iam.PolicyStatement({ sid: 'EcrPull', actions: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'], resources: [repo.repositoryArn] }),
            ssmSessionStatement(),
          ],
        }),
      },
    });

    const manifests = new s3assets.Asset(this, 'ClusterManifests', { path: buildManifestBundle(cfg).dir });
    placeholders ||= buildManifestBundle(cfg).placeholder;
    const masterRole = new iam.Role(this, 'MasterRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'K3s master: store the join token, API credentials and Prometheus CA, read monitoring secrets and manifests, serve CloudWatch to Grafana',
      inlinePolicies: {
        master: new iam.PolicyDocument({
          statements: [
            // The Prometheus secret too: the master adds the CA certificate of Prometheus's TLS endpoint to it.
            new iam.PolicyStatement({ sid: 'StoreClusterSecrets', actions: ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'], resources: [k3sToken.secretArn, k8sCredentials.secretArn, prometheusAuth.secretArn] }),
            new iam.PolicyStatement({ sid: 'ReadMonitoringSecrets', actions: ['secretsmanager:GetSecretValue'], resources: [grafanaAdmin.secretArn] }),
            new iam.PolicyStatement({ sid: 'ReadManifests', actions: ['s3:GetObject'], resources: [`arn:${this.partition}:s3:::${manifests.s3BucketName}/${manifests.s3ObjectKey}`] }),
            new iam.PolicyStatement({ sid: 'GrafanaCloudWatch', actions: ['cloudwatch:GetMetricData', 'cloudwatch:ListMetrics', 'cloudwatch:GetMetricStatistics'], resources: ['*'] }),
            ssmSessionStatement(),
          ],
        }),
      },
    });

    // ---------------------------------------------------------------- master
    const ami = ec2.MachineImage.latestAmazonLinux2023();
    const k3s = k3sBinary(cfg.k3sVersion, cfg.k3sSha256);
    if (!k3s.sha256) throw new Error(`K3s ${cfg.k3sVersion} has no pinned sha256`);
    const k3sSettings = { K3S_VERSION: k3s.version, K3S_BINARY_URL: k3s.url, K3S_SHA256: k3s.sha256 };
    const masterUserData = ec2.UserData.custom(
      renderUserData('master.sh', {
        CLUSTER_ID: cfg.clusterId,
        AWS_REGION: this.region,
        ...k3sSettings,
        K3S_TOKEN_SECRET_ARN: k3sToken.secretArn,
        K8S_CREDENTIALS_SECRET_ARN: k8sCredentials.secretArn,
        PROMETHEUS_AUTH_SECRET_ARN: prometheusAuth.secretArn,
        GRAFANA_ADMIN_SECRET_ARN: grafanaAdmin.secretArn,
        MANIFESTS_S3_URL: manifests.s3ObjectUrl,
        DEMO_APP_IMAGE: `${repo.repositoryUri}:latest`,
      }),
    );
    const master = new ec2.Instance(this, 'Master', {
      vpc,
      vpcSubnets: nodeSubnets,
      instanceType: new ec2.InstanceType(cfg.masterInstanceType),
      machineImage: ami,
      securityGroup: masterSg,
      role: masterRole,
      userData: masterUserData,
      detailedMonitoring: true,
      // The master holds the cluster's datastore; teardown disables this first (see the deployment guide).
      disableApiTermination: true,
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(40, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3, deleteOnTermination: true }) }],
    });
    // IMDSv2 with hop limit 1 from a template of our own (requireImdsv2 sets no hop limit, and
    // AL2023 defaults to 2): a pod, one hop further, cannot read the master's credentials.
    const masterTemplate = new ec2.LaunchTemplate(this, 'MasterLaunchTemplate', { requireImdsv2: true, httpPutResponseHopLimit: 1 });
    (master.node.defaultChild as ec2.CfnInstance).launchTemplate = { launchTemplateId: masterTemplate.launchTemplateId, version: masterTemplate.latestVersionNumber };
    Tags.of(master).add(TAGS.roleKey, TAGS.masterRole);
    Tags.of(master).add('Name', `${prefix}-master`);
    // HTTPS: the master serves Prometheus with a certificate of its own CA, which the Lambdas read
    // from the Prometheus secret and trust alone (docs/SECURITY_CHECKLIST.md, item 6).
    const prometheusUrl = `https://${master.instancePrivateIp}:${PORTS.prometheusNodePort}`;

    // ---------------------------------------------------------------- worker launch template
    // The ECR credential provider only when pinned by sha256 (cdk/lib/supply-chain.ts).
    const ecrProvider = ecrCredentialProvider(cfg.ecrCredentialProvider);
    const workerUserData = ec2.UserData.custom(
      renderUserData('worker.sh', {
        CLUSTER_ID: cfg.clusterId,
        AWS_REGION: this.region,
        ...k3sSettings,
        K3S_TOKEN_SECRET_ARN: k3sToken.secretArn,
        ...(ecrProvider?.sha256
          ? { ECR_CREDENTIAL_PROVIDER_VERSION: ecrProvider.version, ECR_CREDENTIAL_PROVIDER_URL: ecrProvider.url, ECR_CREDENTIAL_PROVIDER_SHA256: ecrProvider.sha256 }
          : {}),
      }),
    );
    const launchTemplate = new ec2.LaunchTemplate(this, 'WorkerLaunchTemplate', {
      launchTemplateName: `${prefix}-worker`,
      machineImage: ami,
      instanceType: new ec2.InstanceType(cfg.workerInstanceType),
      securityGroup: workerSg,
      role: workerRole,
      userData: workerUserData,
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      detailedMonitoring: true,
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(20, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3, deleteOnTermination: true }) }],
    });
    Tags.of(launchTemplate).add(TAGS.managedBy[0], TAGS.managedBy[1]);
    Tags.of(launchTemplate).add(TAGS.scalingGroup[0], TAGS.scalingGroup[1]);
    Tags.of(launchTemplate).add('Name', `${prefix}-worker`);
    const workerSubnetIds = vpc.selectSubnets(nodeSubnets).subnetIds;

    // ---------------------------------------------------------------- Lambda steps
    const env: Record<string, string> = {
      CLUSTER_ID: cfg.clusterId,
      DYNAMODB_TABLE: table.tableName,
      PROMETHEUS_URL: prometheusUrl,
      PROMETHEUS_AUTH_SECRET_ARN: prometheusAuth.secretArn,
      K8S_CREDENTIALS_SECRET_ARN: k8sCredentials.secretArn,
      K3S_TOKEN_SECRET_ARN: k3sToken.secretArn,
      SLACK_WEBHOOK_SECRET_ARN: slackWebhook.secretArn,
      SNS_TOPIC_ARN: topic.topicArn,
      LAUNCH_TEMPLATE_ID: launchTemplate.launchTemplateId!,
      LAUNCH_TEMPLATE_VERSION: launchTemplate.latestVersionNumber,
      WORKER_SUBNET_IDS: Fn.join(',', workerSubnetIds),
      MIN_NODES: String(cfg.minNodes),
      MAX_NODES: String(cfg.maxNodes),
      SCALE_UP_THRESHOLD_CPU: String(cfg.scaleUpThresholdCpuPercent),
      SCALE_DOWN_THRESHOLD_CPU: String(cfg.scaleDownThresholdCpuPercent),
      COOLDOWN_SCALE_UP: String(cfg.cooldownScaleUpSecs),
      COOLDOWN_SCALE_DOWN: String(cfg.cooldownScaleDownSecs),
      ...capacityEnvironment(cfg),
    };
    const owned = Object.keys(cfg.functionSettings).filter((k) => k in env || k.startsWith('AWS_') || (CAPACITY_VARIABLES as readonly string[]).includes(k));
    if (owned.length > 0) throw new Error(`context functionSettings: ${owned.join(', ')} ${owned.length === 1 ? 'is' : 'are'} set by the stack or by Lambda itself`);
    Object.assign(env, cfg.functionSettings);
    const arn = (service: string, resource: string, account: string = this.account) => `arn:${this.partition}:${service}:${this.region}:${account}:${resource}`;
    // Only this cluster's items: its state item, its spot claims (`<cluster>#spot-claim#<instance>`),
    // its failed Spot offers (`<cluster>#offers`), its forecast history (`<cluster>#forecast`) and its
    // weekly ledger (`<cluster>#week#<date>`).
    const ownItems = {
      'ForAllValues:StringLike': {
        'dynamodb:LeadingKeys': [cfg.clusterId, `${cfg.clusterId}#spot-claim#*`, `${cfg.clusterId}#offers`, `${cfg.clusterId}#forecast`, `${cfg.clusterId}#week#*`],
      },
    };
    const statementsFor = (c: Capability): iam.PolicyStatement[] => {
      switch (c) {
        case 'state-read':
          return [new iam.PolicyStatement({ sid: 'StateRead', actions: ['dynamodb:GetItem'], resources: [table.tableArn], conditions: ownItems })];
        case 'state-write':
          return [new iam.PolicyStatement({ sid: 'StateUpdate', actions: ['dynamodb:UpdateItem'], resources: [table.tableArn], conditions: ownItems })];
        case 'k8s-secret':
          return [new iam.PolicyStatement({ sid: 'K8sCredentials', actions: ['secretsmanager:GetSecretValue'], resources: [k8sCredentials.secretArn] })];
        case 'prometheus-secret':
          return [new iam.PolicyStatement({ sid: 'PrometheusAuth', actions: ['secretsmanager:GetSecretValue'], resources: [prometheusAuth.secretArn] })];
        case 'slack-secret':
          return [new iam.PolicyStatement({ sid: 'SlackWebhook', actions: ['secretsmanager:GetSecretValue'], resources: [slackWebhook.secretArn] })];
        case 'sns-publish':
          return [
            new iam.PolicyStatement({ sid: 'PublishAlerts', actions: ['sns:Publish'], resources: [topic.topicArn] }),
            new iam.PolicyStatement({ sid: 'EncryptAlerts', actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [alertKey.keyArn] }),
          ];
        case 'ec2-describe':
          // DescribeInstances has no resource-level permissions: '*' is the only valid resource.
          return [new iam.PolicyStatement({ sid: 'DescribeInstances', actions: ['ec2:DescribeInstances'], resources: ['*'] })];
        case 'ec2-launch':
          return [
            // One instant EC2 Fleet per launch, naming only the worker template (the launch-template
            // resource of CreateFleet); the fleet launches with RunInstances on the caller's behalf,
            // which the next statement conditions on ec2:LaunchTemplate = the worker template.
            new iam.PolicyStatement({
              sid: 'FleetFromWorkerTemplateOnly',
              actions: ['ec2:CreateFleet'],
              resources: [arn('ec2', 'fleet/*'), arn('ec2', `launch-template/${launchTemplate.launchTemplateId}`)],
            }),
            new iam.PolicyStatement({
              sid: 'RunFromWorkerTemplateOnly',
              actions: ['ec2:RunInstances'],
              resources: [
                arn('ec2', 'instance/*'),
                arn('ec2', 'volume/*'),
                arn('ec2', 'network-interface/*'),
                arn('ec2', `security-group/${workerSg.securityGroupId}`),
                arn('ec2', `launch-template/${launchTemplate.launchTemplateId}`),
                ...workerSubnetIds.map((s) => arn('ec2', `subnet/${s}`)),
                arn('ec2', 'image/*', ''),
              ],
              conditions: { ArnLike: { 'ec2:LaunchTemplate': arn('ec2', `launch-template/${launchTemplate.launchTemplateId}`) } },
            }),
            // The Spot request a Spot launch creates: EC2 does not evaluate ec2:LaunchTemplate on
            // that resource type (the key is absent, so the statement above could never match it);
            // the instance it launches still needs the statement above.
            new iam.PolicyStatement({
              sid: 'RunSpotRequests',
              actions: ['ec2:RunInstances'],
              resources: [arn('ec2', 'spot-instances-request/*')],
            }),
            // Volumes only as the template defines them. The instance and its network interface
            // cannot carry the same condition: the launcher picks the instance type and subnet per
            // attempt, which EC2 counts as overriding the template (see SECURITY_CHECKLIST.md).
            new iam.PolicyStatement({
              sid: 'TemplateVolumesOnly',
              effect: iam.Effect.DENY,
              actions: ['ec2:RunInstances'],
              resources: [arn('ec2', 'volume/*')],
              conditions: { Bool: { 'ec2:IsLaunchTemplateResource': 'false' } },
            }),
            new iam.PolicyStatement({
              sid: 'TagOnLaunchOnly',
              actions: ['ec2:CreateTags'],
              resources: [arn('ec2', 'instance/*'), arn('ec2', 'volume/*'), arn('ec2', 'network-interface/*'), arn('ec2', 'spot-instances-request/*')],
              conditions: { StringEquals: { 'ec2:CreateAction': ['RunInstances', 'CreateFleet'] } },
            }),
            // The EC2 adapter reads the worker subnets' zones before a launch; no resource-level permissions.
            new iam.PolicyStatement({ sid: 'DescribeWorkerSubnets', actions: ['ec2:DescribeSubnets'], resources: ['*'] }),
            new iam.PolicyStatement({
              sid: 'PassWorkerRoleOnly',
              actions: ['iam:PassRole'],
              resources: [workerRole.roleArn],
              conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
            }),
          ];
        case 'metrics-history-read':
          // GetMetricData has no resource-level permissions: '*' is the only valid resource.
          return [new iam.PolicyStatement({ sid: 'ReadMetricHistory', actions: ['cloudwatch:GetMetricData'], resources: ['*'] })];
        case 'ec2-terminate-managed':
          return [
            new iam.PolicyStatement({
              sid: 'TerminateManagedWorkersOnly',
              actions: ['ec2:TerminateInstances'],
              resources: [arn('ec2', 'instance/*')],
              conditions: { StringEquals: { [`aws:ResourceTag/${TAGS.managedBy[0]}`]: TAGS.managedBy[1], [`aws:ResourceTag/${TAGS.clusterKey}`]: cfg.clusterId } },
            }),
          ];
      }
    };

    const substitutions: Record<string, string> = { ClusterId: cfg.clusterId };
    for (const spec of FUNCTIONS) {
      const fn = this.stepFunction(spec, cfg, env, statementsFor, { vpc, lambdaSubnets, lambdaSg });
      placeholders ||= lambdaAsset(cfg, spec.name).placeholder;
      this.functions[spec.name] = fn;
      substitutions[spec.substitution] = fn.functionArn;
    }

    addWeeklyReportSchedule(this, {
      prefix,
      clusterId: cfg.clusterId,
      clusterTimezone: env.CLUSTER_TIMEZONE ?? engineDefaults().CLUSTER_TIMEZONE,
      fn: this.functions['weekly-report']!,
    });

    // ---------------------------------------------------------------- state machines and triggers
    const machine = (id: string, file: string, name: string, timeout: Duration) => {
      const src = stateMachineDefinition(cfg, file);
      placeholders ||= src.placeholder;
      const body = withTimeout(src.path, fs.readFileSync(src.path, 'utf8'), timeout);
      const missing = [...body.matchAll(/\$\{([A-Za-z0-9]+)\}/g)].map((m) => m[1]!).filter((k) => !(k in substitutions));
      if (missing.length > 0) throw new Error(`${src.path}: no substitution for ${[...new Set(missing)].join(', ')}`);
      const logGroup = new logs.LogGroup(this, `${id}Logs`, {
        logGroupName: `/aws/vendedlogs/states/${prefix}-${name}`,
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const sm = new sfn.StateMachine(this, id, {
        stateMachineName: `${prefix}-${name}`,
        definitionBody: sfn.DefinitionBody.fromString(body),
        definitionSubstitutions: substitutions,
        logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
        tracingEnabled: true,
        timeout,
      });
      for (const spec of FUNCTIONS) {
        if (body.includes(`\${${spec.substitution}}`)) this.functions[spec.name]!.grantInvoke(sm);
      }
      return sm;
    };
    const scaling = machine('ScalingStateMachine', 'smartscale.asl.json', 'scaling', Duration.minutes(20));
    const spot = machine('SpotInterruptionStateMachine', 'spot-interruption.asl.json', 'spot-interruption', Duration.minutes(20));

    if (cfg.schedule.kind === 'fixed') {
      new events.Rule(this, 'ScalingSchedule', {
        ruleName: `${prefix}-schedule`,
        description: `Start the SmartScale scaling state machine every ${cfg.schedule.ratePeriodMinutes} minutes`,
        schedule: events.Schedule.rate(Duration.minutes(cfg.schedule.ratePeriodMinutes)),
        targets: [new targets.SfnStateMachine(scaling)],
      });
    } else {
      const schedulerRole = new iam.Role(this, 'SchedulerRole', {
        assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com'),
        description: 'EventBridge Scheduler: start the SmartScale scaling state machine',
        inlinePolicies: { start: new iam.PolicyDocument({ statements: [new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [scaling.stateMachineArn] })] }) },
      });
      const schedule = (id: string, expression: string, description: string) =>
        new scheduler.CfnSchedule(this, id, {
          name: `${prefix}-${id.replace(/Schedule$/, '').toLowerCase()}`,
          description,
          scheduleExpression: expression,
          scheduleExpressionTimezone: (cfg.schedule as { timeZone: string }).timeZone,
          flexibleTimeWindow: { mode: 'OFF' },
          target: { arn: scaling.stateMachineArn, roleArn: schedulerRole.roleArn, input: JSON.stringify({ source: 'smartscale.schedule' }) },
        });
      schedule('BusinessHoursSchedule', 'cron(0/2 9-20 * * ? *)', 'SmartScale every 2 minutes from 09:00 to 20:59');
      schedule('OffHoursSchedule', 'cron(0/5 0-8,21-23 * * ? *)', 'SmartScale every 5 minutes outside business hours');
    }
    for (const [id, detailType] of [
      ['SpotInterruptionRule', 'EC2 Spot Instance Interruption Warning'],
      ['RebalanceRecommendationRule', 'EC2 Instance Rebalance Recommendation'],
    ] as const) {
      new events.Rule(this, id, {
        description: `SmartScale: ${detailType} -> spot-interruption state machine`,
        eventPattern: { source: ['aws.ec2'], detailType: [detailType] },
        targets: [new targets.SfnStateMachine(spot)],
      });
    }

    // ---------------------------------------------------------------- alarms and dashboard
    addMonitoring(this, { cfg, topic, scaling, spot, functions: this.functions });

    // ---------------------------------------------------------------- outputs
    const out = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    out('MasterInstanceId', master.instanceId, 'K3s master instance (connect with aws ssm start-session)');
    out('MasterPrivateIp', master.instancePrivateIp, 'K3s master private IP');
    if (cfg.natMode === 'none') out('MasterPublicIp', master.instancePublicIp, 'K3s master public IP (no port is open to the internet unless opted in)');
    out('PrometheusUrl', prometheusUrl, 'Prometheus NodePort (reachable from the SmartScale Lambdas only)');
    out('ScalingStateMachineArn', scaling.stateMachineArn, 'Scaling state machine');
    out('SpotStateMachineArn', spot.stateMachineArn, 'Spot interruption state machine');
    out('EvaluateFunctionArn', this.functions['evaluate']!.functionArn, 'The evaluate step (the decision)');
    out('DynamoDbTableName', table.tableName, 'SmartScale state table');
    out('VpcId', vpc.vpcId, 'VPC');
    out('SnsTopicArn', topic.topicArn, 'Alert topic');
    out('EcrRepositoryUrl', repo.repositoryUri, 'Demo application image repository');
    out('DemoAppUrl', `http://${master.instancePrivateIp}:${PORTS.demoAppNodePort}`, 'Demo application NodePort');
    out('WorkerLaunchTemplateId', launchTemplate.launchTemplateId!, 'Worker launch template');
    out('SlackWebhookSecretArn', slackWebhook.secretArn, 'Put the Slack incoming-webhook URL here');
    out('GrafanaAdminSecretArn', grafanaAdmin.secretArn, 'Grafana admin credentials');
    this.usesPlaceholders = placeholders;
  }

  /** One Lambda step with its own log group and a role holding exactly its capabilities. */
  private stepFunction(
    spec: FunctionSpec,
    cfg: SmartScaleConfig,
    env: Record<string, string>,
    statementsFor: (c: Capability) => iam.PolicyStatement[],
    net: { vpc: ec2.IVpc; lambdaSubnets: ec2.SubnetSelection; lambdaSg: ec2.ISecurityGroup },
  ): lambda.Function {
    const id = spec.substitution.replace(/FunctionArn$/, '');
    const functionName = `smartscale-${cfg.clusterId}-${spec.name}`;
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      logGroupName: `/aws/lambda/${functionName}`,
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const statements = [
      new iam.PolicyStatement({ sid: 'Logs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
      ...spec.capabilities.flatMap(statementsFor),
    ];
    if (spec.inVpc) {
      // Lambda's VPC networking: these EC2 actions support no resource-level permissions.
      statements.push(
        new iam.PolicyStatement({
          sid: 'VpcNetworking',
          actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
          resources: ['*'],
        }),
      );
    }
    const role = new iam.Role(this, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `SmartScale ${spec.name}: ${spec.capabilities.join(', ')}`,
      inlinePolicies: { step: new iam.PolicyDocument({ statements }) },
    });
    const src = lambdaAsset(cfg, spec.name);
    return new lambda.Function(this, `${id}Function`, {
      functionName,
      description: src.placeholder ? `SYNTH-ONLY PLACEHOLDER for ${spec.name}: never deploy` : `SmartScale step ${spec.name}`,
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.X86_64,
      handler: 'bootstrap',
      code: lambda.Code.fromAsset(src.path),
      memorySize: 128,
      timeout: Duration.seconds(30),
      role,
      logGroup,
      environment: { ...env, SMARTSCALE_STEP: spec.name },
      ...(spec.inVpc ? { vpc: net.vpc, vpcSubnets: net.lambdaSubnets, securityGroups: [net.lambdaSg] } : {}),
    });
  }
}
