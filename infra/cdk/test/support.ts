// What the tests share: the stack synthesised as `cdk synth` would (cdk.json's context), the SAM template
// translated, and a stand-in for cargo, so that no test ever runs the real one.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ArchitectureName, SellerbridgeStack } from '../lib/sellerbridge-stack';
import type { CfnTemplate } from './normalise';

const CDK_DIR = path.resolve(__dirname, '..');
export const REPO_ROOT = path.resolve(CDK_DIR, '..', '..');
const SAM_TEMPLATE = path.join(REPO_ROOT, 'infra', 'template.yaml');
const VENV_PYTHON = path.join(REPO_ROOT, '.local', 'venv', 'bin', 'python');

const tempDirs: string[] = [];
process.on('exit', () => tempDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

/** A temporary directory, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sellerbridge-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

// cargo-lambda-cdk asks `cargo lambda --version` whenever it defines a function, and runs
// `cargo lambda build` when it bundles one. This stand-in answers the first and, for the second, writes a
// bootstrap holding the binary's name where cargo-lambda would put the binary; it logs each call.
const FAKE_CARGO = `#!/usr/bin/env bash
set -euo pipefail
echo "$PWD $*" >>"$FAKE_CARGO_LOG"
if [[ "$*" == "lambda --version" ]]; then
  echo "cargo-lambda 0.0.0 (test stand-in)"
elif [[ "\${1:-} \${2:-}" == "lambda build" ]]; then
  while (($#)); do
    case "$1" in
      --lambda-dir) dir="$2" ;;
      --bin) binary="$2" ;;
    esac
    shift
  done
  mkdir -p "$dir" && echo "$binary" >"$dir/bootstrap"
else
  echo "test stand-in for cargo: unexpected call: cargo $*" >&2
  exit 1
fi
`;

const fakeCargoDir = tempDir('fake-cargo');
fs.writeFileSync(path.join(fakeCargoDir, 'cargo'), FAKE_CARGO, { mode: 0o755 });
process.env.PATH = `${fakeCargoDir}${path.delimiter}${process.env.PATH}`;
process.env.FAKE_CARGO_LOG = path.join(fakeCargoDir, 'calls.log');

/** The stand-in's calls so far: `<directory> <arguments>`, one a line. */
export function cargoCalls(): string[] {
  const log = process.env.FAKE_CARGO_LOG!;
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
}

/** The stack in a new app with cdk.json's context; `bundle` builds the functions (with the stand-in), for
 *  `architecture` (as `-c architecture=...` asks; the stack's default otherwise). */
export function synthesize(
  { bundle = false, architecture }: { bundle?: boolean; architecture?: ArchitectureName } = {},
): { app: App; stack: SellerbridgeStack; template: Template } {
  const { context } = JSON.parse(fs.readFileSync(path.join(CDK_DIR, 'cdk.json'), 'utf8'));
  const app = new App({
    outdir: tempDir('cdk-out'),
    // An empty list skips every stack's bundling, which cargo-lambda-cdk's asset honours.
    context: bundle ? context : { ...context, 'aws:cdk:bundling-stacks': [] },
  });
  const stack = new SellerbridgeStack(app, 'sellerbridge', { architecture });
  return { app, stack, template: Template.fromStack(stack) };
}

/** infra/template.yaml as plain CloudFormation (test/sam-translate.py). */
export function translateSamTemplate(): CfnTemplate {
  if (!fs.existsSync(VENV_PYTHON)) {
    throw new Error(`${VENV_PYTHON} is missing: run \`infra/local/stack.sh install\` (or \`make setup\`) first`);
  }
  const result = spawnSync(VENV_PYTHON, [path.join(__dirname, 'sam-translate.py'), SAM_TEMPLATE], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`sam-translate.py failed:\n${result.stderr}`);
  return JSON.parse(result.stdout);
}
