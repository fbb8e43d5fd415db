/**
 * The stack's side of Prometheus over TLS (docs/SECURITY_CHECKLIST.md, item 6): the functions
 * reach Prometheus by `https://`, only the master may write the Prometheus secret (it adds the CA
 * certificate it made), and the functions may only read it.
 */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asList, identityStatements, resourcesOfType, synthCached } from './helpers';

const s = synthCached();
const secretId = Object.keys(resourcesOfType(s, 'AWS::SecretsManager::Secret')).find((id) => id.startsWith('PrometheusBasicAuth'))!;
const ref = JSON.stringify({ Ref: secretId });

describe('Prometheus over TLS: the stack', () => {
  it('every function that has PROMETHEUS_URL reaches Prometheus by https:// on the master', () => {
    const fns = Object.values(resourcesOfType(s, 'AWS::Lambda::Function')).filter((f) => f.Properties!.Environment?.Variables?.PROMETHEUS_URL);
    assert.ok(fns.length > 0);
    for (const f of fns) {
      const url = JSON.stringify(f.Properties!.Environment.Variables.PROMETHEUS_URL);
      assert.match(url, /https:\/\//, url);
      assert.doesNotMatch(url, /http:\/\/(?!\/)/, url);
    }
  });
  it('only the master role may write the Prometheus secret; the functions may only read it', () => {
    const roles = resourcesOfType(s, 'AWS::IAM::Role');
    const masterRole = Object.keys(roles).find((id) => /^MasterRole/.test(id))!;
    assert.ok(masterRole, 'a master role');
    const onSecret = identityStatements(s).filter(({ statement }) => statement.Effect === 'Allow' && JSON.stringify(statement.Resource ?? '').includes(ref));
    const writers = onSecret.filter(({ statement }) => asList(statement.Action).some((a) => a !== 'secretsmanager:GetSecretValue')).map((x) => x.owner);
    assert.deepEqual([...new Set(writers)], [masterRole]);
    const masterActions = onSecret.filter((x) => x.owner === masterRole).flatMap((x) => asList(x.statement.Action));
    assert.ok(masterActions.includes('secretsmanager:PutSecretValue'), masterActions.join(','));
    assert.ok(onSecret.some((x) => x.owner !== masterRole), 'functions read it');
  });
});
