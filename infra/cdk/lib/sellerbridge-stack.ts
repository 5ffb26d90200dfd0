// The sellerbridge stack in CDK: the same stack as the SAM template infra/template.yaml, resource for
// resource (test/equivalence.test.ts holds the two to it). Resources take the SAM template's logical ids
// (each construct's id), so the two templates line up.
import * as path from 'node:path';
import {
  ArnFormat, Aws, CfnCondition, CfnElement, CfnOutput, CfnParameter, Duration, Fn, RemovalPolicy, SecretValue, Stack,
  StackProps, Token,
} from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { BUNDLING_STACKS } from 'aws-cdk-lib/cx-api';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';
import { dashboardBody, METRICS_NAMESPACE } from './dashboard';
import { pollFrom, readSecret, sendTo, tableAccess, tableRead } from './policies';

/** The Cargo workspace the functions' binaries are built from. */
const WORKSPACE_MANIFEST = path.resolve(__dirname, '..', '..', '..', 'Cargo.toml');

/** The AWS account Amazon's SP-API notifications are sent from (SP-API "Notifications" guide). */
const AMAZON_NOTIFICATIONS_ACCOUNT = '437568002678';

const UPDATE_SENDER_TIMEOUT = Duration.seconds(60);
const ORDER_NOTIFICATIONS_TIMEOUT = Duration.seconds(30);

/** A queue's visibility timeout: 6x its consumer's timeout, AWS's advice for Lambda event sources. */
function visibilityTimeoutFor(consumerTimeout: Duration): Duration {
  return Duration.seconds(6 * consumerTimeout.toSeconds());
}

/** Every queue is read in batches of 10, reporting failures per message, by at most 2 invocations at once. */
const SQS_BATCH_SIZE = 10;
const SQS_MAX_CONCURRENCY = 2;

/** A schedule expression, a queue to read, or `METHOD /path` on the HTTP API. */
type FunctionEvent =
  | { schedule: string }
  | { queue: sqs.IQueue; maxBatchingWindow?: Duration }
  | { route: string };

interface FunctionSpec {
  /** The workspace's binary: SAM's Metadata BuildProperties Binary. */
  binary: string;
  description: string;
  timeout: Duration;
  reservedConcurrency?: number;
  /** Besides the variables every function has. */
  environment?: Record<string, string>;
  /** The role's statements besides the data key's, which every function has. */
  policies: iam.PolicyStatement[];
  /** By SAM's event name, which names the event's resources as SAM does. */
  events: Record<string, FunctionEvent>;
}

/** A Lambda proxy integration that leaves the invoke permission to the stack: HttpLambdaIntegration's
 *  allows every method on the path, SAM's (which this stack declares) only the route's. */
class LambdaProxyIntegration extends apigwv2.HttpRouteIntegration {
  constructor(id: string, private readonly handler: lambda.IFunction) {
    super(id);
  }

  bind(): apigwv2.HttpRouteIntegrationConfig {
    return {
      type: apigwv2.HttpIntegrationType.AWS_PROXY,
      uri: this.handler.functionArn,
      payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
    };
  }
}

/** A policy statement CloudFormation keeps only under a condition, which CDK's statements cannot say. Give it
 *  a Sid: CDK never merges a statement that has one into another (which would drop the condition). */
class ConditionalStatement extends iam.PolicyStatement {
  constructor(private readonly condition: CfnCondition, props: iam.PolicyStatementProps) {
    super(props);
  }

  toStatementJson(): any {
    return Fn.conditionIf(this.condition.logicalId, super.toStatementJson(), Aws.NO_VALUE);
  }
}

/** The instruction sets the functions can be built for and run on: the SAM template's Architecture. */
export const ARCHITECTURES = ['arm64', 'x86_64'] as const;
export type ArchitectureName = (typeof ARCHITECTURES)[number];

export interface SellerbridgeStackProps extends StackProps {
  /** Synthesise without building the functions' binaries (their code is then the workspace's source). */
  readonly skipBundling?: boolean;
  /** What the binaries are built for and the Architecture parameter's default (arm64, as in SAM). */
  readonly architecture?: ArchitectureName;
}

