// The IAM proxy: every AWS call of a scenario goes through it on its way to the scenario's moto.
//
// moto (IAM authorization on) authenticates each call and checks its action against the caller's
// role, but only the action: for EC2, DynamoDB, Secrets Manager and SNS it evaluates every policy
// against Resource "*" and no condition keys. So the proxy, for each call signed with a
// function's credentials, works out what AWS would authorize: the action, each resource ARN it
// touches and the condition keys of the request (the launch template, the tags of the instance to
// terminate, the service a role is passed to, the implied KMS use of an encrypted topic), and
// evaluates them against that function's role with @cloud-copilot/iam-simulate. A call any of
// whose checks is not Allowed is answered with the service's own access-denied error and never
// reaches moto. Every decision is recorded.
//
// Calls signed with the emulator's fixed test keys (the emulator plays EC2's control plane) are
// re-signed with the rig's administrator keys and passed on unchecked.
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import { runSimulation } from '@cloud-copilot/iam-simulate';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const EMULATOR_KEY = 'testing';
const ec2Arn = (resource, account = ACCOUNT) => `arn:aws:ec2:${REGION}:${account}:${resource}`;

/** Reads `Key.N.Sub` form parameters into arrays of objects (the EC2 query protocol). */
function indexed(form, prefix) {
  const out = [];
  for (const [k, v] of form) {
    const m = new RegExp(`^${prefix.replace('.', '\\.')}\\.(\\d+)(?:\\.(.+))?$`).exec(k);
    if (!m) continue;
    const i = Number(m[1]) - 1;
    if (m[2] === undefined) out[i] = v;
    else (out[i] ??= {})[m[2]] = v;
  }
  return out.filter((x) => x !== undefined);
}

/** The request's service, action and parameters, from its signature scope and protocol. */
export function parseCall(headers, body) {
  const auth = headers.authorization ?? '';
  const scope = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\//.exec(auth);
  const [, accessKey, , signingName] = scope ?? [];
  // IAM names a few services apart from their signing name (CloudWatch signs as `monitoring`).
  const service = { monitoring: 'cloudwatch' }[signingName] ?? signingName;
  const target = headers['x-amz-target'];
  if (target) {
    const op = target.split('.').pop();
    return { accessKey, service, signingName, action: `${service}:${op}`, params: body.length ? JSON.parse(body.toString()) : {} };
  }
  const form = new URLSearchParams(body.toString());
  return { accessKey, service, signingName, action: `${service}:${form.get('Action')}`, params: form };
}

/**
 * The authorization checks AWS makes for one call: [{ action, resource, context }]. `lookup`
 * gives what the request does not say (the launch template's data and role, instance tags, the
 * topic's key). An action the rig does not know is checked on Resource "*".
 */
