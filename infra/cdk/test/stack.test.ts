// What the CDK stack declares, resource by resource and permission by permission. Values built from
// intrinsics are compared flattened (Normaliser.flatten in test/normalise.ts): `${Table}` is a Ref,
// `${DataKey.Arn}` a GetAtt, `${fn:order-sync}` the function running the order-sync binary.
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { CfnTemplate, Json, Normaliser } from './normalise';
import { cargoCalls, synthesize } from './support';

const { template } = synthesize();
const cfn = template.toJSON() as CfnTemplate;
const normaliser = new Normaliser(cfn);

/** A resource's properties, flattened. */
function properties(id: string): any {
  const resource = cfn.Resources[id];
  assert.ok(resource, `no resource ${id}`);
  return normaliser.flatten(resource.Properties as Json);
}

/** A resource's properties without its description (the equivalence test compares those with SAM's). */
function described(id: string, key = 'Description'): any {
  const { [key]: description, ...rest } = properties(id);
  assert.match(description, /\S/, `${id} has no ${key}`);
  return rest;
}

function resourcesOfType(type: string): [string, any][] {
  return Object.entries(cfn.Resources)
    .filter(([, resource]) => resource.Type === type)
    .map(([id, resource]) => [id, normaliser.flatten(resource.Properties as Json)]);
}

const byJson = (a: unknown, b: unknown) => JSON.stringify(a).localeCompare(JSON.stringify(b));

/** Policy documents compare as policies: statements, actions, resources and principals as sets. */
function assertSamePolicy(actual: Json, expected: Json): void {
  assert.deepEqual(normaliser.policyDocument(actual), normaliser.policyDocument(expected));
}

// ---------------------------------------------------------------- expected permissions
const PARTITION_REGION_ACCOUNT = '${AWS::Partition}:%s:${AWS::Region}:${AWS::AccountId}';
const arn = (service: string, rest: string) => `arn:${PARTITION_REGION_ACCOUNT.replace('%s', service)}:${rest}`;
const TABLE = '${Table.Arn}';
const onTable = (actions: string[]) => actions.flatMap((a) => [`${a} on ${TABLE}`, `${a} on ${TABLE}/index/*`]);
// No wildcard action anywhere: what the store does, spelled out.
const READ = ['GetItem', 'Query'].map((a) => `dynamodb:${a}`);
const WRITE = ['PutItem', 'DeleteItem'].map((a) => `dynamodb:${a}`);
const queueArn = (queue: string) => `\${${queue}.Arn}`;
const send = (queue: string) => [`sqs:SendMessage on ${queueArn(queue)}`];
const poll = (queue: string) => ['ReceiveMessage', 'DeleteMessage', 'ChangeMessageVisibility', 'GetQueueAttributes']
  .map((a) => `sqs:${a} on ${queueArn(queue)}`);
const secret = (id: string) => [`secretsmanager:GetSecretValue on \${${id}}`];
const CONNECTIONS =
  [`secretsmanager:GetSecretValue on ${arn('secretsmanager', 'secret:sellerbridge/${AWS::StackName}/connections/*')}`];
const DATA_KEY = ['kms:Decrypt on ${DataKey.Arn}', 'kms:GenerateDataKey on ${DataKey.Arn}'];

const GLOBAL_ENVIRONMENT = {
  SELLERBRIDGE_TABLE: '${Table}',
  SELLERBRIDGE_UPDATES_QUEUE_URL: '${UpdatesQueue}',
  SELLERBRIDGE_OUTBOUND_QUEUE_URL: '${OutboundQueue}',
  SELLERBRIDGE_LWA_SECRET_ID: '${LwaAppSecret}',
  SELLERBRIDGE_WEBHOOK_SECRET_ID: '${WebhookSigningSecret}',
  SELLERBRIDGE_SHOPIFY_SECRET_ID: '${ShopifyWebhookSecret}',
  SELLERBRIDGE_SPAPI_ENDPOINT: '${SpApiEndpoint}',
  SELLERBRIDGE_LWA_ENDPOINT: '${LwaEndpoint}',
};

