/**
 * CDK assertions on every security property of the stack (docs/SECURITY_CHECKLIST.md maps each
 * measure to the test here that proves it).
 */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { FUNCTIONS, PORTS } from '../lib/contract';
import { ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS } from '../lib/nag';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CDK_DIR } from '../lib/sources';
import { asList, functionRoleId, identityStatements, resourcesOfType, roleStatements, synthCached } from './helpers';

const s = synthCached();

function logicalIdOfType(type: string, predicate: (props: Record<string, any>) => boolean = () => true): string {
  const hit = Object.entries(resourcesOfType(s, type)).filter(([, r]) => predicate(r.Properties ?? {}));
  assert.equal(hit.length, 1, `expected one ${type}, found ${hit.length}`);
  return hit[0]![0];
}

describe('IAM: least privilege', () => {
  it('no statement anywhere allows a wildcard action ("*", "svc:*" or "svc:Get*")', () => {
    const all = JSON.stringify(s.json);
    const actions = new Set<string>();
    const walk = (o: unknown): void => {
      if (Array.isArray(o)) o.forEach(walk);
      else if (o && typeof o === 'object') {
        // A Deny allows nothing: the dead-letter queue's "deny sqs:* without TLS" is one.
        if ((o as { Effect?: string }).Effect === 'Deny') return;
        for (const [k, v] of Object.entries(o)) {
          if (k === 'Action' || k === 'NotAction') asList(v as string | string[]).forEach((a) => actions.add(String(a)));
          walk(v);
        }
      }
    };
    walk(s.json.Resources);
    assert.ok(actions.size > 20, `found only ${actions.size} actions in ${all.length} bytes`);
    const wild = [...actions].filter((a) => a.includes('*'));
    assert.deepEqual(wild, []);
    assert.ok(!JSON.stringify(s.json.Resources).includes('NotAction'), 'no NotAction statements');
  });

  it('every * resource is an action without resource-level permissions', () => {
    for (const { owner, statement } of identityStatements(s)) {
      if (!asList(statement.Resource as string[]).includes('*')) continue;
      for (const a of asList(statement.Action)) {
        assert.ok(ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS.includes(a), `${owner}: ${a} on Resource "*"`);
      }
    }
  });

  it('each function has its own role, distinct from every other', () => {
    const roles = FUNCTIONS.map((f) => functionRoleId(s, f.name));
    assert.equal(new Set(roles).size, FUNCTIONS.length);
  });

  // Each role's exact actions are checked against functions/contract.json in contract.test.ts.

  it('ec2:TerminateInstances only on instances tagged ManagedBy=smartscale and Cluster=<id>', () => {
    const terminators = identityStatements(s).filter((x) => asList(x.statement.Action).includes('ec2:TerminateInstances'));
    assert.deepEqual(new Set(terminators.map((t) => t.owner)), new Set(['handle-join-failure', 'terminate-node'].map((n) => functionRoleId(s, n))));
    for (const { statement } of terminators) {
      assert.deepEqual(asList(statement.Action), ['ec2:TerminateInstances']);
      assert.deepEqual(statement.Condition, { StringEquals: { 'aws:ResourceTag/ManagedBy': 'smartscale', 'aws:ResourceTag/Cluster': 'smartscale-prod' } });
      assert.match(JSON.stringify(statement.Resource), /:instance\/\*"/);
    }
  });

  it('ec2:CreateFleet and ec2:RunInstances only with the worker launch template; CreateTags only on launch', () => {
    const lt = logicalIdOfType('AWS::EC2::LaunchTemplate', (p) => String(p.LaunchTemplateName ?? '').endsWith('-worker'));
    const runners = identityStatements(s).filter((x) => x.statement.Effect === 'Allow' && asList(x.statement.Action).includes('ec2:RunInstances'));
    const launchers = new Set(['launch-nodes', 'launch-replacement'].map((n) => functionRoleId(s, n)));
    assert.deepEqual(new Set(runners.map((t) => t.owner)), launchers);
    const fleets = identityStatements(s).filter((x) => x.statement.Effect === 'Allow' && asList(x.statement.Action).includes('ec2:CreateFleet'));
    assert.deepEqual(new Set(fleets.map((t) => t.owner)), launchers);
    for (const { statement } of fleets) {
      assert.deepEqual(asList(statement.Action), ['ec2:CreateFleet']);
      const resources = JSON.stringify(statement.Resource);
      assert.ok(resources.includes(`"Ref":"${lt}"`), `CreateFleet names the worker template: ${resources}`);
      assert.ok(resources.includes(':fleet/*') && !resources.includes('"*"'), resources);
    }
    for (const { statement } of runners) {
      assert.ok(!JSON.stringify(statement.Resource).includes('"*"'));
      // A Spot request carries no ec2:LaunchTemplate key: its statement names that resource alone.
      if (statement.Sid === 'RunSpotRequests') {
        assert.deepEqual(asList(statement.Action), ['ec2:RunInstances']);
        assert.match(JSON.stringify(statement.Resource), /:spot-instances-request\/\*"\]\]\}$/);
        assert.equal(statement.Condition, undefined);
        continue;
      }
      const cond = JSON.stringify(statement.Condition?.ArnLike?.['ec2:LaunchTemplate']);
      assert.ok(cond.includes(`"Ref":"${lt}"`), `RunInstances condition ${cond} names the worker template`);
      assert.ok(!JSON.stringify(statement.Resource).includes('spot-instances-request'), 'the launch-template statement cannot match a Spot request');
    }
    assert.ok(runners.some(({ statement }) => statement.Sid === 'RunSpotRequests'), 'a Spot launch may create its Spot request');
    const taggers = identityStatements(s).filter((x) => asList(x.statement.Action).includes('ec2:CreateTags'));
    for (const { statement } of taggers) assert.deepEqual(statement.Condition, { StringEquals: { 'ec2:CreateAction': ['RunInstances', 'CreateFleet'] } });
  });

  it('iam:PassRole only for the worker role, only to EC2', () => {
    const worker = logicalIdOfType('AWS::IAM::Role', (p) => String(p.Description ?? '').startsWith('K3s workers'));
    const passers = identityStatements(s).filter((x) => asList(x.statement.Action).includes('iam:PassRole'));
    assert.ok(passers.length >= 2);
    for (const { statement } of passers) {
      assert.deepEqual(statement.Resource, { 'Fn::GetAtt': [worker, 'Arn'] });
      assert.deepEqual(statement.Condition, { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } });
    }
  });

  it('DynamoDB only on the one table; secrets only by ARN', () => {
    const table = logicalIdOfType('AWS::DynamoDB::Table');
    const secrets = new Set(Object.keys(resourcesOfType(s, 'AWS::SecretsManager::Secret')));
    for (const { owner, statement } of identityStatements(s)) {
      const actions = asList(statement.Action);
      if (actions.some((a) => a.startsWith('dynamodb:'))) assert.deepEqual(statement.Resource, { 'Fn::GetAtt': [table, 'Arn'] }, owner);
      if (actions.some((a) => a.startsWith('secretsmanager:'))) {
        for (const r of asList<any>(statement.Resource as any)) assert.ok(r.Ref && secrets.has(r.Ref), `${owner}: secret resource ${JSON.stringify(r)}`);
      }
    }
  });

  it('the alert key policy names its actions and lets CloudWatch alarms use it', () => {
    const key = Object.values(resourcesOfType(s, 'AWS::KMS::Key'))[0]!;
    assert.equal(key.Properties!.EnableKeyRotation, true);
    const sts = asList<any>(key.Properties!.KeyPolicy.Statement);
    assert.ok(sts.some((st) => st.Principal?.Service === 'cloudwatch.amazonaws.com'));
  });
});

describe('EC2: IMDSv2, encryption, tags', () => {
  it('the worker template requires IMDSv2, hop limit 1, 20 GB gp3 encrypted, the worker profile, and SmartScale tags', () => {
    s.template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateName: 'smartscale-smartscale-prod-worker',
      LaunchTemplateData: Match.objectLike({
        InstanceType: 't3.small',
        MetadataOptions: Match.objectLike({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 }),
        IamInstanceProfile: Match.anyValue(),
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeSize: 20, VolumeType: 'gp3', DeleteOnTermination: true } }],
        TagSpecifications: Match.arrayWith([
          {
            ResourceType: 'instance',
            Tags: Match.arrayWith([
              { Key: 'Cluster', Value: 'smartscale-prod' },
              { Key: 'ManagedBy', Value: 'smartscale' },
              { Key: 'Project', Value: 'SmartScale' },
              { Key: 'ScalingGroup', Value: 'k3s-workers' },
            ]),
          },
        ]),
      }),
    });
  });

  it('the master is t3.medium, tagged Role=k3s-master, encrypted, IMDSv2 and termination-protected', () => {
    s.template.hasResourceProperties('AWS::EC2::Instance', {
      InstanceType: 't3.medium',
      DisableApiTermination: true,
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: Match.objectLike({ Encrypted: true, VolumeType: 'gp3' }) }],
      Tags: Match.arrayWith([{ Key: 'Role', Value: 'k3s-master' }]),
      LaunchTemplate: Match.anyValue(),
    });
    // The master's own launch template: IMDSv2 and hop limit 1, like the workers'.
    const lts = Object.values(resourcesOfType(s, 'AWS::EC2::LaunchTemplate'));
    assert.equal(lts.length, 2);
    for (const lt of lts) {
      assert.equal(lt.Properties!.LaunchTemplateData.MetadataOptions.HttpTokens, 'required');
      assert.equal(lt.Properties!.LaunchTemplateData.MetadataOptions.HttpPutResponseHopLimit, 1, 'pods must not reach instance credentials');
    }
  });

  it('both AMIs are Amazon Linux 2023', () => {
    const params = Object.values(s.json.Parameters ?? {}).map((p: any) => String(p.Default));
    assert.ok(params.some((p) => p.includes('al2023-ami')), JSON.stringify(params));
  });
});

