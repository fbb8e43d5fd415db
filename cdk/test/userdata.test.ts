/**
 * User-data scripts: shellcheck on the sources and on the rendered user data, and the worker
 * script run twice in a sandbox (temporary root, stub aws/curl/systemctl/IMDS on PATH) to prove
 * it is idempotent: the second run installs nothing and leaves the same files.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { ecrCredentialProvider, k3sBinary } from '../lib/supply-chain';
import { renderUserData, userDataScriptPath, withoutComments } from '../lib/userdata';
import { CDK_DIR } from '../lib/sources';

const STUBS = path.join(CDK_DIR, 'test', 'fixtures', 'userdata-stubs');
/** The pinned-download settings of the sandbox: the release URL, and the sum of the stub k3s binary the curl stub serves. */
const K3S_VERSION = 'v1.31.4+k3s1';
const PINS = {
  K3S_VERSION,
  K3S_BINARY_URL: k3sBinary(K3S_VERSION).url,
  K3S_SHA256: crypto.createHash('sha256').update(fs.readFileSync(path.join(STUBS, 'k3s.sh'))).digest('hex'),
};
/** A pinned credential provider: the settings the stack renders, with the sum of the bytes the curl stub serves. */
const PROVIDER = ecrCredentialProvider({ version: 'v1.31.1', sha256: crypto.createHash('sha256').update('stub binary\n').digest('hex') })!;
const WITH_PROVIDER = { ECR_CREDENTIAL_PROVIDER_VERSION: PROVIDER.version, ECR_CREDENTIAL_PROVIDER_URL: PROVIDER.url, ECR_CREDENTIAL_PROVIDER_SHA256: PROVIDER.sha256! };
const requireTools = process.env.CI === 'true';

function haveShellcheck(): boolean {
  return spawnSync('shellcheck', ['--version']).status === 0;
}

