/** Shared test helpers: synthesise the stack with synth-only placeholders and read its template. */
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { configFromContext } from '../lib/config';
import { SmartScaleStack } from '../lib/smartscale-stack';
import { CDK_DIR } from '../lib/sources';

/** Repository root (the parent of cdk/). */
export const REPO_ROOT = path.resolve(CDK_DIR, '..');

/** A CloudFormation resource as it appears in the synthesised template. */
export interface CfnResource {
  Type: string;
  Properties?: Record<string, any>;
  Metadata?: Record<string, any>;
  Condition?: string;
}

/** One IAM statement in a template (values may be intrinsic functions). */
export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
  Principal?: unknown;
}

/** The synthesised stack, its template and the raw template JSON. */
export interface Synth {
  stack: SmartScaleStack;
  template: Template;
  json: { Resources: Record<string, CfnResource>; Outputs?: Record<string, any>; Parameters?: Record<string, any> };
}

/** Synthesises one stack with placeholders on and the given extra context (no account/region: env-agnostic). */
export function synth(context: Record<string, unknown> = {}, build?: (app: App, stack: SmartScaleStack) => void): Synth {
  const app = new App({ context: { synthOnlyPlaceholders: 'true', ...context } });
  const cfg = configFromContext((k) => app.node.tryGetContext(k), REPO_ROOT, {});
  const stack = new SmartScaleStack(app, 'Test', { config: cfg });
  build?.(app, stack);
  const template = Template.fromStack(stack);
  return { stack, template, json: template.toJSON() as Synth['json'] };
}

const cache = new Map<string, Synth>();
/** Like {@link synth} but memoised per context (synthesis takes seconds). */
export function synthCached(context: Record<string, unknown> = {}): Synth {
  const key = JSON.stringify(context);
  if (!cache.has(key)) cache.set(key, synth(context));
  return cache.get(key)!;
}

/** Resources of one type, by logical id. */
export function resourcesOfType(s: Synth, type: string): Record<string, CfnResource> {
  return Object.fromEntries(Object.entries(s.json.Resources).filter(([, r]) => r.Type === type));
}

/** `x` as a list. */
export function asList<T>(x: T | T[] | undefined): T[] {
  return x === undefined ? [] : Array.isArray(x) ? x : [x];
}

/** Every IAM statement of every identity policy in the template (roles' inline policies and AWS::IAM::Policy). */
export function identityStatements(s: Synth): { owner: string; statement: Statement }[] {
  const out: { owner: string; statement: Statement }[] = [];
  for (const [id, r] of Object.entries(s.json.Resources)) {
    if (r.Type === 'AWS::IAM::Role') {
      for (const p of asList(r.Properties?.Policies as any[])) for (const st of asList<Statement>(p.PolicyDocument.Statement)) out.push({ owner: id, statement: st });
    }
    if (r.Type === 'AWS::IAM::Policy') {
      for (const st of asList<Statement>(r.Properties!.PolicyDocument.Statement)) {
        for (const role of asList<any>(r.Properties!.Roles)) out.push({ owner: role.Ref ?? id, statement: st });
      }
    }
  }
  return out;
}

/** The logical id of the role a Lambda function (by kebab name) runs as. */
export function functionRoleId(s: Synth, name: string): string {
  const fns = resourcesOfType(s, 'AWS::Lambda::Function');
  const entry = Object.values(fns).find((f) => String(f.Properties!.FunctionName).endsWith(`-${name}`));
  if (!entry) throw new Error(`no function ${name}`);
  return entry.Properties!.Role['Fn::GetAtt'][0];
}

/** Statements of one role (inline policies plus attached AWS::IAM::Policy resources). */
export function roleStatements(s: Synth, roleId: string): Statement[] {
  return identityStatements(s)
    .filter((x) => x.owner === roleId)
    .map((x) => x.statement);
}

/** All actions a role is allowed. */
export function roleActions(s: Synth, roleId: string): Set<string> {
  return new Set(roleStatements(s, roleId).flatMap((st) => asList(st.Action)));
}
