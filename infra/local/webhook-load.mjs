// HTTP load on the local webhook endpoint with autocannon (installed into .local/npm by stack.sh):
// every request a new, correctly signed shipment.created event for one of the given orders.
//
//   node infra/local/webhook-load.mjs <url> <signing key file> <orders json file> <seconds> <connections>
//
// The orders file is [{"order_id": "...", "sku": "..."}]. Prints autocannon's figures as one JSON line.
import { createRequire } from 'node:module';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '../../.local/npm/node_modules/'));
const autocannon = require('autocannon');

const [url, keyFile, ordersFile, seconds, connections] = process.argv.slice(2);
const key = readFileSync(keyFile, 'utf8');
const orders = JSON.parse(readFileSync(ordersFile, 'utf8'));
let sent = 0;

function signedEvent(request) {
  sent += 1;
  const order = orders[sent % orders.length];
  const now = new Date().toISOString();
  const body = JSON.stringify({
    id: `evt-load-${process.pid}-${sent}`, type: 'shipment.created', created_at: now,
    data: {
      order_id: order.order_id, package_id: `PKG-LOAD-${process.pid}-${sent}`, carrier: 'UPS',
      tracking_number: `1ZLOAD${process.pid}${sent}`, ship_date: now, items: [{ sku: order.sku, quantity: 1 }],
    },
  });
  const t = Math.floor(Date.now() / 1000);
  const v1 = createHmac('sha256', key).update(`${t}.${body}`).digest('hex');
  return {
    ...request, method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-sellerbridge-signature': `t=${t},v1=${v1}` },
  };
}

autocannon({
  url, connections: Number(connections), duration: Number(seconds),
  requests: [{ setupRequest: signedEvent }],
}, (err, result) => {
  if (err) { console.error(err); process.exit(1); }
  console.log(JSON.stringify({
    requests: result.requests.total, requests_per_s: result.requests.average,
    latency_p50_ms: result.latency.p50, latency_p99_ms: result.latency.p99,
    status_2xx: result['2xx'], non_2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts,
  }));
});