export async function checksFor(call, lookup) {
  const { action, params } = call;
  switch (action) {
    case 'dynamodb:GetItem':
    case 'dynamodb:PutItem':
    case 'dynamodb:UpdateItem':
    case 'dynamodb:DeleteItem':
    case 'dynamodb:Query':
      return [{ action, resource: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${params.TableName}`, context: {} }];
    case 'secretsmanager:GetSecretValue':
    case 'secretsmanager:PutSecretValue':
      return [{ action, resource: params.SecretId, context: {} }];
    case 'sns:Publish': {
      const topic = params.get('TopicArn');
      const key = lookup.topicKey(topic);
      return [
        { action, resource: topic, context: {} },
        // SNS encrypts with the topic's key on the publisher's behalf: the publisher needs both.
        ...(key ? ['kms:GenerateDataKey', 'kms:Decrypt'].map((a) => ({ action: a, resource: key, context: {} })) : []),
      ];
    }
    case 'ec2:DescribeInstances':
      return [{ action, resource: '*', context: {} }];
    case 'ec2:TerminateInstances': {
      const ids = indexed(params, 'InstanceId');
      const tags = await lookup.instanceTags(ids);
      return ids.map((id) => ({
        action,
        resource: ec2Arn(`instance/${id}`),
        context: Object.fromEntries(Object.entries(tags[id] ?? {}).map(([k, v]) => [`aws:ResourceTag/${k}`, v])),
      }));
    }
    case 'ec2:RunInstances': {
      const ltId = params.get('LaunchTemplate.LaunchTemplateId');
      const lt = lookup.launchTemplate(ltId);
      const ltArn = ec2Arn(`launch-template/${ltId}`);
      const data = lt?.data ?? {};
      const subnet = params.get('SubnetId') ?? data.NetworkInterfaces?.[0]?.SubnetId;
      const groups = indexed(params, 'SecurityGroupId').length ? indexed(params, 'SecurityGroupId') : (data.SecurityGroupIds ?? []);
      const image = params.get('ImageId') ?? data.ImageId;
      const spot = params.get('InstanceMarketOptions.MarketType') === 'spot' || data.InstanceMarketOptions?.MarketType === 'spot';
      const context = ltId ? { 'ec2:LaunchTemplate': ltArn } : {};
      const resources = [
        ec2Arn('instance/*'), ec2Arn('volume/*'), ec2Arn('network-interface/*'),
        ...(subnet ? [ec2Arn(`subnet/${subnet}`)] : []),
        ...groups.map((g) => ec2Arn(`security-group/${g}`)),
        ...(ltId ? [ltArn] : []),
        ...(image ? [ec2Arn(`image/${image}`, '')] : []),
        ...(spot ? [ec2Arn('spot-instances-request/*')] : []),
      ];
      const tagged = new Set([
        ...indexed(params, 'TagSpecification').map((t) => t.ResourceType),
        ...(data.TagSpecifications ?? []).map((t) => t.ResourceType),
      ]);
      return [
        ...resources.map((resource) => ({ action, resource, context })),
        // Tags applied at launch need ec2:CreateTags, with ec2:CreateAction = RunInstances.
        ...[...tagged].map((type) => ({ action: 'ec2:CreateTags', resource: ec2Arn(`${type}/*`), context: { 'ec2:CreateAction': 'RunInstances' } })),
        // An instance profile passes its role to EC2.
        ...(lt?.roleArn ? [{ action: 'iam:PassRole', resource: lt.roleArn, context: { 'iam:PassedToService': 'ec2.amazonaws.com' } }] : []),
      ];
    }
    case 'ec2:CreateFleet': {
      // An instant fleet launches with RunInstances on the caller's behalf: the caller needs
      // CreateFleet on the fleet, and RunInstances (and tag-on-create) as for a launch of its own
      // from the template, in every subnet of its overrides.
      const ltId = params.get('LaunchTemplateConfigs.1.LaunchTemplateSpecification.LaunchTemplateId');
      const lt = lookup.launchTemplate(ltId);
      const ltArn = ec2Arn(`launch-template/${ltId}`);
      const data = lt?.data ?? {};
      const subnets = [...new Set(indexed(params, 'LaunchTemplateConfigs.1.Overrides').map((o) => o.SubnetId).filter(Boolean))];
      const groups = data.SecurityGroupIds ?? [];
      const spot = params.get('TargetCapacitySpecification.DefaultTargetCapacityType') === 'spot';
      const context = ltId ? { 'ec2:LaunchTemplate': ltArn } : {};
      const run = [
        ec2Arn('instance/*'), ec2Arn('volume/*'), ec2Arn('network-interface/*'),
        ...subnets.map((s) => ec2Arn(`subnet/${s}`)),
        ...groups.map((g) => ec2Arn(`security-group/${g}`)),
        ...(ltId ? [ltArn] : []),
        ...(data.ImageId ? [ec2Arn(`image/${data.ImageId}`, '')] : []),
        ...(spot ? [ec2Arn('spot-instances-request/*')] : []),
      ];
      const tagged = new Set([
        ...indexed(params, 'TagSpecification').map((t) => t.ResourceType),
        ...(data.TagSpecifications ?? []).map((t) => t.ResourceType),
      ]);
      return [
        { action, resource: ec2Arn('fleet/*'), context: {} },
        ...(ltId ? [{ action, resource: ltArn, context: {} }] : []),
        ...run.map((resource) => ({ action: 'ec2:RunInstances', resource, context })),
        ...[...tagged].filter((t) => t !== 'fleet').map((type) => ({ action: 'ec2:CreateTags', resource: ec2Arn(`${type}/*`), context: { 'ec2:CreateAction': 'CreateFleet' } })),
        ...(lt?.roleArn ? [{ action: 'iam:PassRole', resource: lt.roleArn, context: { 'iam:PassedToService': 'ec2.amazonaws.com' } }] : []),
      ];
    }
    case 'sts:GetCallerIdentity':
      return [];
    default:
      return [{ action, resource: '*', context: {} }];
  }
}

/**
 * One check against the identity policies of `principal` and the resource's own policy (a KMS
 * key policy, an SNS topic policy) if it has one: 'Allowed' or why not. Every call is made over
 * TLS, as the SDK does against AWS (aws:SecureTransport).
 */
async function evaluate(principal, policies, check, resourcePolicy) {
  const r = await runSimulation({
    request: {
      principal,
      action: check.action,
      resource: { resource: check.resource, accountId: ACCOUNT },
      contextVariables: { 'aws:SecureTransport': 'true', ...check.context },
    },
    identityPolicies: policies.map((policy, i) => ({ name: `policy${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy,
  }, {});
  if (r.errors) return `not evaluated: ${JSON.stringify(r.errors)}`;
  return r.overallResult ?? r.result?.analysis?.result;
}

/** The access-denied answer each protocol gives. */
function denied(call, principal, check) {
  const message = `User: ${principal} is not authorized to perform: ${check.action} on resource: ${check.resource} because no identity-based policy allows the ${check.action} action`;
  if (call.service === 'ec2') {
    return { status: 403, type: 'text/xml', body: `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation. ${message}</Message></Error></Errors><RequestID>e2e-iam-proxy</RequestID></Response>` };
  }
  if (call.service === 'sns') {
    return { status: 403, type: 'text/xml', body: `<ErrorResponse><Error><Type>Sender</Type><Code>AuthorizationError</Code><Message>${message}</Message></Error><RequestId>e2e-iam-proxy</RequestId></ErrorResponse>` };
  }
  const prefix = call.service === 'dynamodb' ? 'com.amazonaws.dynamodb.v20120810#' : '';
  return { status: 400, type: 'application/x-amz-json-1.0', body: JSON.stringify({ __type: `${prefix}AccessDeniedException`, message, Message: message }) };
}

const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();
const rfc3986 = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * A form body encoded as botocore encodes one (Python's urlencode: space as `+`, only
 * `A-Za-z0-9_.-~` unescaped). moto checks a form request's signature over the form it parsed,
 * re-encoded that way, not over the bytes received; a body another SDK encoded differently (the
 * Rust SDK writes a space as %20) would fail that check although its signature is right.
 */
export function botocoreForm(body) {
  const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
  return Buffer.from([...new URLSearchParams(body.toString())].map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&'));
}

/** Re-signs a request (SigV4, headers host, content-type, x-amz-date, x-amz-security-token) with `creds`. */
export function resign(method, url, headers, body, creds, service) {
  const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const date = amzDate.slice(0, 8);
  const h = { host: headers.host, 'x-amz-date': amzDate };
  if (headers['content-type']) h['content-type'] = headers['content-type'];
  if (creds.SessionToken) h['x-amz-security-token'] = creds.SessionToken;
  const names = Object.keys(h).sort();
  const [path, query = ''] = url.split('?');
  const canonicalQuery = query
    ? query.split('&').map((kv) => kv.split('=').map((x) => rfc3986(decodeURIComponent(x ?? '')))).sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1)).map(([k, v = '']) => `${k}=${v}`).join('&')
    : '';
  const canonical = [method, path, canonicalQuery, names.map((n) => `${n}:${String(h[n]).trim()}\n`).join(''), names.join(';'), sha256(body)].join('\n');
  const scope = `${date}/${REGION}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = ['aws4_request'].reduce((k, part) => hmac(k, part), [REGION, service].reduce((k, part) => hmac(k, part), hmac(`AWS4${creds.SecretAccessKey}`, date)));
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  const out = { ...headers, 'x-amz-date': amzDate, 'content-length': String(body.length), authorization: `AWS4-HMAC-SHA256 Credential=${creds.AccessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}` };
  delete out['x-amz-security-token'];
  delete out['transfer-encoding'];
  if (creds.SessionToken) out['x-amz-security-token'] = creds.SessionToken;
  return out;
}

/**
 * Starts the proxy in front of `motoUrl`. `principals` maps a function's access key id to
 * { name, principal, policies, credentials }; `lookup` is as for {@link checksFor}; `admin` are
 * the keys the emulator's calls are re-signed with. A function's form-encoded call is passed on
 * with its body re-encoded as botocore would (see {@link botocoreForm}) and signed again with
 * the same function's credentials: the same caller, a body moto can check. Returns { url, decisions, close() }; `decisions` lists
 * { fn, action, resource, context, result } in call order.
 */
export async function startIamProxy({ motoUrl, principals, lookup, admin }) {
  const decisions = [];
  const target = new URL(motoUrl);
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    let body = Buffer.concat(chunks);
    let headers = { ...req.headers };
    try {
      const call = parseCall(headers, body);
      const who = principals.get(call.accessKey);
      const form = !headers['x-amz-target'] && String(headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
      if (call.accessKey === EMULATOR_KEY) {
        if (form) body = botocoreForm(body);
        headers = resign(req.method, req.url, headers, body, admin(), call.signingName);
      } else if (who) {
        for (const check of await checksFor(call, lookup)) {
          const result = await evaluate(who.principal, who.policies, check, lookup.resourcePolicy(check.resource));
          decisions.push({ fn: who.name, ...check, result });
          if (result !== 'Allowed') {
            const d = denied(call, who.principal, check);
            res.writeHead(d.status, { 'content-type': d.type }).end(d.body);
            return;
          }
        }
        if (call.signingName !== call.service) {
          // moto names the action after the signing name (`monitoring:GetMetricData`), which no
          // policy grants; the checks above used the IAM name, so the call goes on as the rig.
          if (form) body = botocoreForm(body);
          headers = resign(req.method, req.url, headers, body, admin(), call.signingName);
        } else if (form) {
          body = botocoreForm(body);
          headers = resign(req.method, req.url, headers, body, who.credentials, call.signingName);
        }
      }
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`iam proxy: ${e.stack}`);
      return;
    }
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', (e) => res.writeHead(502).end(String(e)));
    up.end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    decisions,
    close: () => new Promise((r) => server.close(r)),
  };
}