export class SellerbridgeStack extends Stack {
  /** The functions' roles live under this path, which the data key's policy trusts. */
  private readonly rolePath = `/sellerbridge/${Aws.STACK_NAME}/`;
  /** The data key, as the resources it encrypts take it (see the constructor). */
  private readonly dataKey: kms.IKey;
  private readonly api: apigwv2.HttpApi;
  private readonly hasAlarmEmail: CfnCondition;
  private readonly alarmTopic: sns.CfnTopic;
  private readonly globalEnvironment: Record<string, string>;
  /** What the functions' binaries are built for. */
  private readonly architecture: lambda.Architecture;
  /** The Architecture parameter, which the functions run on (its default is what they are built for). */
  private readonly architectureParameter: CfnParameter;

  constructor(
    scope: Construct, id: string, { skipBundling, architecture = 'arm64', ...props }: SellerbridgeStackProps = {},
  ) {
    super(scope, id, {
      description: "sellerbridge - connects an Amazon seller account (SP-API) to a merchant's store.",
      // No CDKMetadata resource: the SAM stack has none.
      analyticsReporting: false,
      ...props,
    });
    if (skipBundling) this.node.setContext(BUNDLING_STACKS, []);
    if (!ARCHITECTURES.includes(architecture)) {
      throw new Error(`architecture must be one of ${ARCHITECTURES.join(', ')}, not ${architecture}`);
    }
    this.architecture = architecture === 'x86_64' ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64;

    // ------------------------------------------------------------ parameters and conditions
    const stageName = new CfnParameter(this, 'StageName', {
      type: 'String',
      default: 'prod',
      allowedPattern: '^[A-Za-z0-9_-]+$',
      description: "Stage of the HTTP API that receives the store's webhooks.",
    });
    const spApiEndpoint = new CfnParameter(this, 'SpApiEndpoint', {
      type: 'String',
      default: '',
      description: "Leave empty: each connection calls the SP-API host of its marketplace's region. Only to point "
        + 'the stack elsewhere (a test server): one URL for every region, or NA=url,EU=url,FE=url.',
    });
    const lwaEndpoint = new CfnParameter(this, 'LwaEndpoint', {
      type: 'String',
      default: 'https://api.amazon.com/auth/o2/token',
      description: 'Login with Amazon token endpoint.',
    });
    const syncSchedule = new CfnParameter(this, 'SyncSchedule', {
      type: 'String',
      default: 'rate(15 minutes)',
      description: 'EventBridge schedule expression for the order sync.',
    });
    const redactionSchedule = new CfnParameter(this, 'RedactionSchedule', {
      type: 'String',
      default: 'rate(1 hour)',
      description: 'EventBridge schedule expression for the buyer PII redactor.',
    });
    const alarmEmail = new CfnParameter(this, 'AlarmEmail', {
      type: 'String',
      default: '',
      description: 'Optional e-mail address notified when updates land in the dead-letter queue.',
    });
    // A deploy-time parameter, as in SAM, but the binaries are built at synth time: its default is what they
    // were built for (-c architecture=...), and a deploy should not give it another value.
    this.architectureParameter = new CfnParameter(this, 'Architecture', {
      type: 'String',
      default: architecture,
      allowedValues: [...ARCHITECTURES],
      description: 'Instruction set of the functions (arm64 is Graviton). It must be the one their binaries were '
        + 'built for: sam build --parameter-overrides Architecture=... (infra/local/sam-build.sh --arch), whose '
        + 'built template allows only that value; the CDK app builds for -c architecture=..., its default here.',
    });
    const keyUserArns = new CfnParameter(this, 'KeyUserArns', {
      type: 'CommaDelimitedList',
      default: '',
      description: "IAM roles or users, besides the stack's own function roles, that may use the data key: the "
        + 'operators who run the sellerbridge CLI against this stack (it reads the table and queues and writes the '
        + "connections' secrets). Empty: only the stack's functions.",
    });

    this.hasAlarmEmail = new CfnCondition(this, 'HasAlarmEmail', {
      expression: Fn.conditionNot(Fn.conditionEquals(alarmEmail.valueAsString, '')),
    });
    const hasKeyUsers = new CfnCondition(this, 'HasKeyUsers', {
      expression: Fn.conditionNot(Fn.conditionEquals(Fn.join('', keyUserArns.valueAsList), '')),
    });

    // ------------------------------------------------------------ encryption
    // The merchant's own key for everything holding order data or secrets: the table (buyer PII until it is
    // redacted), the queues, the secrets. The account administers it; the functions' roles, the operators in
    // KeyUserArns and Amazon's notifications sender (for the notifications queue) use it, and so does the
    // account through Secrets Manager and DynamoDB, which is how a deployment creates the secrets and the
    // table. Kept when the stack is deleted, like the table whose backups need it.
    const account = new iam.AccountRootPrincipal();
    const useTheKey = ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'];
    const key = new kms.Key(this, 'DataKey', {
      description: 'sellerbridge data key (table, queues, dead-letter queues, secrets).',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
      policy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'AccountAdministersTheKey',
            principals: [account],
            actions: [
              'kms:Create*', 'kms:Describe*', 'kms:Enable*', 'kms:List*', 'kms:Put*', 'kms:Update*', 'kms:Revoke*',
              'kms:Disable*', 'kms:Get*', 'kms:Delete*', 'kms:TagResource', 'kms:UntagResource',
              'kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion',
            ],
            resources: ['*'],
          }),
          new iam.PolicyStatement({
            sid: 'StackFunctionsUseTheKey',
            principals: [account],
            actions: useTheKey,
            resources: ['*'],
            conditions: {
              ArnLike: { 'aws:PrincipalArn': `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role${this.rolePath}*` },
            },
          }),
          new iam.PolicyStatement({
            sid: 'AccountUsesTheKeyThroughSecretsManagerAndDynamoDB',
            principals: [account],
            actions: [...useTheKey, 'kms:CreateGrant'],
            resources: ['*'],
            conditions: {
              StringEquals: {
                'kms:CallerAccount': Aws.ACCOUNT_ID,
                'kms:ViaService': [
                  `secretsmanager.${Aws.REGION}.amazonaws.com`,
                  `dynamodb.${Aws.REGION}.amazonaws.com`,
                ],
              },
            },
          }),
          new ConditionalStatement(hasKeyUsers, {
            sid: 'OperatorsUseTheKey',
            // The whole list: a principal may be a list of ARNs.
            principals: [new iam.ArnPrincipal(Token.asString(keyUserArns.value))],
            actions: useTheKey,
            resources: ['*'],
          }),
          // Amazon's notifications service sends to the notifications queue from its own account.
          new iam.PolicyStatement({
            sid: 'AmazonNotificationsEncryptForTheQueue',
            principals: [new iam.AccountPrincipal(AMAZON_NOTIFICATIONS_ACCOUNT)],
            actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
            resources: ['*'],
            conditions: { StringEquals: { 'kms:ViaService': `sqs.${Aws.REGION}.amazonaws.com` } },
          }),
        ],
      }),
    });
    // The policy above is the whole key policy: what the key encrypts takes it through a view that adds no
    // statements (a Secret would add one for Secrets Manager, which the policy already allows).
    this.dataKey = kms.Key.fromKeyArn(this, 'DataKeyView', key.keyArn);
    new kms.Alias(this, 'DataKeyAlias', { aliasName: `alias/${Aws.STACK_NAME}-data`, targetKey: this.dataKey });

    // ------------------------------------------------------------ storage
    const table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expires_at',
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.dataKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Orders whose buyer PII must be redacted, by due date. KEYS_ONLY so that buyer PII is never copied into
    // the index. redaction_pk is one of 16 shards (PII#0 .. PII#15), so no partition runs hot.
    table.addGlobalSecondaryIndex({
      indexName: 'by-redaction-due',
      partitionKey: { name: 'redaction_pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'redaction_due_at', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
    // Each connection's orders awaiting shipment, by ship-by date: the read endpoint's list. Sparse and
    // KEYS_ONLY, so no PII is copied here.
    table.addGlobalSecondaryIndex({
      indexName: 'by-awaiting-shipment',
      partitionKey: { name: 'awaiting_pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'awaiting_sk', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });

    // ------------------------------------------------------------ alarms' topic
    // Only when an address is given, which CDK's Topic cannot make conditional.
    this.alarmTopic = new sns.CfnTopic(this, 'UpdatesDeadLetterAlarmTopic', {
      kmsMasterKeyId: 'alias/aws/sns',
      subscription: [{ protocol: 'email', endpoint: alarmEmail.valueAsString }],
    });
    this.alarmTopic.cfnOptions.condition = this.hasAlarmEmail;

    // ------------------------------------------------------------ queues
    const updates = this.queueWithDeadLetters('Updates', visibilityTimeoutFor(UPDATE_SENDER_TIMEOUT),
      'Store updates failed 5 times and were moved to the dead-letter queue (docs/runbook.md#dead-letters).');
    // Order events for the merchant's webhook URL (order.imported, order.updated, order.cancelled).
    const outbound = this.queueWithDeadLetters('Outbound', visibilityTimeoutFor(UPDATE_SENDER_TIMEOUT),
      'Events for the merchant failed 5 times and were moved to the dead-letter queue (docs/runbook.md#dead-letters).');
    // Amazon's ORDER_CHANGE notifications (`sellerbridge notifications subscribe` points Amazon here).
    const notifications = this.queueWithDeadLetters('Notifications', visibilityTimeoutFor(ORDER_NOTIFICATIONS_TIMEOUT),
      "Amazon's notifications that could not be handled were parked in the dead-letter queue "
      + '(docs/runbook.md#dead-letters).');
    new sqs.QueuePolicy(this, 'NotificationsQueuePolicy', { queues: [notifications.queue] }).document.addStatements(
      new iam.PolicyStatement({
        sid: 'AmazonSellingPartnerNotifications',
        principals: [new iam.AccountPrincipal(AMAZON_NOTIFICATIONS_ACCOUNT)],
        actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes'],
        resources: [notifications.queue.queueArn],
      }),
    );

    // ------------------------------------------------------------ secrets
    const lwaAppSecret = new secretsmanager.Secret(this, 'LwaAppSecret', {
      encryptionKey: this.dataKey,
      description: 'Login with Amazon application credentials (client_id, client_secret). Replace the placeholders '
        + 'after the first deploy.',
      // Placeholders, not a secret: the operator sets the real ones (`sellerbridge app set-credentials`).
      secretStringValue: SecretValue.unsafePlainText('{"client_id":"REPLACE_ME","client_secret":"REPLACE_ME"}'),
    });
    const webhookSigningSecret = this.generatedSecret('WebhookSigningSecret',
      'HMAC key the store uses to sign shipment webhooks.');
    const shopifyWebhookSecret = this.generatedSecret('ShopifyWebhookSecret',
      "The Shopify app's secret that signs Shopify's webhooks (X-Shopify-Hmac-Sha256) to /webhooks/shopify. Replace "
      + "the generated value with the app's secret (sellerbridge webhooks set-shopify-secret); until then no Shopify "
      + 'webhook verifies.');
    const readApiKeySecret = this.generatedSecret('ReadApiKeySecret',
      "The key the merchant's systems send in x-api-key to read orders (GET /orders).");

    // ------------------------------------------------------------ HTTP API
    this.api = new apigwv2.HttpApi(this, 'WebhookHttpApi', { apiName: Aws.STACK_NAME, createDefaultStage: false });
    const stage = new apigwv2.HttpStage(this, 'WebhookHttpApiStage', {
      httpApi: this.api,
      stageName: stageName.valueAsString,
      autoDeploy: true,
    });

    // ------------------------------------------------------------ functions
    this.globalEnvironment = {
      SELLERBRIDGE_TABLE: table.tableName,
      SELLERBRIDGE_UPDATES_QUEUE_URL: updates.queue.queueUrl,
      SELLERBRIDGE_OUTBOUND_QUEUE_URL: outbound.queue.queueUrl,
      SELLERBRIDGE_LWA_SECRET_ID: lwaAppSecret.secretArn,
      SELLERBRIDGE_WEBHOOK_SECRET_ID: webhookSigningSecret.secretArn,
      SELLERBRIDGE_SHOPIFY_SECRET_ID: shopifyWebhookSecret.secretArn,
      SELLERBRIDGE_SPAPI_ENDPOINT: spApiEndpoint.valueAsString,
      SELLERBRIDGE_LWA_ENDPOINT: lwaEndpoint.valueAsString,
    };
    // Refresh tokens of the stack's own connections: two stacks in one account never see each other's.
    const connectionSecretPrefix = `sellerbridge/${Aws.STACK_NAME}/connections/`;
    const readConnectionSecrets = new iam.PolicyStatement({
      actions: ['secretsmanager:GetSecretValue'],
      resources: [this.formatArn({
        service: 'secretsmanager',
        resource: 'secret',
        resourceName: `${connectionSecretPrefix}*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      })],
    });

    const orderSync = this.rustFunction('OrderSyncFunction', {
      binary: 'order-sync',
      description: 'Pulls new and changed orders from the SP-API into the table.',
      timeout: Duration.seconds(300),
      // One sync at a time.
      reservedConcurrency: 1,
      policies: [
        tableAccess(table),
        sendTo(outbound.queue),
        // Packages a failed feed hands back go by call again.
        sendTo(updates.queue),
        readSecret(lwaAppSecret),
        readConnectionSecrets,
      ],
      events: { Sync: { schedule: syncSchedule.valueAsString } },
    });

    const shipmentWebhook = this.rustFunction('ShipmentWebhookFunction', {
      binary: 'shipment-webhook',
      description: "Receives the store's signed shipment webhooks (ours and Shopify's) and queues updates for Amazon.",
      timeout: Duration.seconds(10),
      policies: [
        tableAccess(table),
        sendTo(updates.queue),
        // fulfillment.updated when a cancellation settles at once.
        sendTo(outbound.queue),
        readSecret(webhookSigningSecret),
        readSecret(shopifyWebhookSecret),
      ],
      events: {
        Shipment: { route: 'POST /webhooks/shipments' },
        Shopify: { route: 'POST /webhooks/shopify' },
      },
    });

    const updateSender = this.rustFunction('UpdateSenderFunction', {
      binary: 'update-sender',
      description: 'Sends queued shipment updates and fulfillment orders to the SP-API, and events to the '
        + "merchant's webhook URL.",
      // A batch waits in process for the confirmation slots it reserved (up to 20 s), and the last call (its
      // HTTP timeout is 20 s) still fits.
      timeout: UPDATE_SENDER_TIMEOUT,
      policies: [
        tableAccess(table),
        pollFrom(updates.queue),
        // Throttled updates go back to the queue as new, delayed messages.
        sendTo(updates.queue),
        pollFrom(outbound.queue),
        // fulfillment.updated after a fulfillment order is created or cancelled.
        sendTo(outbound.queue),
        readSecret(lwaAppSecret),
        // Signs the order events.
        readSecret(webhookSigningSecret),
        readConnectionSecrets,
      ],
      events: {
        Updates: { queue: updates.queue, maxBatchingWindow: Duration.seconds(5) },
        Outbound: { queue: outbound.queue },
      },
    });

    const orderApi = this.rustFunction('OrderApiFunction', {
      binary: 'order-api',
      description: "The merchant's read endpoint (orders awaiting shipment, one order with its packages).",
      timeout: Duration.seconds(10),
      environment: { SELLERBRIDGE_API_KEY_SECRET_ID: readApiKeySecret.secretArn },
      policies: [tableRead(table), readSecret(readApiKeySecret)],
      events: {
        ListOrders: { route: 'GET /orders' },
        GetOrder: { route: 'GET /orders/{order_id}' },
        GetInventory: { route: 'GET /inventory' },
        GetFulfillment: { route: 'GET /fulfillments' },
      },
    });

    const orderNotifications = this.rustFunction('OrderNotificationsFunction', {
      binary: 'order-notifications',
      description: "Imports the orders Amazon's ORDER_CHANGE notifications name, one getOrder per order.",
      timeout: ORDER_NOTIFICATIONS_TIMEOUT,
      environment: { SELLERBRIDGE_NOTIFICATIONS_DLQ_URL: notifications.deadLetterQueue.queueUrl },
      policies: [
        tableAccess(table),
        pollFrom(notifications.queue),
        // Notifications that cannot be read are parked with their reason.
        sendTo(notifications.deadLetterQueue),
        sendTo(outbound.queue),
        readSecret(lwaAppSecret),
        readConnectionSecrets,
      ],
      events: {
        // Notifications about one order tend to come together: a short window coalesces them.
        Notifications: { queue: notifications.queue, maxBatchingWindow: Duration.seconds(2) },
      },
    });

    const piiRedactor = this.rustFunction('PiiRedactorFunction', {
      binary: 'pii-redactor',
      description: 'Redacts buyer PII from orders once it is no longer needed.',
      timeout: Duration.seconds(300),
      policies: [tableAccess(table)],
      events: { Redact: { schedule: redactionSchedule.valueAsString } },
    });

    // ------------------------------------------------------------ alarms and dashboard
    this.sumAlarm('FunctionErrorsAlarm', 'A function failed an invocation (docs/runbook.md#function-errors).',
      [orderSync, orderNotifications, orderApi, shipmentWebhook, updateSender, piiRedactor]
        .map((fn) => fn.metricErrors({ statistic: 'Sum' })),
      { period: Duration.minutes(5) });
    this.sumAlarm('AmazonThrottledAlarm',
      "Amazon answered 429 QuotaExceeded more than 20 times in 15 minutes; another app may share the seller's quota "
      + '(docs/runbook.md#throttling).',
      ['order-sync', 'order-notifications', 'update-sender']
        .map((binary) => appMetric('AmazonThrottled', binary, 'Sum')),
      { period: Duration.minutes(15), threshold: 20 });
    this.sumAlarm('ReauthorizationAlarm',
      'A connection needs the seller to re-authorize the app in Seller Central (docs/runbook.md#re-authorization).',
      [appMetric('ConnectionsNeedingReauthorization', 'order-sync', 'Maximum')],
      { period: Duration.minutes(15) });
    this.sumAlarm('RedactionOverdueAlarm',
      'Buyer PII stayed past its redaction time in two runs in a row (docs/runbook.md#redaction-overdue).',
      [appMetric('RedactionOverdue', 'pii-redactor', 'Sum')],
      { period: Duration.hours(1), evaluationPeriods: 2 });

    new cloudwatch.CfnDashboard(this, 'Dashboard', {
      dashboardName: `${Aws.STACK_NAME}-sellerbridge`,
      dashboardBody: this.toJsonString(dashboardBody()),
    });

    // ------------------------------------------------------------ outputs
    // `sellerbridge --stack <name>` reads these: keep their names stable.
    const output = (name: string, value: string, description: string) =>
      new CfnOutput(this, name, { value, description });
    const apiUrl = (route: string) => `${stage.url}/${route}`;
    output('OrderSyncFunctionName', orderSync.functionName, 'The order sync (`sellerbridge sync-now` invokes it).');
    output('ConnectionSecretPrefix', connectionSecretPrefix,
      "Where the connections' refresh tokens are kept; the functions may read only secrets under this prefix, so "
      + "two stacks in one account never see each other's connections.");
    output('LwaAppSecretArn', lwaAppSecret.secretArn,
      "The app's Login with Amazon credentials (`sellerbridge app set-credentials`).");
    output('WebhookSigningSecretArn', webhookSigningSecret.secretArn,
      "The key the store's webhooks and our order events are signed with (`sellerbridge webhooks rotate-key`).");
    output('WebhookUrl', apiUrl('webhooks/shipments'), 'URL the store posts shipment webhooks to.');
    output('ShopifyWebhookUrl', apiUrl('webhooks/shopify'),
      'URL Shopify posts fulfillments/create, fulfillments/update, orders/create and orders/updated webhooks to.');
    output('ShopifyWebhookSecretArn', shopifyWebhookSecret.secretArn,
      "The secret to hold the Shopify app's webhook signing secret.");
    output('OrdersApiUrl', apiUrl('orders'), 'The read endpoint (GET, with the ReadApiKeySecret value in x-api-key).');
    output('ReadApiKeySecretArn', readApiKeySecret.secretArn, "The secret holding the read endpoint's API key.");
    output('TableName', table.tableName, 'The DynamoDB table.');
    output('UpdatesQueueUrl', updates.queue.queueUrl, 'Queue of store updates to send to Amazon.');
    output('UpdatesDeadLetterQueueUrl', updates.deadLetterQueue.queueUrl, 'Updates that failed 5 times.');
    output('OutboundQueueUrl', outbound.queue.queueUrl,
      "Order events waiting for the merchant's webhook URL (where a redrive of the outbound dead-letter queue sends "
      + 'them).');
    output('OutboundDeadLetterQueueUrl', outbound.deadLetterQueue.queueUrl,
      "Order events the merchant's webhook URL did not accept after 5 attempts.");
    output('NotificationsQueueArn', notifications.queue.queueArn,
      'Where Amazon delivers ORDER_CHANGE notifications (the SQS destination to register).');
    output('NotificationsDeadLetterQueueUrl', notifications.deadLetterQueue.queueUrl,
      'Notifications that could not be handled, each with its reason.');
    output('DataKeyArn', this.dataKey.keyArn,
      "The customer-managed KMS key of the table, queues and secrets; the CLI encrypts the connections' secrets "
      + 'with it (SELLERBRIDGE_DATA_KEY_ID).');
  }

  /** A top-level construct's own resource takes the construct's id as its logical id, as in the SAM
   *  template, rather than CDK's id with a hash suffix. */
  protected allocateLogicalId(element: CfnElement): string {
    const [top, ...rest] = element.node.scopes.slice(this.node.scopes.length).map((scope) => scope.node.id);
    return rest.length === 1 && rest[0] === 'Resource' ? top : super.allocateLogicalId(element);
  }

  /** `<name>Queue` and its `<name>DeadLetterQueue`, which keeps what failed 5 times for 14 days, with
   *  `<name>DeadLetterAlarm` on anything landing there. */
  private queueWithDeadLetters(name: string, visibilityTimeout: Duration, alarmDescription: string) {
    const deadLetterQueue = new sqs.Queue(this, `${name}DeadLetterQueue`, {
      retentionPeriod: Duration.days(14),
      encryptionMasterKey: this.dataKey,
    });
    const queue = new sqs.Queue(this, `${name}Queue`, {
      visibilityTimeout,
      encryptionMasterKey: this.dataKey,
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: 5 },
    });
    this.alarm(`${name}DeadLetterAlarm`, alarmDescription,
      deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(1) }));
    return { queue, deadLetterQueue };
  }

  private generatedSecret(id: string, description: string): secretsmanager.Secret {
    return new secretsmanager.Secret(this, id, {
      encryptionKey: this.dataKey,
      description,
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });
  }

  /**
   * One of the workspace's binaries as a function, with SAM's Globals (runtime, architecture, 256 MB, X-Ray, JSON
   * logs, the common environment), its role (`<id>Role`) and its events (`<id><event name>`).
   */
  private rustFunction(id: string, spec: FunctionSpec): lambda.Function {
    const eventEntries = Object.entries(spec.events);
    const statements = [
      new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [this.dataKey.keyArn] }),
      ...spec.policies,
    ];
    const role = new iam.Role(this, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      path: this.rolePath,
      // The managed policies SAM attaches: logs, X-Ray (tracing is on), and polling for queue event sources.
      managedPolicies: [
        'service-role/AWSLambdaBasicExecutionRole',
        'AWSXrayWriteOnlyAccess',
        ...(eventEntries.some(([, event]) => 'queue' in event) ? ['service-role/AWSLambdaSQSQueueExecutionRole'] : []),
      ].map((name) => iam.ManagedPolicy.fromAwsManagedPolicyName(name)),
      // One inline policy per statement, named as SAM names them.
      inlinePolicies: Object.fromEntries(statements.map((statement, i) => [
        `${id}RolePolicy${i}`, new iam.PolicyDocument({ statements: [statement] }),
      ])),
    });

    const fn = new RustFunction(this, id, {
      manifestPath: WORKSPACE_MANIFEST,
      binaryName: spec.binary,
      runtime: 'provided.al2023',
      // Builds with `cargo lambda build --arm64` or `--x86-64`.
      architecture: this.architecture,
      memorySize: 256,
      timeout: spec.timeout,
      reservedConcurrentExecutions: spec.reservedConcurrency,
      tracing: lambda.Tracing.ACTIVE,
      loggingFormat: lambda.LoggingFormat.JSON,
      description: spec.description,
      environment: { ...this.globalEnvironment, ...spec.environment },
      // The role above is the whole of the function's permissions, as in the SAM stack: CDK's own grants
      // (X-Ray for tracing) would add a second policy for what the managed policies already allow.
      role: role.withoutPolicyUpdates(),
    });
    // Names the binary in the template, as the SAM template does.
    const cfnFunction = fn.node.defaultChild as lambda.CfnFunction;
    // Runs on the Architecture parameter, as SAM's Globals say.
    cfnFunction.architectures = [this.architectureParameter.valueAsString];
    cfnFunction.addMetadata('BuildMethod', 'rust-cargolambda');
    cfnFunction.addMetadata('BuildProperties', { Binary: spec.binary });

    for (const [name, event] of eventEntries) {
      const eventId = `${id}${name}`;
      if ('schedule' in event) {
        new events.Rule(this, eventId, {
          schedule: events.Schedule.expression(event.schedule),
          targets: [new targets.LambdaFunction(fn)],
        });
      } else if ('queue' in event) {
        new lambda.EventSourceMapping(this, eventId, {
          target: fn,
          eventSourceArn: event.queue.queueArn,
          batchSize: SQS_BATCH_SIZE,
          maxBatchingWindow: event.maxBatchingWindow,
          reportBatchItemFailures: true,
          maxConcurrency: SQS_MAX_CONCURRENCY,
        });
      } else {
        this.route(eventId, fn, event.route);
      }
    }
    return fn;
  }

  /** `METHOD /path` to the function, which API Gateway may invoke for that route only (path parameters as
   *  wildcards, as SAM scopes it). */
  private route(id: string, fn: lambda.IFunction, route: string): void {
    const [method, routePath] = route.split(' ');
    this.api.addRoutes({
      path: routePath,
      methods: [method as apigwv2.HttpMethod],
      integration: new LambdaProxyIntegration(`${id}Integration`, fn),
    });
    fn.addPermission(`${id}Permission`, {
      scope: this,
      principal: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      sourceArn: this.formatArn({
        service: 'execute-api',
        resource: this.api.apiId,
        resourceName: `*/${method}${routePath.replace(/\{[^}]+\}/g, '*')}`,
      }),
    });
  }

  /** An alarm on anything above `threshold`, notifying the alarm topic when there is one. */
  private alarm(
    id: string, description: string, metric: cloudwatch.IMetric, { threshold = 0, evaluationPeriods = 1 } = {},
  ): cloudwatch.CfnAlarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      alarmDescription: description,
      metric,
      threshold,
      evaluationPeriods,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const cfnAlarm = alarm.node.defaultChild as cloudwatch.CfnAlarm;
    // The topic is conditional, which CDK's alarm actions cannot follow.
    cfnAlarm.alarmActions = Token.asList(
      Fn.conditionIf(this.hasAlarmEmail.logicalId, [this.alarmTopic.ref], Aws.NO_VALUE));
    return cfnAlarm;
  }

  /** An alarm on the sum of `metrics`, each over `period`. */
  private sumAlarm(
    id: string, description: string, metrics: cloudwatch.IMetric[],
    { period, ...rest }: { period: Duration; threshold?: number; evaluationPeriods?: number },
  ): void {
    const usingMetrics = Object.fromEntries(metrics.map((metric, i) => [`m${i}`, metric]));
    const total = new cloudwatch.MathExpression({
      expression: `SUM([${Object.keys(usingMetrics).join(', ')}])`,
      usingMetrics,
      period,
    });
    // The sum is `total` in the SAM template; CDK would call it expr_1.
    this.alarm(id, description, total, rest).addPropertyOverride('Metrics.0.Id', 'total');
  }
}

/** A metric the functions publish, by the binary that publishes it. */
function appMetric(metricName: string, binary: string, statistic: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { Function: binary },
    statistic,
  });
}
