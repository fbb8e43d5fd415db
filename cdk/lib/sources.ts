/**
 * Where the stack finds the files other parts of SmartScale produce: Lambda zips, ASL definitions,
 * the Prometheus configuration. Real files win; the committed fixtures (Lambda placeholder,
 * Prometheus files) are used only when the configuration says this is a synth-only (test) run,
 * and every fallback is reported. The ASL definitions have no fixture.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SmartScaleConfig } from './config';

/** The cdk/ folder (this file is compiled to cdk/build/lib/, sources live in cdk/lib/). */
export const CDK_DIR = path.resolve(__dirname, '..', fs.existsSync(path.resolve(__dirname, '..', 'package.json')) ? '' : '..');

/** Committed synth-only fixtures (tests only). */
export const FIXTURES = {
  placeholderLambda: path.join(CDK_DIR, 'test', 'fixtures', 'placeholder-lambda'),
  prometheus: path.join(CDK_DIR, 'test', 'fixtures', 'prometheus'),
};

/** Raised when a required input file is missing; the message names the file and how to produce it. */
export class MissingSourceError extends Error {}

/** One resolved input: the path used and whether it is a synth-only fixture. */
export interface Source {
  readonly path: string;
  readonly placeholder: boolean;
}

/**
 * Resolves the code asset of one function: `<lambdaAssetDir>/<name>/bootstrap.zip`, or the
 * placeholder directory when `synthOnlyPlaceholders` is set. Throws {@link MissingSourceError}
 * when the zip is missing in a real synth.
 */
export function lambdaAsset(cfg: SmartScaleConfig, name: string): Source {
  if (cfg.synthOnlyPlaceholders) return { path: FIXTURES.placeholderLambda, placeholder: true };
  const zip = path.resolve(cfg.lambdaAssetDir, name, 'bootstrap.zip');
  if (!fs.existsSync(zip)) {
    throw new MissingSourceError(
      `Lambda asset ${zip} is missing: run \`scripts/package-lambdas.sh\` at the repository root ` +
        '(or pass -c lambdaAssetDir=<dir>). Tests pass -c synthOnlyPlaceholders=true instead.',
    );
  }
  return { path: zip, placeholder: false };
}

function realOrFixture(cfg: SmartScaleConfig, real: string, fixture: string, how: string): Source {
  if (fs.existsSync(real)) return { path: real, placeholder: false };
  if (cfg.synthOnlyPlaceholders && fs.existsSync(fixture)) return { path: fixture, placeholder: true };
  throw new MissingSourceError(`${real} is missing (${how})`);
}

/**
 * The ASL definition `statemachine/<file>`, in every synth (there is no stand-in copy: the
 * definitions the tests synthesize are the ones that deploy). Throws {@link MissingSourceError}
 * naming the file when it is absent.
 */
export function stateMachineDefinition(cfg: SmartScaleConfig, file: string): Source {
  const real = path.join(cfg.repoRoot, 'statemachine', file);
  if (!fs.existsSync(real)) throw new MissingSourceError(`${real} is missing (the state machine definitions live under statemachine/)`);
  return { path: real, placeholder: false };
}

/** The Prometheus configuration `cdk/prometheus/<file>` (rules under rules/); fixture only in synth-only runs. */
export function prometheusFile(cfg: SmartScaleConfig, relative: string): Source {
  return realOrFixture(
    cfg,
    path.join(cfg.repoRoot, 'cdk', 'prometheus', relative),
    path.join(FIXTURES.prometheus, relative),
    'the Prometheus configuration and recording rules are written under cdk/prometheus/',
  );
}
