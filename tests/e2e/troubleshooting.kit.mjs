// What an operator has on the stand-ins: the scaling machine's executions recorded in moto's Step
// Functions API (so `smartscale status` and the page's `aws stepfunctions` commands read them as
// they would on AWS), the operator's environment (the aws CLI and kubectl pointed at the
// scenario's moto and emulator, `smartscale` with the functions' configuration), and the
// commands docs/TROUBLESHOOTING.md gives, read from the page itself so the page and the scenario
// that follows it cannot drift apart.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, machineId } from './deployment.mjs';
import { run } from './invoke.mjs';
import { sleep } from './standins.mjs';

const HERE = join(ROOT, 'tests', 'e2e');

/** One AWS API call as the rig's administrator, straight to the scenario's moto. */
async function adminCall(s, service, operation, params) {
  const env = {
    PATH: process.env.PATH, AWS_ENDPOINT_URL: s.motoUrl, AWS_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_ACCESS_KEY_ID: s.aws.admin.AccessKeyId, AWS_SECRET_ACCESS_KEY: s.aws.admin.SecretAccessKey,
  };
  const args = { endpoint: s.motoUrl, credentials: s.aws.admin, service, operation, params };
  const r = await run(process.env.SMARTSCALE_PYTHON, [join(HERE, 'aws_fixture.py'), 'call', JSON.stringify(args)], { env });
  if (r.code !== 0) throw new Error(`${service}.${operation} failed:\n${r.stderr}`);
  const out = JSON.parse(r.stdout);
  if (out.error) throw new Error(`${service}.${operation}: ${out.error}: ${out.message}`);
  return out.ok;
}

/**
 * The recorder of scenario `s`'s scaling executions in moto's Step Functions API.
 *
 * The rig runs each execution in aws-local-stepfunctions (moto cannot invoke the step binaries),
 * so a finished local execution is recorded in moto as an execution of the same name of a state
 * machine of the same name as the deployed one (`smartscale-<cluster>-scaling`, the name
 * `$$.Execution.Id` and the lease holder carry). That machine has one state per state of the
 * real definition, named alike: a Succeed state gives the recorded output, a Fail state the
 * recorded error and cause, any other state waits and is stopped there (an aborted execution).
 * So DescribeExecution, GetExecutionHistory and ListExecutions answer what they would have
 * answered for the real run: status, output (with its decision), error, the last state entered.
 * Only the times are the recording's, not the run's. moto runs the machine with its
 * `execute_state_machine` setting, turned on here.
 */
export async function executionRecorder(s) {
  const res = await fetch(`${s.motoUrl}/moto-api/config`, { method: 'POST', body: JSON.stringify({ stepfunctions: { execute_state_machine: true } }) });
  if (!res.ok) throw new Error(`moto config: HTTP ${res.status}`);
  const real = s.aws.machines[machineId(s.template, 'scaling')];
  const states = { Replay: { Type: 'Choice', Choices: [], Default: 'Done' } };
  for (const [name, def] of Object.entries(real.definition.States)) {
    states.Replay.Choices.push({ Variable: '$.state', StringEquals: name, Next: name });
    if (def.Type === 'Succeed') states[name] = { Type: 'Succeed', OutputPath: '$.output' };
    else if (def.Type === 'Fail') states[name] = { Type: 'Fail', ErrorPath: '$.error', CausePath: '$.cause' };
    else states[name] = { Type: 'Wait', Seconds: 86400, Next: 'Replay' };
  }
  const { stateMachineArn } = await adminCall(s, 'stepfunctions', 'create_state_machine', {
    name: real.name,
    roleArn: 'arn:aws:iam::123456789012:role/smartscale-e2e-recorder',
    definition: JSON.stringify({ Comment: 'the rig\'s record of executions run in aws-local-stepfunctions', StartAt: 'Replay', States: states }),
  });
  const lastEntered = async (arn) => {
    const h = await adminCall(s, 'stepfunctions', 'get_execution_history', { executionArn: arn, maxResults: 1000 });
    return h.events.filter((e) => e.type.endsWith('StateEntered')).at(-1)?.stateEnteredEventDetails?.name;
  };
  return {
    arn: stateMachineArn,
    /** Records `tick` (what Scenario.tick returns) and resolves once moto shows it as it ended. */
    async record(tick) {
      const state = tick.visited.at(-1);
      const input = { state, output: tick.output ?? null, error: tick.error?.Error ?? '', cause: tick.error?.Cause ?? '' };
      const { executionArn } = await adminCall(s, 'stepfunctions', 'start_execution', {
        stateMachineArn, name: tick.executionArn.split(':').pop(), input: JSON.stringify(input),
      });
      for (let i = 0; i < 100; i++) {
        const d = await adminCall(s, 'stepfunctions', 'describe_execution', { executionArn });
        if (tick.status === 'ABORTED') {
          if ((await lastEntered(executionArn)) === state) {
            await adminCall(s, 'stepfunctions', 'stop_execution', { executionArn, error: 'Aborted', cause: 'the execution was aborted (the rig\'s crash)' });
            return executionArn;
          }
        } else if (d.status !== 'RUNNING') {
          return executionArn;
        }
        await sleep(200);
      }
      throw new Error(`moto did not finish recording ${executionArn}`);
    },
  };
}