interface Expected {
  binary: string;
  timeout: number;
  reservedConcurrency?: number;
  environment?: Record<string, string>;
  permissions: string[];
  /** SAM event name -> schedule parameter. */
  schedules?: Record<string, string>;
  /** SAM event name -> queue and batching window. */
  queues?: Record<string, [string, number | undefined]>;
  /** SAM event name -> route. */
  routes?: Record<string, string>;
}

const FUNCTIONS: Record<string, Expected> = {
  OrderSyncFunction: {
    binary: 'order-sync',
    timeout: 300,
    reservedConcurrency: 1,
    permissions: [...DATA_KEY, ...onTable([...READ, ...WRITE]), ...send('OutboundQueue'), ...send('UpdatesQueue'),
      ...secret('LwaAppSecret'), ...CONNECTIONS],
    schedules: { Sync: 'SyncSchedule' },
  },
  ShipmentWebhookFunction: {
    binary: 'shipment-webhook',
    timeout: 10,
    permissions: [...DATA_KEY, ...onTable([...READ, ...WRITE]), ...send('UpdatesQueue'), ...send('OutboundQueue'),
      ...secret('WebhookSigningSecret'), ...secret('ShopifyWebhookSecret')],
    routes: { Shipment: 'POST /webhooks/shipments', Shopify: 'POST /webhooks/shopify' },
  },
  UpdateSenderFunction: {
    binary: 'update-sender',
    timeout: 60,
    permissions: [...DATA_KEY, ...onTable([...READ, ...WRITE]), ...poll('UpdatesQueue'), ...send('UpdatesQueue'),
      ...poll('OutboundQueue'), ...send('OutboundQueue'), ...secret('LwaAppSecret'), ...secret('WebhookSigningSecret'),
      ...CONNECTIONS],
    queues: { Updates: ['UpdatesQueue', 5], Outbound: ['OutboundQueue', undefined] },
  },
  OrderApiFunction: {
    binary: 'order-api',
    timeout: 10,
    environment: { SELLERBRIDGE_API_KEY_SECRET_ID: '${ReadApiKeySecret}' },
    permissions: [...DATA_KEY, ...onTable(READ), ...secret('ReadApiKeySecret')],
    routes: {
      ListOrders: 'GET /orders',
      GetOrder: 'GET /orders/{order_id}',
      GetInventory: 'GET /inventory',
      GetFulfillment: 'GET /fulfillments',
    },
  },
  OrderNotificationsFunction: {
    binary: 'order-notifications',
    timeout: 30,
    environment: { SELLERBRIDGE_NOTIFICATIONS_DLQ_URL: '${NotificationsDeadLetterQueue}' },
    permissions: [...DATA_KEY, ...onTable([...READ, ...WRITE]), ...poll('NotificationsQueue'),
      ...send('NotificationsDeadLetterQueue'), ...send('OutboundQueue'), ...secret('LwaAppSecret'), ...CONNECTIONS],
    queues: { Notifications: ['NotificationsQueue', 2] },
  },
  PiiRedactorFunction: {
    binary: 'pii-redactor',
    timeout: 300,
    permissions: [...DATA_KEY, ...onTable([...READ, ...WRITE])],
    schedules: { Redact: 'RedactionSchedule' },
  },
};