describe('shellcheck', () => {
  const available = haveShellcheck();
  it('shellcheck is installed (required in CI)', { skip: !available && !requireTools && 'not installed' }, () => {
    assert.ok(available, 'shellcheck is required in CI (scripts/test-cdk.sh installs it)');
  });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'smartscale-ud-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const rendered = {
    'worker.rendered.sh': renderUserData('worker.sh', { CLUSTER_ID: 'c', AWS_REGION: 'us-east-1', ...PINS, K3S_TOKEN_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:1:secret:x'y" }),
    'master.rendered.sh': renderUserData('master.sh', { CLUSTER_ID: 'c', AWS_REGION: 'us-east-1', ...PINS, MANIFESTS_S3_URL: 's3://b/k.zip', DEMO_APP_IMAGE: 'r:latest' }),
  };
  const files = [userDataScriptPath('worker.sh'), userDataScriptPath('master.sh'), ...fs.readdirSync(STUBS).map((f) => path.join(STUBS, f))];
  for (const [name, text] of Object.entries(rendered)) {
    fs.writeFileSync(path.join(tmp, name), text);
    files.push(path.join(tmp, name));
  }
  for (const f of files) {
    it(`${path.basename(f)} passes shellcheck`, { skip: !available && 'shellcheck not installed' }, () => {
      const r = spawnSync('shellcheck', ['--shell=bash', '--severity=style', '--external-sources', f], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout + r.stderr);
    });
  }
  it('rendering inlines the shared K3s installer (user data is one file) and fetches no install script', () => {
    for (const text of Object.values(rendered)) {
      assert.doesNotMatch(text, /# inlined by renderUserData/);
      assert.match(text, /^install_k3s\(\) \{$/m);
      assert.match(text, /^verified_download\(\) \{$/m);
      assert.doesNotMatch(text, /get\.k3s\.io/);
    }
  });
  it('rendering drops comment lines but keeps here-documents whole', () => {
    assert.equal(withoutComments('a\n  # note\n#\ncat <<EOF\n# kept\nEOF\n# shellcheck disable=SC2016\nb # tail kept'), 'a\ncat <<EOF\n# kept\nEOF\n# shellcheck disable=SC2016\nb # tail kept');
    for (const text of Object.values(rendered)) assert.equal(text.split('\n').filter((l) => /^\s*# (?!shellcheck)/.test(l)).length, 1, 'only the settings banner');
  });
  it('rendering quotes values so a quote cannot break out of the assignment', () => {
    assert.match(rendered['worker.rendered.sh'], /export K3S_TOKEN_SECRET_ARN='arn:aws:secretsmanager:us-east-1:1:secret:x'"'"'y'/);
  });
});

/** A sandbox root with the stub commands first on PATH; returns how to run `script` in it. */
function sandbox(script: 'worker.sh' | 'master.sh' = 'worker.sh', settings: Record<string, string> = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'smartscale-worker-'));
  const bin = path.join(root, 'stub-bin');
  fs.mkdirSync(bin);
  for (const f of fs.readdirSync(STUBS)) {
    const target = path.join(bin, f.replace(/\.sh$/, ''));
    fs.copyFileSync(path.join(STUBS, f), target);
    fs.chmodSync(target, 0o755);
  }
  const env = {
    PATH: `${bin}:/usr/bin:/bin`,
    HOME: root,
    SMARTSCALE_ROOT: root,
    SMARTSCALE_IMDS_URL: 'http://imds.stub',
    SMARTSCALE_RETRY_SLEEP: '0',
    STUB_LOG: path.join(root, 'calls.log'),
    STUB_STATE: path.join(root, 'stub-state'),
    CLUSTER_ID: 'smartscale-test',
    AWS_REGION: 'us-east-1',
    ...PINS,
    K3S_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:k3s-token',
    ...settings,
  };
  fs.mkdirSync(env.STUB_STATE);
  const run = (extra: Record<string, string> = {}) => spawnSync('bash', [userDataScriptPath(script)], { env: { ...env, ...extra }, encoding: 'utf8' });
  const calls = () => (fs.existsSync(env.STUB_LOG) ? fs.readFileSync(env.STUB_LOG, 'utf8').trim().split('\n') : []);
  const resetCalls = () => fs.rmSync(env.STUB_LOG, { force: true });
  const snapshot = () => {
    const out: Record<string, string> = {};
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        const rel = path.relative(root, p);
        if (rel.startsWith('stub-') || rel === 'calls.log' || rel === 'var/lib/smartscale/bootstrapped') continue;
        if (e.isDirectory()) walk(p);
        else out[rel] = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex') + ` ${(fs.statSync(p).mode & 0o777).toString(8)}`;
      }
    };
    walk(root);
    return out;
  };
  return { root, env, run, calls, resetCalls, snapshot, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}

describe('worker user data in a sandbox', () => {

  it('first run installs K3s and the pinned credential provider (verified), writes the agent config and starts k3s-agent', () => {
    const sb = sandbox('worker.sh', WITH_PROVIDER);
    try {
      const r = sb.run();
      assert.equal(r.status, 0, r.stderr);
      const calls = sb.calls();
      assert.ok(calls.includes(`curl-download k3s ${PINS.K3S_BINARY_URL}`), calls.join('\n'));
      assert.ok(calls.includes('curl-download ecr-credential-provider'), calls.join('\n'));
      assert.ok(calls.includes('systemctl restart k3s-agent'), calls.join('\n'));
      const cfg = fs.readFileSync(path.join(sb.root, 'etc/rancher/k3s/config.yaml'), 'utf8');
      assert.match(cfg, /^server: https:\/\/10\.0\.11\.10:6443$/m);
      assert.match(cfg, /provider-id=aws:\/\/\/us-east-1a\/i-0123456789abcdef0/);
      assert.match(cfg, /topology\.kubernetes\.io\/zone=us-east-1a/);
      assert.match(cfg, /node\.kubernetes\.io\/instance-type=t3\.small/);
      assert.match(cfg, /smartscale\.io\/managed=true/);
      const token = path.join(sb.root, 'etc/rancher/k3s/token');
      assert.equal(fs.readFileSync(token, 'utf8').trim(), 'K10stubtoken::server:stub');
      assert.equal(fs.statSync(token).mode & 0o777, 0o600);
      assert.ok(!(r.stdout + r.stderr).includes('K10stubtoken'), 'the join token was printed');
      assert.equal(fs.readFileSync(path.join(sb.root, 'usr/local/bin/k3s'), 'utf8'), fs.readFileSync(path.join(STUBS, 'k3s.sh'), 'utf8'));
      assert.match(fs.readFileSync(path.join(sb.root, 'etc/systemd/system/k3s-agent.service'), 'utf8'), /^ExecStart=\/usr\/local\/bin\/k3s agent$/m);
      assert.equal(fs.readFileSync(path.join(sb.root, 'var/lib/rancher/credentialprovider/bin/ecr-credential-provider'), 'utf8'), 'stub binary\n');
      assert.match(r.stderr, new RegExp(`installing ecr-credential-provider v1\\.31\\.1, sha256 ${PROVIDER.sha256}`));
      assert.match(cfg, /image-credential-provider-bin-dir=/);
      assert.ok(calls.some((c) => c.includes('describe-instances') && c.includes('Name=tag:Role,Values=k3s-master') && c.includes('Name=tag:Cluster,Values=smartscale-test')));
    } finally {
      sb.cleanup();
    }
  });

  it('second run installs nothing, restarts nothing and leaves identical files', () => {
    const sb = sandbox('worker.sh', WITH_PROVIDER);
    try {
      assert.equal(sb.run().status, 0);
      const before = sb.snapshot();
      sb.resetCalls();
      const r = sb.run();
      assert.equal(r.status, 0, r.stderr);
      const calls = sb.calls();
      assert.deepEqual(calls.filter((c) => c.startsWith('curl-download') || c.startsWith('systemctl restart')), []);
      assert.ok(calls.includes('systemctl is-active --quiet k3s-agent'), 'checks the agent');
      assert.deepEqual(sb.snapshot(), before);
    } finally {
      sb.cleanup();
    }
  });

  it('a moved master rewrites the config and restarts the agent without reinstalling', () => {
    const sb = sandbox();
    try {
      assert.equal(sb.run().status, 0);
      sb.resetCalls();
      const r = sb.run({ STUB_MASTER_IP: '10.0.12.20' });
      assert.equal(r.status, 0, r.stderr);
      const calls = sb.calls();
      assert.ok(calls.includes('systemctl restart k3s-agent'));
      assert.ok(!calls.some((c) => c.startsWith('curl-download k3s')));
      assert.match(fs.readFileSync(path.join(sb.root, 'etc/rancher/k3s/config.yaml'), 'utf8'), /10\.0\.12\.20/);
    } finally {
      sb.cleanup();
    }
  });

  it('without a pinned credential provider nothing is downloaded for it and the node joins without it', () => {
    const sb = sandbox();
    try {
      const r = sb.run();
      assert.equal(r.status, 0, r.stderr);
      assert.ok(!sb.calls().includes('curl-download ecr-credential-provider'), sb.calls().join('\n'));
      assert.match(r.stderr, /ecr-credential-provider not pinned .*not installed; private ECR images will not pull/);
      assert.ok(!fs.existsSync(path.join(sb.root, 'var/lib/rancher/credentialprovider/bin/ecr-credential-provider')));
      assert.ok(!fs.readFileSync(path.join(sb.root, 'etc/rancher/k3s/config.yaml'), 'utf8').includes('image-credential-provider'));
      assert.ok(sb.calls().includes('systemctl restart k3s-agent'));
    } finally {
      sb.cleanup();
    }
  });

  it('a credential provider version without its sha256 is refused before anything is installed', () => {
    const sb = sandbox('worker.sh', { ECR_CREDENTIAL_PROVIDER_VERSION: PROVIDER.version, ECR_CREDENTIAL_PROVIDER_URL: PROVIDER.url });
    try {
      const r = sb.run();
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /ECR_CREDENTIAL_PROVIDER_SHA256 is required with ECR_CREDENTIAL_PROVIDER_VERSION/);
      assert.deepEqual(sb.calls().filter((c) => c.startsWith('curl-download')), []);
    } finally {
      sb.cleanup();
    }
  });

  it('an unreachable credential provider does not stop the join; a later run adds it', () => {
    const sb = sandbox('worker.sh', WITH_PROVIDER);
    try {
      const r = sb.run({ STUB_ECR_PROVIDER_DOWN: '1' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /WARNING: could not install ecr-credential-provider/);
      const cfgPath = path.join(sb.root, 'etc/rancher/k3s/config.yaml');
      assert.ok(!fs.readFileSync(cfgPath, 'utf8').includes('image-credential-provider'));
      sb.resetCalls();
      assert.equal(sb.run().status, 0);
      assert.ok(fs.readFileSync(cfgPath, 'utf8').includes('image-credential-provider-bin-dir'));
      assert.ok(sb.calls().includes('systemctl restart k3s-agent'));
      assert.ok(!sb.calls().some((c) => c.startsWith('curl-download k3s')));
    } finally {
      sb.cleanup();
    }
  });

  it('a K3s binary whose sha256 is not the pinned one is refused: nothing installed, nothing started', () => {
    const sb = sandbox();
    try {
      const r = sb.run({ STUB_K3S_TAMPERED: '1' });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, new RegExp(`sha256 [0-9a-f]{64} is not the pinned ${PINS.K3S_SHA256}; refused`));
      assert.ok(!fs.existsSync(path.join(sb.root, 'usr/local/bin/k3s')), 'the binary was installed');
      assert.ok(!fs.existsSync(path.join(sb.root, 'etc/systemd/system/k3s-agent.service')), 'the unit was written');
      assert.ok(!sb.calls().some((c) => c.startsWith('systemctl restart')), sb.calls().join('\n'));
    } finally {
      sb.cleanup();
    }
  });

  it('a pinned credential-provider sum refuses other bytes and the node joins without it', () => {
    const sb = sandbox('worker.sh', { ...WITH_PROVIDER, ECR_CREDENTIAL_PROVIDER_SHA256: '0'.repeat(64) });
    try {
      const r = sb.run();
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /ecr-credential-provider-linux-amd64: sha256 [0-9a-f]{64} is not the pinned 0{64}; refused/);
      assert.ok(!fs.existsSync(path.join(sb.root, 'var/lib/rancher/credentialprovider/bin/ecr-credential-provider')));
      assert.ok(!fs.readFileSync(path.join(sb.root, 'etc/rancher/k3s/config.yaml'), 'utf8').includes('image-credential-provider'));
    } finally {
      sb.cleanup();
    }
  });

  it('fails when k3s-agent never becomes active', () => {
    const sb = sandbox();
    try {
      const r = sb.run({ STUB_AGENT_NEVER_ACTIVE: '1' });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /k3s-agent is not active/);
    } finally {
      sb.cleanup();
    }
  });

  it('waits for the master to store a real K3s token (placeholder value first)', () => {
    const sb = sandbox();
    try {
      const r = sb.run({ STUB_TOKEN_PLACEHOLDER_READS: '2' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(sb.calls().filter((c) => c.includes('get-secret-value')).length, 3);
    } finally {
      sb.cleanup();
    }
  });

  it('refuses to run without its settings', () => {
    const r = spawnSync('bash', [userDataScriptPath('worker.sh')], { env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /CLUSTER_ID is required/);
  });
});

describe('master user data in a sandbox', () => {
  const tools = ['jq', 'htpasswd', 'python3', 'openssl'].filter((t) => spawnSync(t, ['version']).error !== undefined);
  const arns = {
    K3S_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:k3s-token',
    K8S_CREDENTIALS_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:k8s',
    PROMETHEUS_AUTH_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prom',
    GRAFANA_ADMIN_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:grafana',
  };
  const stored = (sb: ReturnType<typeof sandbox>, arn: string) => fs.readFileSync(path.join(sb.env.STUB_STATE, `secret-${arn.replace(/[^A-Za-z0-9]/g, '_')}`), 'utf8').trim();

  it('publishes only the agent token for the workers and enforces baseline Pod Security by default', { skip: tools.length > 0 && !requireTools && `missing ${tools.join(', ')}` }, () => {
    const sb = sandbox('master.sh', { ...arns, STUB_ROLE: 'master', MANIFESTS_S3_URL: 's3://bucket/manifests.zip', DEMO_APP_IMAGE: 'repo:latest' });
    try {
      const r = sb.run();
      assert.equal(r.status, 0, r.stderr);
      const agentFile = path.join(sb.root, 'var/lib/smartscale/agent-token');
      const agent = fs.readFileSync(agentFile, 'utf8').trim();
      assert.match(agent, /^[0-9a-f]{64}$/);
      assert.equal(fs.statSync(agentFile).mode & 0o777, 0o600);
      const workerSecret = stored(sb, arns.K3S_TOKEN_SECRET_ARN);
      assert.equal(workerSecret, `K10cahash::node:${agent}`, 'the workers get the agent token');
      assert.ok(!workerSecret.includes('::server:'), 'never the server token');
      assert.ok(!(r.stdout + r.stderr).includes(agent), 'the agent token was printed');
      const cfg = fs.readFileSync(path.join(sb.root, 'etc/rancher/k3s/config.yaml'), 'utf8');
      assert.ok(cfg.includes(`agent-token-file: ${agentFile}`), cfg);
      const psa = path.join(sb.root, 'etc/rancher/k3s/psa.yaml');
      assert.ok(cfg.includes(`admission-control-config-file=${psa}`), cfg);
      assert.match(fs.readFileSync(psa, 'utf8'), /defaults:\n\s+enforce: baseline\n/);
      assert.match(fs.readFileSync(path.join(sb.root, 'etc/systemd/system/k3s.service'), 'utf8'), /^Type=notify\nKillMode=process$/m);
      assert.ok(sb.calls().includes(`curl-download k3s ${PINS.K3S_BINARY_URL}`), sb.calls().join('\n'));
      // A second run keeps the same agent token (workers that joined keep working).
      assert.equal(sb.run().status, 0);
      assert.equal(fs.readFileSync(agentFile, 'utf8').trim(), agent);
    } finally {
      sb.cleanup();
    }
  });

  it('makes Prometheus\'s TLS key and certificate on the master and publishes only the CA certificate', { skip: tools.length > 0 && !requireTools && `missing ${tools.join(', ')}` }, () => {
    const sb = sandbox('master.sh', { ...arns, STUB_ROLE: 'master', MANIFESTS_S3_URL: 's3://bucket/manifests.zip', DEMO_APP_IMAGE: 'repo:latest' });
    try {
      const r = sb.run();
      assert.equal(r.status, 0, r.stderr);
      const k8s = (secret: string, key: string) => path.join(sb.env.STUB_STATE, `k8s-${secret}`, key);
      const tlsDir = path.join(sb.root, 'var/lib/smartscale/prometheus-tls');
      // The server key: on the master's disk (0600) and in the in-cluster secret, nowhere else.
      const key = fs.readFileSync(path.join(tlsDir, 'tls.key'), 'utf8');
      assert.match(key, /-----BEGIN PRIVATE KEY-----/);
      assert.equal(fs.statSync(path.join(tlsDir, 'tls.key')).mode & 0o777, 0o600);
      assert.equal(fs.readFileSync(k8s('prometheus-tls', 'tls.key'), 'utf8'), key);
      assert.ok(!(r.stdout + r.stderr).includes(key.split('\n')[1]!), 'the key was printed');
      const keys: string[] = [];
      const walk = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) walk(p);
          else if (fs.readFileSync(p, 'utf8').includes('PRIVATE KEY')) keys.push(path.relative(sb.root, p));
        }
      };
      walk(path.join(sb.root, 'var'));
      walk(path.join(sb.root, 'etc'));
      assert.deepEqual(keys, ['var/lib/smartscale/prometheus-tls/tls.key'], 'the CA key is discarded once it has signed');
      // The published secret: the basic-auth pair as it was, plus the CA certificate only.
      const published = JSON.parse(stored(sb, arns.PROMETHEUS_AUTH_SECRET_ARN));
      assert.deepEqual(Object.keys(published).sort(), ['ca', 'password', 'username']);
      assert.equal(published.password, 'stub-pass');
      assert.match(published.ca, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
      assert.ok(!published.ca.includes('PRIVATE KEY'));
      // The server certificate chains to that CA, serves TLS, and names the master's address and the service.
      const caFile = path.join(sb.root, 'published-ca.crt');
      fs.writeFileSync(caFile, published.ca);
      const crt = k8s('prometheus-tls', 'tls.crt');
      const verify = spawnSync('openssl', ['verify', '-CAfile', caFile, '-purpose', 'sslserver', crt], { encoding: 'utf8' });
      assert.equal(verify.status, 0, verify.stdout + verify.stderr);
      const san = spawnSync('openssl', ['x509', '-in', crt, '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' }).stdout;
      for (const name of ['IP Address:10.0.11.10', 'IP Address:127.0.0.1', 'DNS:localhost', 'DNS:prometheus.monitoring.svc.cluster.local']) assert.ok(san.includes(name), `${name} in ${san}`);
      // The web config serves that pair from the paths the StatefulSet mounts, next to basic auth.
      const web = fs.readFileSync(k8s('prometheus-web-config', 'web.yml'), 'utf8');
      assert.match(web, /^tls_server_config:\n {2}cert_file: \/etc\/prometheus\/tls\/tls\.crt\n {2}key_file: \/etc\/prometheus\/tls\/tls\.key\nbasic_auth_users:\n {2}stub-user: \$2y\$10\$/);
      const manifest = fs.readFileSync(path.join(CDK_DIR, 'manifests', 'smartscale-30-prometheus.yaml'), 'utf8');
      for (const item of ['tls/tls.crt', 'tls/tls.key', 'tls/ca.crt']) assert.ok(manifest.includes(`path: ${item}`), `the StatefulSet mounts ${item}`);
      // A second run keeps the certificate (the Lambdas' trust stays valid) and rewrites nothing.
      const before = fs.readFileSync(path.join(tlsDir, 'tls.crt'), 'utf8');
      sb.resetCalls();
      assert.equal(sb.run().status, 0);
      assert.equal(fs.readFileSync(path.join(tlsDir, 'tls.crt'), 'utf8'), before);
      assert.ok(!sb.calls().some((c) => c.includes('put-secret-value')), sb.calls().join('\n'));
      // A master at another address makes a new certificate for it.
      sb.resetCalls();
      assert.equal(sb.run({ STUB_LOCAL_IPV4: '10.0.12.30' }).status, 0);
      assert.ok(spawnSync('openssl', ['x509', '-in', path.join(tlsDir, 'tls.crt'), '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' }).stdout.includes('IP Address:10.0.12.30'));
      assert.ok(sb.calls().some((c) => c.includes('put-secret-value') && c.includes(arns.PROMETHEUS_AUTH_SECRET_ARN)), 'the new CA is published');
    } finally {
      sb.cleanup();
    }
  });
});
