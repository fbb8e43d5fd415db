/**
 * Renders the user-data scripts in userdata/: the settings as `export NAME='value'` lines,
 * then the script body. Values may be CloudFormation tokens (ARNs, bucket names): they never carry
 * secret values, only references to secrets.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CDK_DIR } from './sources';

/** Absolute path of a script in cdk/userdata/. */
export function userDataScriptPath(name: 'master.sh' | 'worker.sh'): string {
  return path.join(CDK_DIR, 'userdata', name);
}

/** Quotes a value for a single-quoted shell word. Throws when the name is not a shell identifier. */
function assignment(name: string, value: string): string {
  if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`user data setting ${name} is not a shell identifier`);
  return `export ${name}='${value.replace(/'/g, `'"'"'`)}'`;
}

/** A line sourcing a shared user-data file, which rendering replaces by that file's text. */
const INLINED = /^source "\$\(dirname "\$0"\)\/([a-z0-9-]+\.sh)" # inlined by renderUserData$/gm;

/**
 * `script` without its whole-line comments (outside here-documents; `# shellcheck` directives
 * kept): the sources are documented, the user data only has to run, and EC2 allows 16 KB of it.
 */
export function withoutComments(script: string): string {
  const out: string[] = [];
  let heredocEnd: string | undefined;
  for (const line of script.split('\n')) {
    if (heredocEnd !== undefined) {
      out.push(line);
      if (line === heredocEnd) heredocEnd = undefined;
      continue;
    }
    if (/^\s*#(\s|$)/.test(line) && !/^\s*# shellcheck /.test(line)) continue;
    out.push(line);
    heredocEnd = /<<-?\s*['"]?([A-Za-z_]+)['"]?/.exec(line)?.[1];
  }
  return out.join('\n');
}

/**
 * The full user data: shebang, settings, then the script without its shebang and comments, with
 * each shared file it sources (`source "$(dirname "$0")/x.sh" # inlined by renderUserData`)
 * inlined, since user data is one file. Settings are sorted so that the rendered text (and the
 * launch template version) changes only when a value does.
 */
export function renderUserData(script: 'master.sh' | 'worker.sh', settings: Record<string, string>): string {
  const body = fs
    .readFileSync(userDataScriptPath(script), 'utf8')
    .replace(/^#!.*\n/, '')
    .replace(INLINED, (_, file: string) => fs.readFileSync(path.join(CDK_DIR, 'userdata', file), 'utf8').replace(/^#!.*\n/, '').trimEnd());
  const lines = Object.keys(settings)
    .sort()
    .map((k) => assignment(k, settings[k]!));
  return ['#!/bin/bash', '# Settings rendered by the SmartScale CDK stack (references only, no secret values).', ...lines, withoutComments(body)].join('\n');
}
