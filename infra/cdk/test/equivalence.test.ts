// The CDK stack and infra/template.yaml declare the same stack: the SAM template, translated to plain
// CloudFormation by SAM's own translator, and the synthesised CDK template normalise to the same model
// (test/normalise.ts). When the SAM template changes, these fail until the CDK stack follows.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { CfnResource, CfnTemplate, Json, normalise, stable } from './normalise';
import { synthesize, tempDir, translateSamTemplate } from './support';

const samModel = normalise(translateSamTemplate());
const cdkTemplate = synthesize().template.toJSON() as CfnTemplate;
const cdkModel = normalise(cdkTemplate);

/** Unified diffs of two models' section, entry by entry (a function, a resource, ...), or undefined when
 *  they are the same. */
function difference(sam: Json, cdk: Json, section: string): string | undefined {
  if (stable(sam) === stable(cdk)) return undefined;
  const isEntries = (v: Json) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isEntries(sam) || !isEntries(cdk)) return unifiedDiff(sam, cdk, section);
  const [samEntries, cdkEntries] = [sam as Record<string, Json>, cdk as Record<string, Json>];
  return [...new Set([...Object.keys(samEntries), ...Object.keys(cdkEntries)])].sort()
    .filter((key) => stable(samEntries[key] ?? null) !== stable(cdkEntries[key] ?? null))
    .map((key) => unifiedDiff(samEntries[key] ?? null, cdkEntries[key] ?? null, `${section}.${key}`))
    .join('\n');
}

function unifiedDiff(sam: Json, cdk: Json, label: string): string {
  const dir = tempDir('equivalence');
  const [samFile, cdkFile] = [path.join(dir, 'sam.json'), path.join(dir, 'cdk.json')];
  fs.writeFileSync(samFile, `${stable(sam)}\n`);
  fs.writeFileSync(cdkFile, `${stable(cdk)}\n`);
  const diff = spawnSync('diff', ['-u', '--label', `SAM ${label}`, '--label', `CDK ${label}`, samFile, cdkFile], {
    encoding: 'utf8',
  });
  return diff.stdout || `${label}: see ${samFile} and ${cdkFile} (${diff.error})`;
}

describe('the CDK stack declares what infra/template.yaml does', () => {
  test('both models hold the whole stack', () => {
    const binaries = [
      'order-api', 'order-notifications', 'order-sync', 'pii-redactor', 'shipment-webhook', 'update-sender',
    ];
    for (const model of [samModel, cdkModel]) {
      assert.deepEqual(Object.keys(model.functions as object).sort(), binaries);
      for (const id of ['DataKey', 'Table', 'UpdatesQueue', 'FunctionErrorsAlarm', 'Dashboard']) {
        assert.ok(id in (model.resources as object), id);
      }
      assert.ok('OrderSyncFunctionName' in (model.outputs as object));
    }
  });

  for (const section of new Set([...Object.keys(samModel), ...Object.keys(cdkModel)])) {
    test(`same ${section}`, () => {
      const diff = difference(samModel[section], cdkModel[section], section);
      assert.ok(diff === undefined, `the CDK stack's ${section} differ from the SAM template's:\n${diff}`);
    });
  }
});

