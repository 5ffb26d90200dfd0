// How the functions are built when the stack is bundled (cdk synth/deploy): cargo-lambda-cdk runs
// `cargo lambda build` in the workspace, once per binary, for arm64 (or x86_64 with -c architecture=x86_64).
// The test's stand-in for cargo (test/support.ts) records the calls and leaves a bootstrap naming the
// binary, so nothing is compiled.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { ArchitectureName } from '../lib/sellerbridge-stack';
import { cargoCalls, REPO_ROOT, synthesize } from './support';

const BINARIES = [
  'order-sync', 'shipment-webhook', 'update-sender', 'order-api', 'order-notifications', 'pii-redactor',
];

/** The stack synthesised with bundling, and the `cargo lambda build` calls that made its bundles. */
function bundle(architecture?: ArchitectureName) {
  const before = cargoCalls().length;
  const { app, template } = synthesize({ bundle: true, architecture });
  const builds = cargoCalls().slice(before)
    .filter((call) => call.includes(' lambda build '))
    .map((call) => call.replace(/--lambda-dir \S+/, '--lambda-dir <out>'));
  return { app, template, builds };
}

const { app, template, builds } = bundle();
const x86 = bundle('x86_64');

test('each binary is built once, for arm64 in release, from the workspace root', () => {
  assert.deepEqual(builds.sort(), BINARIES.map((binary) =>
    `${REPO_ROOT} lambda build --lambda-dir <out> --release --arm64 --bin ${binary} --flatten ${binary}`).sort());
});

test("each function deploys its own binary's bundle", () => {
  for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
    const asset = path.join(app.outdir, `asset.${path.basename(fn.Properties.Code.S3Key, '.zip')}`);
    assert.equal(fs.readFileSync(path.join(asset, 'bootstrap'), 'utf8').trim(), fn.Metadata.BuildProperties.Binary);
  }
});

test('with -c architecture=x86_64 each binary is built for x86_64, the Architecture parameter\'s default', () => {
  assert.deepEqual(x86.builds.sort(), BINARIES.map((binary) =>
    `${REPO_ROOT} lambda build --lambda-dir <out> --release --x86-64 --bin ${binary} --flatten ${binary}`).sort());
  const parameter = x86.template.toJSON().Parameters.Architecture;
  assert.equal(parameter.Default, 'x86_64');
  assert.deepEqual(parameter.AllowedValues, ['arm64', 'x86_64']);
  for (const fn of Object.values(x86.template.findResources('AWS::Lambda::Function'))) {
    assert.deepEqual(fn.Properties.Architectures, [{ Ref: 'Architecture' }]);
  }
});

test('by default the Architecture parameter is arm64, as in the SAM template', () => {
  assert.equal(template.toJSON().Parameters.Architecture.Default, 'arm64');
});
