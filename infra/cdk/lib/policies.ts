// The statements infra/template.yaml gives each function: the actions it uses, spelled out (no
// wildcards), on the resources it uses. CDK's grant methods would allow more.
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';

/** What the store does: single items, transactions of puts and deletes, and queries of the indexes. */
export function tableAccess(table: dynamodb.ITable): iam.PolicyStatement {
  return onTable(table, ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:Query']);
}

export function tableRead(table: dynamodb.ITable): iam.PolicyStatement {
  return onTable(table, ['dynamodb:GetItem', 'dynamodb:Query']);
}

function onTable(table: dynamodb.ITable, actions: string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({ actions, resources: [table.tableArn, `${table.tableArn}/index/*`] });
}

export function sendTo(queue: sqs.IQueue): iam.PolicyStatement {
  return new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] });
}

/** What the event source mapping needs, and the sender's postponing of a message. */
export function pollFrom(queue: sqs.IQueue): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'],
    resources: [queue.queueArn],
  });
}

/** As SAM's AWSSecretsManagerGetSecretValuePolicy template expands. */
export function readSecret(secret: secretsmanager.ISecret): iam.PolicyStatement {
  return new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secret.secretArn] });
}