// ---------------------------------------------------------------- tests
test('the stack declares these resources and no others', () => {
  const counts: Record<string, number> = {
    'AWS::KMS::Key': 1, 'AWS::KMS::Alias': 1, 'AWS::DynamoDB::Table': 1, 'AWS::SQS::Queue': 6,
    'AWS::SQS::QueuePolicy': 1, 'AWS::SNS::Topic': 1, 'AWS::CloudWatch::Alarm': 7, 'AWS::CloudWatch::Dashboard': 1,
    'AWS::SecretsManager::Secret': 4, 'AWS::ApiGatewayV2::Api': 1, 'AWS::ApiGatewayV2::Stage': 1,
    'AWS::ApiGatewayV2::Route': 6, 'AWS::ApiGatewayV2::Integration': 6, 'AWS::IAM::Role': 6,
    'AWS::Lambda::Function': 6, 'AWS::Lambda::Permission': 8, 'AWS::Lambda::EventSourceMapping': 3,
    'AWS::Events::Rule': 2,
  };
  const actual: Record<string, number> = {};
  for (const resource of Object.values(cfn.Resources)) actual[resource.Type] = (actual[resource.Type] ?? 0) + 1;
  assert.deepEqual(actual, counts);
});

test('synthesis with bundling skipped builds nothing, though cargo-lambda is there', () => {
  const calls = cargoCalls().map((call) => call.slice(call.indexOf(' ') + 1));
  assert.ok(calls.includes('lambda --version'), 'cargo-lambda-cdk did not look for cargo-lambda');
  assert.deepEqual(calls.filter((call) => call !== 'lambda --version'), []);
});