// A change to any of these in one template is a difference, however the other spells the rest.
describe('the comparison notices', () => {
  // Each changes a copy of the CDK template: `r` its resources (properties as the template has them), `t` it.
  type Mutation = [what: string, section: string, mutate: (r: any, t: CfnTemplate) => void];
  const policy = (r: any, role: string, i: number) => r[role].Properties.Policies[i].PolicyDocument.Statement[0];
  const mutations: Mutation[] = [
    ["a function's timeout", 'functions', (r) => { r.UpdateSenderFunction.Properties.Timeout = 61; }],
    ["a function's binary", 'functions', (r) => {
      r.OrderApiFunction.Metadata = { BuildProperties: { Binary: 'pii-redactor' } };
      r.PiiRedactorFunction.Metadata = { BuildProperties: { Binary: 'order-api' } };
    }],
    ['an environment variable', 'functions', (r) => {
      r.OrderApiFunction.Properties.Environment.Variables.SELLERBRIDGE_TABLE = { Ref: 'UpdatesQueue' };
    }],
    ['an action a role allows', 'functions', (r) => {
      policy(r, 'OrderApiFunctionRole', 1).Action.push('dynamodb:PutItem');
    }],
    ['the resource a role may act on', 'functions', (r) => {
      policy(r, 'OrderApiFunctionRole', 2).Resource = { Ref: 'LwaAppSecret' };
    }],
    ['a policy attached to a role', 'functions', (r) => {
      r.ExtraPolicy = {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyName: 'extra',
          Roles: [{ Ref: 'PiiRedactorFunctionRole' }],
          PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: '*' }] },
        },
      };
    }],
    ["a role's managed policy", 'functions', (r) => { r.OrderSyncFunctionRole.Properties.ManagedPolicyArns.pop(); }],
    ['a queue event source setting', 'functions', (r) => { r.UpdateSenderFunctionUpdates.Properties.BatchSize = 5; }],
    ['a schedule', 'functions', (r) => {
      r.OrderSyncFunctionSync.Properties.ScheduleExpression = { Ref: 'RedactionSchedule' };
    }],
    ['an invoke permission', 'functions', (r) => {
      r.OrderApiFunctionGetOrderPermission.Properties.SourceArn = {
        'Fn::Sub': 'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebhookHttpApi}/*/*/*',
      };
    }],
    ['a route', 'apis', (r) => {
      const route: any = Object.values(r).find((x: any) => x.Properties?.RouteKey === 'GET /inventory');
      route.Properties.RouteKey = 'GET /stock';
    }],
    ["a route's function", 'apis', (r) => {
      const integration: any = Object.values(r).find((x: any) => x.Type === 'AWS::ApiGatewayV2::Integration');
      integration.Properties.IntegrationUri = { 'Fn::GetAtt': ['PiiRedactorFunction', 'Arn'] };
    }],
    ['the stage', 'apis', (r) => { r.WebhookHttpApiStage.Properties.AutoDeploy = false; }],
    ["a queue's visibility timeout", 'resources', (r) => { r.NotificationsQueue.Properties.VisibilityTimeout = 181; }],
    ['the queue a queue redrives to', 'resources', (r) => {
      r.UpdatesQueue.Properties.RedrivePolicy.deadLetterTargetArn = {
        'Fn::GetAtt': ['OutboundDeadLetterQueue', 'Arn'],
      };
    }],
    ['a key policy statement', 'resources', (r) => { r.DataKey.Properties.KeyPolicy.Statement.pop(); }],
    ['the key a resource is encrypted with', 'resources', (r) => {
      r.ReadApiKeySecret.Properties.KmsKeyId = 'alias/aws/secretsmanager';
    }],
    ["the table's retention", 'resources', (r) => { delete r.Table.DeletionPolicy; }],
    ["an alarm's threshold", 'resources', (r) => { r.AmazonThrottledAlarm.Properties.Threshold = 21; }],
    ["the topic's condition", 'resources', (r) => { delete r.UpdatesDeadLetterAlarmTopic.Condition; }],
    ['the dashboard', 'resources', (r) => { r.Dashboard.Properties.DashboardBody = JSON.stringify({ widgets: [] }); }],
    ['an extra resource', 'resourceTypes', (r) => { r.LogGroup = { Type: 'AWS::Logs::LogGroup', Properties: {} }; }],
    ["a parameter's default", 'parameters', (_r, t) => { t.Parameters!.SyncSchedule.Default = 'rate(5 minutes)'; }],
    ['a condition', 'conditions', (_r, t) => { t.Conditions!.HasAlarmEmail = { 'Fn::Equals': ['a', 'a'] }; }],
    ["an output's name", 'outputs', (_r, t) => {
      t.Outputs!.TableArn = t.Outputs!.TableName;
      delete t.Outputs!.TableName;
    }],
    ["an output's value", 'outputs', (_r, t) => { t.Outputs!.DataKeyArn.Value = { Ref: 'DataKey' }; }],
  ];

  for (const [what, section, mutate] of mutations) {
    test(`${what} (in ${section})`, () => {
      const template = structuredClone(cdkTemplate);
      mutate(template.Resources, template);
      assert.ok(difference(samModel[section], normalise(template)[section], section), `no difference in ${section}`);
    });
  }
});

describe('the comparison forgives spelling only', () => {
  const model = (resources: Record<string, CfnResource>) => normalise({ Resources: resources }).resources;
  const queue = (properties: Record<string, Json>) => ({
    Key: { Type: 'AWS::KMS::Key' },
    Queue: { Type: 'AWS::SQS::Queue', Properties: properties },
  });

  test('Fn::Sub and Fn::Join of the same string', () => {
    assert.deepEqual(
      model(queue({ QueueName: { 'Fn::Sub': ['${AWS::StackName}-${x}', { x: { Ref: 'Key' } }] } })),
      model(queue({ QueueName: { 'Fn::Join': ['', [{ Ref: 'AWS::StackName' }, '-', { Ref: 'Key' }]] } })));
  });

  test('a KMS key by id or by ARN, but not another key', () => {
    const byId = model(queue({ KmsMasterKeyId: { Ref: 'Key' } }));
    assert.deepEqual(byId, model(queue({ KmsMasterKeyId: { 'Fn::GetAtt': ['Key', 'Arn'] } })));
    assert.notDeepEqual(byId, model(queue({ KmsMasterKeyId: 'alias/aws/sqs' })));
  });

  test("CloudFormation's defaults, spelt out or not", () => {
    assert.deepEqual(
      model({ Queue: { Type: 'AWS::SQS::Queue', DeletionPolicy: 'Delete' } }),
      model({ Queue: { Type: 'AWS::SQS::Queue' } }));
  });
});