/**
 * The operator's shell on the stand-ins: the variables docs/TROUBLESHOOTING.md's "Before you
 * start" sets (read from the rig here: moto has no CloudFormation stack to ask), the aws CLI and
 * kubectl pointed at the scenario's moto and emulator with the administrator's keys, and
 * `smartscale` given the evaluate function's environment as deployed (`--env-file`, what `aws
 * lambda get-function-configuration` would print, with the rig's Prometheus address).
 */
export function operatorShell(s, recorderArn) {
  const kubeconfig = join(s.dir, 'operator.kubeconfig');
  writeFileSync(kubeconfig, [
    'apiVersion: v1', 'kind: Config', 'current-context: stand-ins',
    `clusters: [{name: stand-ins, cluster: {server: "${s.emulatorUrl}"}}]`,
    'users: [{name: operator, user: {token: operator}}]',
    'contexts: [{name: stand-ins, context: {cluster: stand-ins, user: operator}}]', '',
  ].join('\n'));
  const envFile = join(s.dir, 'evaluate.env.json');
  writeFileSync(envFile, JSON.stringify({ ...s.fn('evaluate').environment, PROMETHEUS_URL: s.prometheusUrl }));
  const env = {
    PATH: process.env.PATH,
    HOME: s.dir,
    AWS_ENDPOINT_URL: s.motoUrl,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: s.aws.admin.AccessKeyId,
    AWS_SECRET_ACCESS_KEY: s.aws.admin.SecretAccessKey,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    KUBECONFIG: kubeconfig,
    CLUSTER: s.cluster,
    TABLE: s.aws.table,
    SM: recorderArn,
    KEY: JSON.stringify({ cluster_id: { S: s.cluster } }),
  };
  const kubectl = process.env.KUBECTL ?? 'kubectl';
  // What the person ran and saw, kept with the scenario's logs (scripts/testing-results.sh shows it).
  const transcript = (command, r) => {
    appendFileSync(join(s.logs, 'operator.txt'), `$ ${command}\n${r.stdout}${r.stderr ? r.stderr : ''}${r.code ? `(exit ${r.code})\n` : ''}\n`);
    return r;
  };
  return {
    env,
    envFile,
    kubeconfig,
    /** `smartscale <args…> --cluster <id> --env-file <file>`: resolves { code, stdout, stderr }. */
    smartscale: async (...args) => transcript(`smartscale ${args.join(' ')} --cluster ${s.cluster} --env-file evaluate.env.json`,
      await run(join(process.env.SMARTSCALE_BIN_DIR, 'smartscale'), [...args, '--cluster', s.cluster, '--env-file', envFile], { env })),
    /** Runs one shell command as the page gives it, `kubectl` being Debian's kubectl. */
    sh: async (command, vars = {}) => transcript(command,
      await run('bash', ['-c', `kubectl() { "${kubectl}" "$@"; }\nset -o pipefail\n${command}`], { env: { ...env, ...vars } })),
  };
}

const PAGE = join(ROOT, 'docs', 'TROUBLESHOOTING.md');

/** The text of section `## heading` of docs/TROUBLESHOOTING.md, up to the next `## `. */
export function section(heading) {
  const text = readFileSync(PAGE, 'utf8');
  const start = text.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`docs/TROUBLESHOOTING.md has no section "## ${heading}"`);
  const rest = text.slice(start + heading.length + 5);
  const end = rest.indexOf('\n## ');
  return end < 0 ? rest : rest.slice(0, end);
}

/**
 * The shell commands of the `n`th bash block of `sectionText`, one string each: continuation
 * lines joined, comments and blank lines dropped.
 */
export function commands(sectionText, n = 0) {
  const blocks = [...sectionText.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]);
  if (!blocks[n]) throw new Error(`no bash block #${n + 1} in the section`);
  const out = [];
  let current = '';
  for (const line of blocks[n].split('\n')) {
    if (!current && (line.trim() === '' || line.trim().startsWith('#'))) continue;
    current += current ? `\n${line}` : line;
    if (line.endsWith('\\')) continue;
    out.push(current);
    current = '';
  }
  return out;
}

/** The placeholders (`<lock_owner>`, `<operation.id>`) of a command. */
export const placeholders = (command) => [...command.matchAll(/<([a-z_.]+)>/g)].map((m) => m[1]);

/**
 * The value of placeholder `name` (`lock_owner`, `operation.id`, `node`) in the DynamoDB item
 * `item` as `aws dynamodb get-item` prints it: the attribute path, with `node` meaning the
 * operation's node.
 */
export function fill(name, item) {
  const path = name === 'node' ? ['operation', 'node_name'] : name.split('.');
  let v = { M: item };
  for (const key of path) {
    v = v?.M?.[key];
    if (!v) throw new Error(`placeholder <${name}>: the item has no ${path.join('.')}: ${JSON.stringify(item)}`);
  }
  return v.S ?? v.N;
}