describe('Data: encryption and recovery', () => {
  it('DynamoDB: on demand, TTL, encrypted, point-in-time recovery', () => {
    s.template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'cluster_id', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      SSESpecification: { SSEEnabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });
  it('SNS topic: KMS-encrypted and TLS-only, alarms may publish, with an optional e-mail subscription', () => {
    s.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    s.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    s.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Allow', Action: 'sns:Publish', Principal: { Service: 'cloudwatch.amazonaws.com' } })]) },
    });
    s.template.hasResource('AWS::SNS::Subscription', { Condition: 'HasAlertEmail', Properties: Match.objectLike({ Protocol: 'email', Endpoint: { Ref: 'AlertEmail' } }) });
  });
  it('ECR: scan on push, encrypted, keeps the last 10 images', () => {
    s.template.hasResourceProperties('AWS::ECR::Repository', {
      ImageScanningConfiguration: { ScanOnPush: true },
      EncryptionConfiguration: { EncryptionType: 'AES256' },
      LifecyclePolicy: { LifecyclePolicyText: Match.stringLikeRegexp('"countNumber":10') },
    });
  });
  it('every log group keeps 30 days', () => {
    const groups = Object.values(resourcesOfType(s, 'AWS::Logs::LogGroup'));
    assert.ok(groups.length >= FUNCTIONS.length + 2);
    for (const g of groups) assert.equal(g.Properties!.RetentionInDays, 30);
  });
});