test('parameters and conditions', () => {
  template.hasParameter('StageName', { Type: 'String', Default: 'prod', AllowedPattern: '^[A-Za-z0-9_-]+$' });
  template.hasParameter('SpApiEndpoint', { Type: 'String', Default: '' });
  template.hasParameter('LwaEndpoint', { Type: 'String', Default: 'https://api.amazon.com/auth/o2/token' });
  template.hasParameter('SyncSchedule', { Type: 'String', Default: 'rate(15 minutes)' });
  template.hasParameter('RedactionSchedule', { Type: 'String', Default: 'rate(1 hour)' });
  template.hasParameter('AlarmEmail', { Type: 'String', Default: '' });
  template.hasParameter('KeyUserArns', { Type: 'CommaDelimitedList', Default: '' });
  template.hasCondition('HasAlarmEmail', { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlarmEmail' }, ''] }] });
  template.hasCondition('HasKeyUsers', {
    'Fn::Not': [{ 'Fn::Equals': [{ 'Fn::Join': ['', { Ref: 'KeyUserArns' }] }, ''] }],
  });
});

describe('the data key', () => {
  test('rotates and outlives the stack', () => {
    template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({ EnableKeyRotation: true }),
    });
  });

  test('its policy lets exactly the account administer it and these principals use it', () => {
    const useTheKey = ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'];
    const account = { AWS: 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' };
    assertSamePolicy(properties('DataKey').KeyPolicy, {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'AccountAdministersTheKey', Effect: 'Allow', Principal: account, Resource: '*',
          Action: ['kms:CancelKeyDeletion', 'kms:Create*', 'kms:Delete*', 'kms:Describe*', 'kms:Disable*',
            'kms:Enable*', 'kms:Get*', 'kms:List*', 'kms:Put*', 'kms:Revoke*', 'kms:ScheduleKeyDeletion',
            'kms:TagResource', 'kms:UntagResource', 'kms:Update*'],
        },
        {
          Sid: 'StackFunctionsUseTheKey', Effect: 'Allow', Principal: account, Resource: '*', Action: useTheKey,
          Condition: {
            ArnLike: {
              'aws:PrincipalArn': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/sellerbridge/${AWS::StackName}/*',
            },
          },
        },
        {
          Sid: 'AccountUsesTheKeyThroughSecretsManagerAndDynamoDB', Effect: 'Allow', Principal: account, Resource: '*',
          Action: ['kms:CreateGrant', ...useTheKey],
          Condition: {
            StringEquals: {
              'kms:CallerAccount': '${AWS::AccountId}',
              'kms:ViaService': [
                'secretsmanager.${AWS::Region}.amazonaws.com',
                'dynamodb.${AWS::Region}.amazonaws.com',
              ],
            },
          },
        },
        {
          'Fn::If': ['HasKeyUsers', {
            Sid: 'OperatorsUseTheKey', Effect: 'Allow', Principal: { AWS: '${KeyUserArns}' }, Resource: '*',
            Action: useTheKey,
          }, '${AWS::NoValue}'],
        },
        {
          Sid: 'AmazonNotificationsEncryptForTheQueue', Effect: 'Allow', Resource: '*',
          Principal: { AWS: 'arn:${AWS::Partition}:iam::437568002678:root' },
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Condition: { StringEquals: { 'kms:ViaService': 'sqs.${AWS::Region}.amazonaws.com' } },
        },
      ],
    });
  });

  test('has its alias', () => {
    assert.deepEqual(properties('DataKeyAlias'),
      { AliasName: 'alias/${AWS::StackName}-data', TargetKeyId: '${DataKey.Arn}' });
  });
});

test('the table: keys, KEYS_ONLY indexes, TTL, the data key, PITR, on demand, kept', () => {
  const key = (hash: string, range: string) =>
    [{ AttributeName: hash, KeyType: 'HASH' }, { AttributeName: range, KeyType: 'RANGE' }];
  const keysOnly = (indexName: string, hash: string, range: string) =>
    ({ IndexName: indexName, KeySchema: key(hash, range), Projection: { ProjectionType: 'KEYS_ONLY' } });
  template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  const { AttributeDefinitions, ...table } = properties('Table');
  assert.deepEqual(AttributeDefinitions.sort(byJson),
    ['pk', 'sk', 'redaction_pk', 'redaction_due_at', 'awaiting_pk', 'awaiting_sk']
      .map((name) => ({ AttributeName: name, AttributeType: 'S' })).sort(byJson));
  assert.deepEqual(table, {
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: key('pk', 'sk'),
    GlobalSecondaryIndexes: [
      keysOnly('by-redaction-due', 'redaction_pk', 'redaction_due_at'),
      keysOnly('by-awaiting-shipment', 'awaiting_pk', 'awaiting_sk'),
    ],
    TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
    SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: '${DataKey.Arn}' },
    PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
  });
});

describe('queues', () => {
  for (const [name, visibilityTimeout] of [['Updates', 360], ['Outbound', 360], ['Notifications', 180]] as const) {
    test(`${name}Queue: ${visibilityTimeout} s visibility, the data key, 5 tries then ${name}DeadLetterQueue`, () => {
      assert.deepEqual(properties(`${name}Queue`), {
        VisibilityTimeout: visibilityTimeout,
        KmsMasterKeyId: '${DataKey.Arn}',
        RedrivePolicy: { deadLetterTargetArn: `\${${name}DeadLetterQueue.Arn}`, maxReceiveCount: 5 },
      });
      assert.deepEqual(properties(`${name}DeadLetterQueue`),
        { MessageRetentionPeriod: 1209600, KmsMasterKeyId: '${DataKey.Arn}' });
    });
  }

  test("Amazon's notifications service may send to the notifications queue", () => {
    const { Queues, PolicyDocument } = properties('NotificationsQueuePolicy');
    assert.deepEqual(Queues, ['${NotificationsQueue}']);
    assertSamePolicy(PolicyDocument, {
        Version: '2012-10-17',
        Statement: [{
          Sid: 'AmazonSellingPartnerNotifications',
          Effect: 'Allow',
          Principal: { AWS: 'arn:${AWS::Partition}:iam::437568002678:root' },
          Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes'],
          Resource: '${NotificationsQueue.Arn}',
        }],
    });
  });
});

test('the secrets are encrypted with the data key; three are generated, the LWA one holds placeholders', () => {
  const generated = { PasswordLength: 48, ExcludePunctuation: true };
  for (const id of ['WebhookSigningSecret', 'ShopifyWebhookSecret', 'ReadApiKeySecret']) {
    assert.deepEqual(described(id), { KmsKeyId: '${DataKey.Arn}', GenerateSecretString: generated }, id);
  }
  assert.deepEqual(described('LwaAppSecret'), {
    KmsKeyId: '${DataKey.Arn}',
    SecretString: '{"client_id":"REPLACE_ME","client_secret":"REPLACE_ME"}',
  });
});

describe('alarms', () => {
  test('the alarm topic exists only with an address, which it mails', () => {
    template.hasResource('AWS::SNS::Topic', {
      Condition: 'HasAlarmEmail',
      Properties: {
        KmsMasterKeyId: 'alias/aws/sns',
        Subscription: [{ Protocol: 'email', Endpoint: { Ref: 'AlarmEmail' } }],
      },
    });
  });

  const notifying = {
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'notBreaching',
    AlarmActions: { 'Fn::If': ['HasAlarmEmail', ['${UpdatesDeadLetterAlarmTopic}'], '${AWS::NoValue}'] },
  };

  for (const name of ['Updates', 'Outbound', 'Notifications']) {
    test(`${name}DeadLetterAlarm: any message in ${name}DeadLetterQueue`, () => {
      assert.deepEqual(described(`${name}DeadLetterAlarm`, 'AlarmDescription'), {
        ...notifying,
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: `\${${name}DeadLetterQueue.QueueName}` }],
        Statistic: 'Maximum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 0,
      });
    });
  }

  const sum = (period: number, stat: string, metrics: [string, string, string, string][]) => [
    { Id: 'total', Expression: `SUM([${metrics.map((_, i) => `m${i}`).join(', ')}])`, ReturnData: true },
    ...metrics.map(([namespace, name, dimension, value], i) => ({
      Id: `m${i}`,
      ReturnData: false,
      MetricStat: {
        Metric: { Namespace: namespace, MetricName: name, Dimensions: [{ Name: dimension, Value: value }] },
        Period: period,
        Stat: stat,
      },
    })),
  ];
  const app = (name: string, binaries: string[]) =>
    binaries.map((binary): [string, string, string, string] => ['sellerbridge', name, 'Function', binary]);
  const sumAlarms: Record<string, [number, number, ReturnType<typeof sum>]> = {
    FunctionErrorsAlarm: [0, 1, sum(300, 'Sum', ['order-sync', 'order-notifications', 'order-api', 'shipment-webhook',
      'update-sender', 'pii-redactor'].map((b) => ['AWS/Lambda', 'Errors', 'FunctionName', `\${fn:${b}}`]))],
    AmazonThrottledAlarm:
      [20, 1, sum(900, 'Sum', app('AmazonThrottled', ['order-sync', 'order-notifications', 'update-sender']))],
    ReauthorizationAlarm: [0, 1, sum(900, 'Maximum', app('ConnectionsNeedingReauthorization', ['order-sync']))],
    RedactionOverdueAlarm: [0, 2, sum(3600, 'Sum', app('RedactionOverdue', ['pii-redactor']))],
  };
  for (const [id, [threshold, evaluationPeriods, metrics]] of Object.entries(sumAlarms)) {
    test(`${id}: above ${threshold} in the sum of its metrics over ${evaluationPeriods} period(s)`, () => {
      assert.deepEqual(described(id, 'AlarmDescription'), {
        ...notifying, Metrics: metrics, Threshold: threshold, EvaluationPeriods: evaluationPeriods,
      });
    });
  }

  test('the dashboard: six panels of the functions\' metrics, two a row', () => {
    const dashboard = properties('Dashboard');
    assert.equal(dashboard.DashboardName, '${AWS::StackName}-sellerbridge');
    const widgets = JSON.parse(dashboard.DashboardBody).widgets;
    assert.deepEqual(widgets.map((w: any) => [w.properties.title, w.x, w.y, w.width, w.height]), [
      ['Orders', 0, 0, 12, 6], ['Updates to Amazon', 12, 0, 12, 6], ['Quota', 0, 6, 12, 6], ['Failures', 12, 6, 12, 6],
      ['PII', 0, 12, 12, 6], ['Fulfillment and inventory', 12, 12, 12, 6],
    ]);
    for (const { properties: panel } of widgets) {
      assert.equal(panel.region, '${AWS::Region}');
      for (const [namespace, , dimension] of panel.metrics) {
        assert.deepEqual([namespace, dimension], ['sellerbridge', 'Function']);
      }
    }
  });
});

test('the HTTP API is named after the stack, with the StageName stage, deployed automatically', () => {
  assert.deepEqual(properties('WebhookHttpApi'), { Name: '${AWS::StackName}', ProtocolType: 'HTTP' });
  assert.deepEqual(properties('WebhookHttpApiStage'),
    { ApiId: '${WebhookHttpApi}', StageName: '${StageName}', AutoDeploy: true });
});

for (const [id, expected] of Object.entries(FUNCTIONS)) {
  describe(`${id} (${expected.binary})`, () => {
    const fn = properties(id);

    test(`runs ${expected.binary} on provided.al2023, the Architecture, 256 MB, ${expected.timeout} s, X-Ray, JSON logs`, () => {
      assert.deepEqual(cfn.Resources[id].Metadata?.BuildProperties, { Binary: expected.binary });
      assert.equal(fn.Runtime, 'provided.al2023');
      assert.equal(fn.Handler, 'bootstrap');
      assert.deepEqual(fn.Architectures, ['${Architecture}']);
      assert.equal(fn.MemorySize, 256);
      assert.equal(fn.Timeout, expected.timeout);
      assert.equal(fn.ReservedConcurrentExecutions, expected.reservedConcurrency);
      assert.deepEqual(fn.TracingConfig, { Mode: 'Active' });
      assert.deepEqual(fn.LoggingConfig, { LogFormat: 'JSON' });
    });

    test('has the common environment and its own', () => {
      assert.deepEqual(fn.Environment.Variables, { ...GLOBAL_ENVIRONMENT, ...expected.environment });
    });

    test('runs as its role under /sellerbridge/<stack>/, with SAM\'s managed policies', () => {
      assert.equal(fn.Role, `\${role:${expected.binary}.Arn}`);
      const role = properties(`${id}Role`);
      assert.equal(role.Path, '/sellerbridge/${AWS::StackName}/');
      assert.deepEqual(role.AssumeRolePolicyDocument.Statement,
        [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }]);
      assert.deepEqual(role.ManagedPolicyArns, [
        'service-role/AWSLambdaBasicExecutionRole',
        'AWSXrayWriteOnlyAccess',
        ...(expected.queues ? ['service-role/AWSLambdaSQSQueueExecutionRole'] : []),
      ].map((name) => `arn:\${AWS::Partition}:iam::aws:policy/${name}`));
    });

    test('may do exactly what the SAM template allows it', () => {
      const statements = properties(`${id}Role`).Policies.flatMap((policy: any) => policy.PolicyDocument.Statement);
      const allowed = statements.flatMap((s: any) => {
        assert.equal(s.Effect, 'Allow');
        assert.equal(s.Condition, undefined);
        return [s.Action].flat().flatMap((action: string) =>
          [s.Resource].flat().map((resource: string) => `${action} on ${resource}`));
      });
      assert.deepEqual(allowed.sort(), [...expected.permissions].sort());
    });

    test('is invoked by its events only', () => {
      const invokedBy = resourcesOfType('AWS::Lambda::Permission')
        .filter(([, permission]) => permission.FunctionName === `\${fn:${expected.binary}.Arn}`)
        .map(([, permission]) => [permission.Principal, permission.SourceArn]);
      const routeArn = (route: string) => {
        const [method, path] = route.split(' ');
        return arn('execute-api', `\${WebhookHttpApi}/*/${method}${path.replace(/\{[^}]+\}/g, '*')}`);
      };
      assert.deepEqual(invokedBy.sort(byJson), [
        ...Object.keys(expected.schedules ?? {}).map((event) => ['events.amazonaws.com', `\${${id}${event}.Arn}`]),
        ...Object.values(expected.routes ?? {}).map((route) => ['apigateway.amazonaws.com', routeArn(route)]),
      ].sort(byJson));
    });

    for (const [event, parameter] of Object.entries(expected.schedules ?? {})) {
      test(`runs on the ${parameter} schedule (${id}${event})`, () => {
        assert.deepEqual(properties(`${id}${event}`), {
          ScheduleExpression: `\${${parameter}}`,
          State: 'ENABLED',
          Targets: [{ Arn: `\${fn:${expected.binary}.Arn}`, Id: 'Target0' }],
        });
      });
    }

    if (expected.queues) {
      test('reads its queues in batches of 10, reporting failures per message, at most 2 at once', () => {
        const mappings = resourcesOfType('AWS::Lambda::EventSourceMapping')
          .filter(([, mapping]) => mapping.FunctionName === `\${fn:${expected.binary}}`);
        const expectedMappings = Object.entries(expected.queues!).map(([event, [queue, window]]) => [`${id}${event}`, {
          FunctionName: `\${fn:${expected.binary}}`,
          EventSourceArn: `\${${queue}.Arn}`,
          BatchSize: 10,
          ...(window === undefined ? {} : { MaximumBatchingWindowInSeconds: window }),
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          ScalingConfig: { MaximumConcurrency: 2 },
        }]);
        assert.deepEqual(Object.fromEntries(mappings), Object.fromEntries(expectedMappings));
      });
    }

    if (expected.routes) {
      test(`serves ${Object.values(expected.routes).join(', ')}`, () => {
        const integrations = Object.fromEntries(resourcesOfType('AWS::ApiGatewayV2::Integration'));
        const served = resourcesOfType('AWS::ApiGatewayV2::Route')
          .map(([, route]) => [route.RouteKey, integrations[/^integrations\/\$\{(.+)\}$/.exec(route.Target)![1]]])
          .filter(([, integration]) => integration.IntegrationUri === `\${fn:${expected.binary}.Arn}`);
        assert.deepEqual(served.map(([key]) => key).sort(), Object.values(expected.routes!).sort());
        for (const [, integration] of served) {
          assert.deepEqual(integration, {
            ApiId: '${WebhookHttpApi}',
            IntegrationType: 'AWS_PROXY',
            IntegrationUri: `\${fn:${expected.binary}.Arn}`,
            PayloadFormatVersion: '2.0',
          });
        }
      });
    }
  });
}

test('the outputs the CLI reads, by name', () => {
  const url = (route: string) =>
    `https://\${WebhookHttpApi}.execute-api.\${AWS::Region}.\${AWS::URLSuffix}/\${StageName}/${route}`;
  const outputs = Object.fromEntries(Object.entries(cfn.Outputs ?? {})
    .map(([name, output]) => [name, normaliser.flatten(output.Value)]));
  assert.deepEqual(outputs, {
    OrderSyncFunctionName: '${fn:order-sync}',
    ConnectionSecretPrefix: 'sellerbridge/${AWS::StackName}/connections/',
    LwaAppSecretArn: '${LwaAppSecret}',
    WebhookSigningSecretArn: '${WebhookSigningSecret}',
    WebhookUrl: url('webhooks/shipments'),
    ShopifyWebhookUrl: url('webhooks/shopify'),
    ShopifyWebhookSecretArn: '${ShopifyWebhookSecret}',
    OrdersApiUrl: url('orders'),
    ReadApiKeySecretArn: '${ReadApiKeySecret}',
    TableName: '${Table}',
    UpdatesQueueUrl: '${UpdatesQueue}',
    UpdatesDeadLetterQueueUrl: '${UpdatesDeadLetterQueue}',
    OutboundQueueUrl: '${OutboundQueue}',
    OutboundDeadLetterQueueUrl: '${OutboundDeadLetterQueue}',
    NotificationsQueueArn: '${NotificationsQueue.Arn}',
    NotificationsDeadLetterQueueUrl: '${NotificationsDeadLetterQueue}',
    DataKeyArn: '${DataKey.Arn}',
  });
});
