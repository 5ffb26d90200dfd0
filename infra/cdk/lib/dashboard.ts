// The sellerbridge dashboard: the metrics the functions publish (namespace `sellerbridge`, dimension
// `Function`), two panels a row. Written as the dashboard body rather than with CDK's widgets, which add
// settings of their own, so the dashboard stays the one infra/template.yaml declares.
import { Aws } from 'aws-cdk-lib';

export const METRICS_NAMESPACE = 'sellerbridge';

/** [metric name, binary that publishes it] */
type AppMetric = [string, string];

const PANELS: [string, AppMetric[]][] = [
  ['Orders', [
    ['OrdersImported', 'order-sync'],
    ['OrdersImported', 'order-notifications'],
    ['OrdersUpdated', 'order-sync'],
    ['OrdersUpdated', 'order-notifications'],
  ]],
  ['Updates to Amazon', [
    ['ConfirmationsSent', 'update-sender'],
    ['FeedsSubmitted', 'order-sync'],
  ]],
  ['Quota', [
    ['AmazonThrottled', 'order-sync'],
    ['AmazonThrottled', 'order-notifications'],
    ['AmazonThrottled', 'update-sender'],
    ['QuotaWaits', 'order-sync'],
    ['QuotaWaits', 'order-notifications'],
    ['QuotaWaits', 'update-sender'],
  ]],
  ['Failures', [
    ['DeadLettered', 'update-sender'],
    ['DeadLettered', 'order-notifications'],
    ['WebhookFailures', 'update-sender'],
    ['ConnectionsNeedingReauthorization', 'order-sync'],
  ]],
  ['PII', [
    ['Redactions', 'pii-redactor'],
    ['RedactionOverdue', 'pii-redactor'],
  ]],
  ['Fulfillment and inventory', [
    ['FulfillmentOrdersChanged', 'order-sync'],
    ['FulfillmentOrdersChanged', 'order-notifications'],
    ['InventoryChanged', 'order-sync'],
  ]],
];

const WIDTH = 12;
const HEIGHT = 6;

/** The CloudWatch dashboard body (before Stack.toJsonString). */
export function dashboardBody(): object {
  return {
    widgets: PANELS.map(([title, metrics], i) => ({
      type: 'metric',
      x: (i % 2) * WIDTH,
      y: Math.floor(i / 2) * HEIGHT,
      width: WIDTH,
      height: HEIGHT,
      properties: {
        title,
        view: 'timeSeries',
        stat: 'Sum',
        period: 300,
        region: Aws.REGION,
        metrics: metrics.map(([name, binary]) => [METRICS_NAMESPACE, name, 'Function', binary]),
      },
    })),
  };
}