describe('Secrets never in user data or environment', () => {
  const userData = [
    ...Object.values(resourcesOfType(s, 'AWS::EC2::LaunchTemplate')).map((lt) => lt.Properties!.LaunchTemplateData.UserData),
    ...Object.values(resourcesOfType(s, 'AWS::EC2::Instance')).map((i) => i.Properties!.UserData),
  ].filter((u) => u !== undefined);

  it('user data exists for the master and the workers', () => assert.equal(userData.length, 2));

  it('user data stays under the EC2 limit of 16 KB (counting each reference as a 256-character value)', () => {
    for (const u of userData) {
      const parts: unknown[] = u['Fn::Base64']['Fn::Join']?.[1] ?? [u['Fn::Base64']];
      const size = parts.reduce<number>((n, p) => n + (typeof p === 'string' ? Buffer.byteLength(p) : 256), 0);
      assert.ok(size < 16 * 1024, `user data of ${size} bytes`);
    }
  });

  it('no secret value is resolved into the template (no {{resolve:secretsmanager}}, no SecretString reference)', () => {
    const text = JSON.stringify(s.json);
    assert.ok(!text.includes('{{resolve:secretsmanager'), 'dynamic secret reference in template');
    assert.ok(!/"Fn::GetAtt":\["[A-Za-z0-9]+","SecretString/.test(text));
  });

  it('user data references secrets only by ARN (Ref to the secret), never by value', () => {
    const secrets = new Set(Object.keys(resourcesOfType(s, 'AWS::SecretsManager::Secret')));
    for (const u of userData) {
      const parts = JSON.stringify(u);
      const refs = [...parts.matchAll(/\{"Ref":"([A-Za-z0-9]+)"\}/g)].map((m) => m[1]!);
      for (const r of refs.filter((r) => secrets.has(r))) assert.ok(parts.includes(`_SECRET_ARN='",{"Ref":"${r}"}`), `secret ${r} used outside a *_SECRET_ARN setting`);
      // Every rendered setting whose name suggests a secret is an ARN reference, not a value.
      const settings = [...parts.matchAll(/export ([A-Z0-9_]+)='/g)].map((m) => m[1]!);
      assert.ok(settings.length >= 5, `settings: ${settings.join(',')}`);
      for (const name of settings.filter((n) => /TOKEN|PASSWORD|SECRET|WEBHOOK|CREDENTIALS/.test(n))) assert.match(name, /_SECRET_ARN$/);
      assert.ok(!/hooks\.slack\.com|BEGIN [A-Z ]*PRIVATE KEY|K10[0-9a-f]{20}/.test(parts), 'secret-looking literal in user data');
    }
  });

  it('function environments hold only configuration and secret ARNs', () => {
    const secrets = new Set(Object.keys(resourcesOfType(s, 'AWS::SecretsManager::Secret')));
    for (const fn of Object.values(resourcesOfType(s, 'AWS::Lambda::Function'))) {
      const vars = fn.Properties!.Environment.Variables as Record<string, unknown>;
      for (const [k, v] of Object.entries(vars)) {
        if (k.endsWith('_SECRET_ARN')) assert.ok(typeof v === 'object' && secrets.has((v as any).Ref), `${k} must be a secret ARN`);
        else assert.ok(!JSON.stringify(v).includes('Secret'), `${k} references a secret`);
      }
    }
  });
});

describe('Lambda functions', () => {
  const fns = Object.values(resourcesOfType(s, 'AWS::Lambda::Function'));
  it('one per step, provided.al2023 x86_64, 128 MB, 30 s, own log group', () => {
    assert.equal(fns.length, FUNCTIONS.length);
    const groups = new Set<string>();
    for (const f of fns) {
      const p = f.Properties!;
      assert.equal(p.Runtime, 'provided.al2023');
      assert.deepEqual(p.Architectures, ['x86_64']);
      assert.equal(p.MemorySize, 128);
      assert.equal(p.Timeout, 30);
      assert.equal(p.Handler, 'bootstrap');
      groups.add(JSON.stringify(p.LoggingConfig.LogGroup));
    }
    assert.equal(groups.size, FUNCTIONS.length);
  });
  it('every function gets the contract environment variables', () => {
    const names = ['CLUSTER_ID', 'DYNAMODB_TABLE', 'PROMETHEUS_URL', 'PROMETHEUS_AUTH_SECRET_ARN', 'K8S_CREDENTIALS_SECRET_ARN', 'K3S_TOKEN_SECRET_ARN', 'SLACK_WEBHOOK_SECRET_ARN', 'SNS_TOPIC_ARN', 'LAUNCH_TEMPLATE_ID', 'LAUNCH_TEMPLATE_VERSION', 'WORKER_SUBNET_IDS', 'MIN_NODES', 'MAX_NODES', 'SCALE_UP_THRESHOLD_CPU', 'SCALE_DOWN_THRESHOLD_CPU', 'COOLDOWN_SCALE_UP', 'COOLDOWN_SCALE_DOWN', 'WORKER_INSTANCE_TYPES', 'USE_SPOT', 'BURST_INSTANCE_TYPES', 'BASELINE_NODES', 'SMARTSCALE_STEP'];
    for (const f of fns) assert.deepEqual(Object.keys(f.Properties!.Environment.Variables).sort(), [...names].sort());
    const v = fns[0]!.Properties!.Environment.Variables;
    assert.equal(v.MIN_NODES, '2');
    assert.equal(v.MAX_NODES, '10');
    assert.equal(v.COOLDOWN_SCALE_UP, '300');
    assert.equal(v.COOLDOWN_SCALE_DOWN, '600');
  });
  it('only the functions that talk to the cluster run in the VPC', () => {
    for (const spec of FUNCTIONS) {
      const f = fns.find((x) => String(x.Properties!.FunctionName).endsWith(`-${spec.name}`))!;
      assert.equal(f.Properties!.VpcConfig !== undefined, spec.inVpc, spec.name);
    }
  });
  it('synth-only placeholders are marked as such', () => {
    assert.equal(s.stack.usesPlaceholders, true);
    for (const f of fns) assert.match(f.Properties!.Description, /SYNTH-ONLY PLACEHOLDER/);
  });
});

describe('Network', () => {
  const ingress = () => {
    const rules: { group: string; from: any; proto: string; port: number; cidr?: string }[] = [];
    for (const r of Object.values(resourcesOfType(s, 'AWS::EC2::SecurityGroupIngress'))) {
      const p = r.Properties!;
      rules.push({ group: p.GroupId['Fn::GetAtt'][0], from: p.SourceSecurityGroupId?.['Fn::GetAtt']?.[0], proto: p.IpProtocol, port: p.FromPort, cidr: p.CidrIp });
    }
    for (const [id, r] of Object.entries(resourcesOfType(s, 'AWS::EC2::SecurityGroup'))) {
      for (const p of asList<any>(r.Properties!.SecurityGroupIngress)) rules.push({ group: id, from: p.SourceSecurityGroupId?.['Fn::GetAtt']?.[0], proto: p.IpProtocol, port: p.FromPort, cidr: p.CidrIp ?? p.CidrIpv6 });
    }
    return rules;
  };
  const sg = (prefix: string) => logicalIdOfType('AWS::EC2::SecurityGroup', (p) => String(p.GroupDescription).startsWith(prefix));

  it('nothing is open to the internet by default', () => {
    for (const r of ingress()) assert.ok(r.cidr === undefined, `ingress from ${r.cidr} to ${r.group}:${r.port}`);
  });
  it('API 6443 from workers and Lambdas only; Prometheus 30090 from Lambdas only', () => {
    const master = sg('K3s master');
    const from = (port: number) => ingress().filter((r) => r.group === master && r.port === port).map((r) => r.from).sort();
    assert.deepEqual(from(PORTS.apiServer), [sg('SmartScale Lambdas'), sg('K3s workers')].sort());
    assert.deepEqual(from(PORTS.prometheusNodePort), [sg('SmartScale Lambdas')]);
  });
  it('flannel VXLAN 8472/udp and kubelet 10250 between master and workers', () => {
    const [master, worker] = [sg('K3s master'), sg('K3s workers')];
    const has = (group: string, from: string, proto: string, port: number) => ingress().some((r) => r.group === group && r.from === from && r.proto === proto && r.port === port);
    assert.ok(has(master, worker, 'udp', PORTS.vxlan));
    assert.ok(has(worker, master, 'udp', PORTS.vxlan));
    assert.ok(has(master, worker, 'tcp', PORTS.kubelet));
    assert.ok(has(worker, master, 'tcp', PORTS.kubelet));
  });
  it('the demo app NodePort opens only to the CIDRs the user opts into', () => {
    const opted = synthCached({ demoAppIngressCidrs: '203.0.113.0/24' });
    const cidrRules = Object.values(resourcesOfType(opted, 'AWS::EC2::SecurityGroup')).flatMap((r) => asList<any>(r.Properties!.SecurityGroupIngress)).filter((r) => r.CidrIp);
    assert.ok(cidrRules.length >= 1);
    for (const r of cidrRules) assert.deepEqual([r.CidrIp, r.FromPort, r.ToPort], ['203.0.113.0/24', PORTS.demoAppNodePort, PORTS.demoAppNodePort]);
  });
  it('VPC over two zones with flow logs; NAT per choice', () => {
    for (const [mode, nats] of [['per-zone', 2], ['single', 1], ['none', 0]] as const) {
      const v = synthCached({ natMode: mode });
      v.template.resourceCountIs('AWS::EC2::NatGateway', nats);
      v.template.resourceCountIs('AWS::EC2::Subnet', 4);
      v.template.resourceCountIs('AWS::EC2::FlowLog', 1);
      v.template.resourceCountIs('AWS::EC2::VPCEndpoint', mode === 'none' ? 4 : 2);
    }
  });
});

describe('Orchestration', () => {
  it('state machines log everything and trace, with a substitution for every function and the cluster id', () => {
    const machines = Object.values(resourcesOfType(s, 'AWS::StepFunctions::StateMachine'));
    assert.equal(machines.length, 2);
    for (const m of machines) {
      const p = m.Properties!;
      assert.equal(p.LoggingConfiguration.Level, 'ALL');
      assert.deepEqual(p.TracingConfiguration, { Enabled: true });
      const keys = Object.keys(p.DefinitionSubstitutions);
      for (const f of FUNCTIONS) assert.ok(keys.includes(f.substitution), f.substitution);
      assert.equal(p.DefinitionSubstitutions.ClusterId, 'smartscale-prod');
    }
  });
  it('EventBridge starts the scaling machine every 2 minutes; spot warnings and rebalance go to the spot machine', () => {
    s.template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(2 minutes)', State: 'ENABLED' });
    for (const dt of ['EC2 Spot Instance Interruption Warning', 'EC2 Instance Rebalance Recommendation']) {
      s.template.hasResourceProperties('AWS::Events::Rule', { EventPattern: { source: ['aws.ec2'], 'detail-type': [dt] } });
    }
  });
  it('business hours: 2 min from 9 to 21 and 5 min otherwise, in the chosen time zone', () => {
    const b = synthCached({ businessHoursTimeZone: 'Asia/Dhaka' });
    // The two scaling schedules, and the weekly report's (cdk/test/weekly-report.test.ts).
    b.template.resourceCountIs('AWS::Scheduler::Schedule', 3);
    b.template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(0/2 9-20 * * ? *)', ScheduleExpressionTimezone: 'Asia/Dhaka' });
    b.template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(0/5 0-8,21-23 * * ? *)', ScheduleExpressionTimezone: 'Asia/Dhaka' });
    assert.ok(!Object.values(resourcesOfType(b, 'AWS::Events::Rule')).some((r) => r.Properties!.ScheduleExpression));
  });
  it('the state machine roles may invoke exactly the functions their definitions name', () => {
    for (const [id, m] of Object.entries(resourcesOfType(s, 'AWS::StepFunctions::StateMachine'))) {
      const p = m.Properties!;
      const used = new Set([...String(p.DefinitionString).matchAll(/\$\{([A-Za-z]+FunctionArn)\}/g)].map((x) => p.DefinitionSubstitutions[x[1]!]['Fn::GetAtt'][0] as string));
      const roleId = p.RoleArn['Fn::GetAtt'][0];
      const invokable = new Set(
        roleStatements(s, roleId)
          .filter((st) => asList(st.Action).includes('lambda:InvokeFunction'))
          .flatMap((st) => asList<any>(st.Resource as any))
          .map((r) => (r['Fn::GetAtt'] ? r['Fn::GetAtt'][0] : r['Fn::Join'][1][0]['Fn::GetAtt'][0]) as string),
      );
      assert.ok(used.size > 0, id);
      assert.deepEqual([...invokable].sort(), [...used].sort(), id);
    }
  });
});

describe('Alarms, dashboard, outputs', () => {
  it('the seed alarms exist and notify the topic', () => {
    const alarms = Object.values(resourcesOfType(s, 'AWS::CloudWatch::Alarm'));
    const names = alarms.map((a) => String(a.Properties!.AlarmName).replace('smartscale-smartscale-prod-', '')).sort();
    assert.deepEqual(names, [
      'at-max-capacity', 'cpu-overload', 'high-memory', 'node-join-failure', 'prometheus-unavailable', 'scaling-executions-aborted',
      'scaling-executions-timed-out', 'scaling-failures', 'spot-interruption-executions-aborted', 'spot-interruption-executions-timed-out',
      'step-duration-near-timeout-1', 'step-duration-near-timeout-2',
    ]);
    const topic = logicalIdOfType('AWS::SNS::Topic');
    for (const a of alarms) assert.deepEqual(a.Properties!.AlarmActions, [{ Ref: topic }]);
    for (const a of alarms) assert.ok((a.Properties!.Metrics ?? []).filter((m: any) => m.MetricStat).length <= 10, 'at most 10 metrics per alarm');
  });
  it('the dashboard shows scaling activity, errors, CPU, node count and cost', () => {
    const main = Object.values(resourcesOfType(s, 'AWS::CloudWatch::Dashboard')).find((d) => d.Properties!.DashboardName === 'smartscale-smartscale-prod');
    const body = JSON.stringify(main!.Properties!.DashboardBody);
    for (const t of ['Scaling activity', 'Errors', 'Cluster CPU', 'Worker nodes', 'Cost (USD/hour']) assert.ok(body.includes(t), t);
  });
  it('the outputs seed 004 lists', () => {
    for (const o of ['MasterPrivateIp', 'PrometheusUrl', 'EvaluateFunctionArn', 'ScalingStateMachineArn', 'DynamoDbTableName', 'VpcId', 'SnsTopicArn', 'EcrRepositoryUrl', 'DemoAppUrl']) s.template.hasOutput(o, {});
    synthCached({ natMode: 'none' }).template.hasOutput('MasterPublicIp', {});
  });
});

describe('Cluster manifests', () => {
  it('monitoring pods are pinned to the master by a label no kubelet may set on its own Node', () => {
    const dir = path.join(CDK_DIR, 'manifests');
    const pinned: string[] = [];
    for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.yaml'))) {
      for (const doc of parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8'))) {
        const o = doc.toJS() as any;
        const selector = o?.spec?.template?.spec?.nodeSelector as Record<string, string> | undefined;
        if (!selector) continue;
        for (const key of Object.keys(selector)) {
          pinned.push(`${f}:${o.metadata.name}:${key}`);
          // NodeRestriction lets a kubelet label its Node with anything but these prefixes.
          assert.ok(key.startsWith('node-role.kubernetes.io/') || key.startsWith('node-restriction.kubernetes.io/') || key === 'kubernetes.io/os', `${f} ${o.metadata.name}: nodeSelector ${key} can be self-set by a kubelet`);
        }
      }
    }
    assert.ok(pinned.length >= 3, pinned.join(', '));
  });
});

describe('IAM conditions', () => {
  it('DynamoDB rights are limited to this cluster\'s items (dynamodb:LeadingKeys)', () => {
    const dynamo = identityStatements(s).filter(({ statement }) => asList(statement.Action).some((a) => String(a).startsWith('dynamodb:')) && statement.Effect === 'Allow');
    assert.ok(dynamo.length > 5, `found ${dynamo.length}`);
    for (const { owner, statement } of dynamo) {
      assert.deepEqual((statement as any).Condition, { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['smartscale-prod', 'smartscale-prod#spot-claim#*', 'smartscale-prod#offers', 'smartscale-prod#forecast', 'smartscale-prod#week#*'] } }, `${owner}: ${JSON.stringify(statement)}`);
    }
  });

  it('RunInstances may not bring volumes the worker template does not define', () => {
    for (const name of ['launch-nodes', 'launch-replacement']) {
      const deny = roleStatements(s, functionRoleId(s, name)).filter((st) => st.Effect === 'Deny' && asList(st.Action).includes('ec2:RunInstances'));
      assert.equal(deny.length, 1, name);
      assert.deepEqual((deny[0] as any).Condition, { Bool: { 'ec2:IsLaunchTemplateResource': 'false' } }, name);
    }
  });
});
