//! Operator tasks, shared by the `sellerbridge` command and the tests. They work on whatever stack the
//! AWS configuration points at: a deployed one, or the local one through `AWS_ENDPOINT_URL_*`.
use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use indicatif::ProgressBar;
use sellerbridge_core::domain::adjustment::{ORDER_ACKNOWLEDGEMENT_FEED, PAYMENT_ADJUSTMENT_FEED};
use sellerbridge_core::domain::carrier::CarrierRule;
use sellerbridge_core::domain::connection::{Connection, ConnectionOptions, ConnectionState, OptionsChange};
use sellerbridge_core::domain::feed::ORDER_FULFILLMENT_FEED;
use sellerbridge_core::domain::fulfillment::AmazonFulfilledSku;
use sellerbridge_core::domain::ids::{
    AmazonOrderId, ConnectionId, MarketplaceId, PackageId, SellerFulfillmentOrderId, SellerId, Sku, StoreOrderId,
};
use sellerbridge_core::domain::marketplace::{Marketplace, Region};
use sellerbridge_core::domain::order::Order;
use sellerbridge_core::domain::pii;
use sellerbridge_core::domain::rate::Quota;
use sellerbridge_core::domain::shipment::{Package, PackageState, ShipmentRejected, reserve_again};
use sellerbridge_core::queue::{UpdateMessage, UpdateQueue};
use sellerbridge_core::runtime::Adapters;
use sellerbridge_core::spapi::models::Destination;
use sellerbridge_core::spapi::notification::{FULFILLMENT_ORDER_STATUS, ORDER_CHANGE};
use sellerbridge_core::spapi::{
    AppCredentials, Grant, InventoryQuery, Operation, SellerAuth, SpApiClient, SpApiError, WaitBudget,
};
use sellerbridge_core::store::{CursorRecord, DynamoStore, StoreError, Versioned};
use serde_json::json;

/// A new, active connection, refused if its marketplace is not one of Amazon's or `region` (when the
/// operator gives one) is not the marketplace's.
pub fn new_connection(
    id: ConnectionId,
    seller_id: SellerId,
    marketplace_id: MarketplaceId,
    region: Option<Region>,
    import_from: DateTime<Utc>,
    options: ConnectionOptions,
    secrets: &ConnectionSecrets,
) -> Result<Connection> {
    let marketplace = Marketplace::find(&marketplace_id).with_context(|| format!("connection {id}"))?;
    if let Some(region) = region.filter(|region| *region != marketplace.region) {
        bail!(
            "connection {id}: marketplace {marketplace_id} ({}) is served from the {} region, not {region}",
            marketplace.country,
            marketplace.region
        );
    }
    Ok(Connection {
        refresh_token_secret_id: secrets.secret_id(&id),
        id,
        seller_id,
        marketplace_id,
        options,
        state: ConnectionState::Active,
        import_from,
        credentials_version: 0,
    })
}

/// The connection `id`, or an error that says how to find the stack's connections.
pub async fn existing_connection(store: &DynamoStore, id: &ConnectionId) -> Result<Connection> {
    store.get_connection(id).await?.with_context(|| {
        format!("no connection {id} in this stack: `sellerbridge connections list` shows its connections")
    })
}

/// Applies an operator's change to a connection's options and stores it.
pub async fn change_connection(
    store: &DynamoStore,
    id: &ConnectionId,
    change: &OptionsChange,
    now: DateTime<Utc>,
) -> Result<Connection> {
    let connection = existing_connection(store, id).await?;
    let changed = connection.changed(change, now);
    store.put_connection(&changed).await?;
    // Orders stored from now on take the PII policy from the sync; those holding PII now, here. Whenever
    // the change names it, even unchanged: a run cut short is finished by running the command again.
    if !change.retention.is_empty() || change.tracking_rules.is_some() {
        let after = &changed.options;
        for held in orders_holding_pii(store, id).await? {
            store
                .update_order(held.id(), |order| {
                    order.local.retention = after.retention;
                    order.local.tracking_rules.clone_from(&after.tracking_rules);
                })
                .await?;
        }
    }
    Ok(changed)
}

/// Every order of the connection still holding buyer PII, as read, found through the redaction index
/// (every such order is in it; never a scan).
pub async fn orders_holding_pii(store: &DynamoStore, connection: &ConnectionId) -> Result<Vec<Order>> {
    // Past any due time the index can hold.
    let end_of_time = DateTime::parse_from_rfc3339("9999-12-31T00:00:00Z")?.with_timezone(&Utc);
    let mut found = Vec::new();
    let mut after = None;
    loop {
        let page = store.orders_due_for_redaction(end_of_time, after.as_ref(), 100).await?;
        for order_id in page.orders {
            if let Some(order) = store.get_order(&order_id).await?.filter(|o| o.value.connection_id == *connection) {
                found.push(order.value);
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(found),
        }
    }
}

/// What `sellerbridge redact` works on.
#[derive(Debug, Clone)]
pub enum RedactTarget {
    Order(AmazonOrderId),
    Connection(ConnectionId),
}

/// Redacts the buyer PII of an order, or of every order of a connection, now (Amazon may ask for
/// deletion within days of a request), whatever their schedule says. With `dry_run`, lists which
/// fields of which orders would change, and changes nothing.
pub async fn redact_now(
    store: &DynamoStore,
    target: &RedactTarget,
    dry_run: bool,
    now: DateTime<Utc>,
    progress: &ProgressBar,
) -> Result<serde_json::Value> {
    let targets = match target {
        RedactTarget::Order(order_id) => {
            vec![store.get_order(order_id).await?.with_context(|| format!("no order {order_id}"))?.value]
        }
        // The connection may be removed already: its orders stay, and so may their PII.
        RedactTarget::Connection(id) => orders_holding_pii(store, id).await?,
    };
    let mut orders = Vec::new();
    progress.set_length(targets.len() as u64);
    for order in targets {
        progress.inc(1);
        let fields = pii::pii_fields(&order);
        if fields.is_empty() {
            continue;
        }
        if !dry_run {
            store.update_order(order.id(), |order| pii::redact(order, now)).await?;
        }
        orders.push(json!({"order_id": order.id(), "fields": fields}));
    }
    let key = if dry_run { "would_redact" } else { "redacted" };
    Ok(json!({"dry_run": dry_run, "count": orders.len(), key: orders}))
}

/// Removes a connection: it is switched off first (no sync or send starts for it again), its refresh
/// token is deleted from Secrets Manager at once (no recovery window), its orders' buyer PII redacted
/// now with `redact_orders` (else on schedule), and its record deleted. Run again after a failure, it
/// carries on. Amazon's notification subscription, if any, is the seller's to revoke in Seller Central
/// (without the token it cannot be deleted from here): its notifications then find no connection.
pub async fn remove_connection(
    store: &DynamoStore,
    secrets: &aws_sdk_secretsmanager::Client,
    id: &ConnectionId,
    redact_orders: bool,
    now: DateTime<Utc>,
    progress: &ProgressBar,
) -> Result<serde_json::Value> {
    let connection = existing_connection(store, id).await?;
    let off = OptionsChange { enabled: Some(false), ..OptionsChange::default() };
    store.put_connection(&connection.changed(&off, now)).await?;
    let secret = &connection.refresh_token_secret_id;
    delete_secret(secrets, secret).await?;
    let redacted = if redact_orders {
        Some(redact_now(store, &RedactTarget::Connection(id.clone()), false, now, progress).await?["count"].clone())
    } else {
        None
    };
    store.delete_connection(id).await?;
    Ok(json!({"connection_id": id, "secret_deleted": secret, "orders_redacted": redacted}))
}

/// `OPERATION=RATE:BURST`, e.g. `confirmShipment=4:20`: a quota Amazon granted the seller beyond its
/// default usage plan.
pub fn parse_quota_override(raw: &str) -> Result<(String, Quota)> {
    let (operation, plan) =
        raw.split_once('=').with_context(|| format!("expected OPERATION=RATE:BURST, got '{raw}'"))?;
    let operation = Operation::ALL.into_iter().find(|op| op.name() == operation.trim()).with_context(|| {
        let known: Vec<&str> = Operation::ALL.iter().map(|op| op.name()).collect();
        format!("unknown operation '{operation}' (expected one of {})", known.join(", "))
    })?;
    let (rate, burst) = plan.split_once(':').with_context(|| format!("expected RATE:BURST, got '{plan}'"))?;
    let number = |raw: &str, what: &str| -> Result<f64> {
        raw.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v > 0.0)
            .with_context(|| format!("{what} must be a positive number, got '{raw}'"))
    };
    Ok((operation.name().to_owned(), Quota::new(number(rate, "rate")?, number(burst, "burst")?)))
}

/// `--outbound-url`: an https URL (the events carry buyer PII; plain http only to this machine), or
/// empty to stop the events.
pub fn outbound_url(raw: &str) -> Result<Option<String>> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let parsed = url::Url::parse(raw.trim()).with_context(|| format!("--outbound-url {raw:?}"))?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    anyhow::ensure!(
        parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback),
        "--outbound-url must be an https URL (the events carry buyer data), not {raw:?}"
    );
    Ok(Some(parsed.to_string()))
}

/// `STORE NAME=AMAZON CODE`, e.g. `Royal Mail Tracked=Royal Mail`.
pub fn parse_carrier_rule(raw: &str) -> Result<CarrierRule> {
    let (store_name, amazon_code) =
        raw.split_once('=').with_context(|| format!("expected STORE NAME=AMAZON CARRIER CODE, got '{raw}'"))?;
    Ok(CarrierRule { store_name: store_name.trim().to_owned(), amazon_code: amazon_code.trim().to_owned() })
}

/// Stores the app's current LWA credentials (`{"client_id", "client_secret"}`) and clears the alert
/// raised when Login with Amazon rejected the old ones.
pub async fn set_app_credentials(
    store: &DynamoStore,
    secrets: &aws_sdk_secretsmanager::Client,
    lwa_secret_id: &str,
    credentials_json: &str,
) -> Result<()> {
    let credentials: AppCredentials =
        serde_json::from_str(credentials_json).context("expected {\"client_id\": ..., \"client_secret\": ...}")?;
    anyhow::ensure!(
        !credentials.client_id.is_empty() && !credentials.client_secret.is_empty(),
        "client_id and client_secret must not be empty"
    );
    put_secret(secrets, lwa_secret_id, credentials_json).await?;
    store.clear_app_credentials_alert().await?;
    Ok(())
}

/// Puts a new random webhook signing key: Secrets Manager makes it current and keeps the replaced one
/// as `AWSPREVIOUS`, which the functions accept until the next rotation. Returns the new key.
pub async fn rotate_webhook_key(secrets: &aws_sdk_secretsmanager::Client, webhook_secret_id: &str) -> Result<String> {
    let key = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    secrets
        .put_secret_value()
        .secret_id(webhook_secret_id)
        .secret_string(&key)
        .send()
        .await
        .with_context(|| format!("putting a new value in secret {webhook_secret_id}"))?;
    Ok(key)
}

/// Where a connection's ORDER_CHANGE notifications go (and its FULFILLMENT_ORDER_STATUS ones, when
/// Amazon fulfils some of its SKUs).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OrderChangeSubscription {
    pub connection_id: ConnectionId,
    pub destination_id: String,
    pub subscription_id: String,
    /// False when the seller was subscribed already (this changed nothing).
    pub created: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fulfillment_subscription_id: Option<String>,
}

/// Points Amazon's ORDER_CHANGE notifications for a connection at the stack's notifications queue: the
/// SQS destination (one per app and region, created with a grantless token, found again if it exists)
/// and the seller's subscription (one per seller, for all its marketplaces: a second connection of the
/// same seller finds it made). A connection with Amazon-fulfilled SKUs is subscribed to
/// FULFILLMENT_ORDER_STATUS too, so its fulfillment orders move without waiting for the sync.
pub async fn subscribe_order_changes(
    adapters: &Adapters,
    spapi: &SpApiClient,
    connection_id: &ConnectionId,
    queue_arn: &str,
) -> Result<OrderChangeSubscription> {
    let connection = existing_connection(&adapters.store, connection_id).await?;
    let auth = adapters.seller_auth(&connection).await?;
    let app = SellerAuth::grantless(auth.region, Grant::NOTIFICATIONS_SCOPE);
    let registered = |destinations: Vec<Destination>| {
        destinations.into_iter().find(|d| d.resource.sqs.as_ref().is_some_and(|sqs| sqs.arn == queue_arn))
    };
    let destination = match registered(spapi.get_destinations(&app).await?) {
        Some(destination) => destination,
        None => {
            let name = format!("sellerbridge-{}", queue_arn.rsplit(':').next().unwrap_or("notifications"));
            match spapi.create_destination(&app, &name, queue_arn).await {
                Ok(destination) => destination,
                // Registered meanwhile (another connection of the same app): use that one.
                Err(SpApiError::Rejected { status: 409, .. }) => registered(spapi.get_destinations(&app).await?)
                    .context("Amazon says the destination exists but does not list it")?,
                Err(e) => return Err(e.into()),
            }
        }
    };
    let subscribe = async |notification_type: &str| -> Result<(String, bool)> {
        if let Some(existing) = spapi.get_subscription(&auth, notification_type).await? {
            anyhow::ensure!(
                existing.destination_id == destination.destination_id,
                "connection {connection_id}: the seller's {notification_type} notifications already go to destination {} \
                 (not {queue_arn}); delete that subscription first",
                existing.destination_id
            );
            return Ok((existing.subscription_id, false));
        }
        let made = spapi.create_subscription(&auth, notification_type, &destination.destination_id).await?;
        Ok((made.subscription_id, true))
    };
    let (subscription_id, created) = subscribe(ORDER_CHANGE).await?;
    let fulfillment_subscription_id = if connection.options.fulfillment.amazon_fulfilled.is_empty() {
        None
    } else {
        Some(subscribe(FULFILLMENT_ORDER_STATUS).await?.0)
    };
    Ok(OrderChangeSubscription {
        connection_id: connection_id.clone(),
        destination_id: destination.destination_id.clone(),
        subscription_id,
        created,
        fulfillment_subscription_id,
    })
}

/// "Reset the import date": the next sync reads every order updated since `from` again. Orders already
/// held are only updated where Amazon has something newer.
pub async fn reset_import_date(store: &DynamoStore, id: &ConnectionId, from: DateTime<Utc>) -> Result<Connection> {
    let mut connection = existing_connection(store, id).await?;
    connection.import_from = from;
    store.put_connection(&connection).await?;
    // Replaced whatever a running sync holds: its next save of the cursor fails and it stops.
    store.replace_cursor(id, &CursorRecord { committed_until: from, window: None }).await?;
    Ok(connection)
}

/// After the seller re-authorized the app: stores the new refresh token (`token_json`) in the
/// connection's secret and reactivates the connection; every function drops the credentials it had
/// cached. A connection still under the unscoped prefix (see [`scope_connection_secrets`]) moves under
/// the stack's as it does.
pub async fn store_new_token(
    store: &DynamoStore,
    client: &aws_sdk_secretsmanager::Client,
    secrets: &ConnectionSecrets,
    id: &ConnectionId,
    token_json: &str,
) -> Result<Connection> {
    let connection = existing_connection(store, id).await?;
    let secret_id = secrets.home_of(&connection);
    secrets.put(client, &secret_id, token_json).await?;
    rehome(store, client, connection, secret_id).await
}

/// Records `secret_id` as the connection's secret (reactivating it with new credentials), then deletes
/// the secret it replaces, if another: a failure after the record leaves only a stale secret behind.
async fn rehome(
    store: &DynamoStore,
    client: &aws_sdk_secretsmanager::Client,
    connection: Connection,
    secret_id: String,
) -> Result<Connection> {
    let previous = connection.refresh_token_secret_id.clone();
    let connection = Connection { refresh_token_secret_id: secret_id, ..connection }.with_new_credentials();
    store.put_connection(&connection).await?;
    if previous != connection.refresh_token_secret_id {
        delete_secret(client, &previous).await.with_context(|| {
            format!("connection {} uses its new secret; the old one, {previous}, is left to delete", connection.id)
        })?;
    }
    Ok(connection)
}

/// Moves the refresh tokens of connections added before secrets were scoped to their stack (under
/// `sellerbridge/connections/`, which the updated functions may no longer read) under the stack's
/// prefix, one connection at a time, the token never leaving AWS. Run once after deploying the update;
/// running it again finds nothing to move. The connections moved.
pub async fn scope_connection_secrets(
    store: &DynamoStore,
    client: &aws_sdk_secretsmanager::Client,
    secrets: &ConnectionSecrets,
    progress: &ProgressBar,
) -> Result<Vec<ConnectionId>> {
    let unscoped: Vec<Connection> = store
        .list_connections()
        .await?
        .into_iter()
        .filter(|connection| connection.refresh_token_secret_id.starts_with(ConnectionSecrets::UNSCOPED))
        .collect();
    progress.set_length(unscoped.len() as u64);
    let mut moved = Vec::new();
    for connection in unscoped {
        let old = &connection.refresh_token_secret_id;
        let token = client.get_secret_value().secret_id(old).send().await.with_context(|| format!("reading {old}"))?;
        let token = token.secret_string().with_context(|| format!("secret {old} holds no text"))?;
        let secret_id = secrets.home_of(&connection);
        secrets.put(client, &secret_id, token).await?;
        moved.push(rehome(store, client, connection, secret_id).await?.id);
        progress.inc(1);
    }
    Ok(moved)
}

/// An order as an operator needs it: status, items and packages with their states and errors, and
/// whether a sync keeps it as unreadable. No PII.
pub async fn order_summary(store: &DynamoStore, id: &AmazonOrderId) -> Result<serde_json::Value> {
    let mut unreadable = Vec::new();
    for connection in store.list_connections().await? {
        if let Some(kept) = store.get_unreadable(&connection.id, id.as_str()).await? {
            unreadable.push(json!({
                "connection_id": kept.connection_id, "reason": kept.reason, "first_seen": kept.first_seen,
                "last_attempt": kept.last_attempt, "attempts": kept.attempts, "payload_without_pii": kept.payload,
            }));
        }
    }
    let order = match store.get_order(id).await {
        Ok(Some(order)) => order.value,
        Ok(None) if unreadable.is_empty() => bail!("no order {id}"),
        Ok(None) => return Ok(json!({"order_id": id, "unreadable": unreadable})),
        // The stored record itself cannot be read: say so, with whatever the sync kept about it.
        Err(e @ StoreError::Corrupt { .. }) => {
            return Ok(json!({"order_id": id, "stored_record": e.to_string(), "unreadable": unreadable}));
        }
        Err(e) => return Err(e.into()),
    };
    let packages = store.list_packages(id).await?;
    let adjustments = store.list_adjustments(id).await?;
    let webhook_failures: Vec<_> = store
        .list_webhook_failures(&order.connection_id)
        .await?
        .into_iter()
        .filter(|failure| failure.order_id.as_ref() == Some(order.id()))
        .collect();
    Ok(json!({
        "order_id": order.id(),
        "connection_id": order.connection_id,
        "status": order.status,
        "amazon_status": order.amazon.amazon_status,
        "ship_by": order.amazon.ship_by,
        "imported_at": order.local.imported_at,
        "redaction": order.local.redaction,
        "redaction_due": sellerbridge_core::domain::pii::redaction_due(&order),
        "items": order.amazon.items.iter().map(|i| json!({"order_item_id": i.id, "sku": i.sku, "ordered": i.quantity_ordered, "shipped": i.quantity_shipped})).collect::<Vec<_>>(),
        "packages": packages.iter().map(|p| json!({
            "package_id": p.package_id, "package_reference_id": p.reference.to_string(), "carrier": p.carrier.code(),
            "tracking_number": p.tracking_number, "state": p.state, "throttle_deferrals": p.throttle_deferrals,
            "send_attempts": p.send_attempts, "shipping_method": p.shipping_method, "delivered_at": p.delivered_at,
            "warnings": p.warnings,
        })).collect::<Vec<_>>(),
        "adjustments": adjustments,
        "unreadable": unreadable,
        "webhook_failures": webhook_failures,
    }))
}

/// A connection's order feeds: how many packages, cancellations and refunds wait for the next feed of
/// their type, the feeds Amazon is processing (or we are sending), and what became of those settled in
/// the last 28 days.
pub async fn feeds_summary(store: &DynamoStore, id: &ConnectionId) -> Result<serde_json::Value> {
    existing_connection(store, id).await?;
    let mut waiting = serde_json::Map::new();
    let mut total = 0;
    for feed_type in [ORDER_FULFILLMENT_FEED, ORDER_ACKNOWLEDGEMENT_FEED, PAYMENT_ADJUSTMENT_FEED] {
        let backlog = store.feed_backlog(id, feed_type, None).await?;
        total += backlog.len();
        let oldest = backlog.iter().map(|entry| entry.since).min();
        waiting.insert(feed_type.into(), json!({"count": backlog.len(), "oldest_since": oldest}));
    }
    let open = store.open_feeds(id).await?;
    Ok(json!({
        "connection_id": id,
        "waiting_for_a_feed": total,
        "waiting": waiting,
        "open": open.iter().map(|feed| json!({
            "record_id": feed.value.id, "feed_type": feed.value.feed_type, "stage": feed.value.stage,
            "messages": feed.value.entries.len(), "created_at": feed.value.created_at,
        })).collect::<Vec<_>>(),
        "settled": store.settled_feeds(id).await?,
    }))
}

/// Which messages a redrive moves, and to which queue.
#[derive(Debug, Clone, Copy)]
pub enum Redrive<'a> {
    /// `confirmShipment` updates, back to the updates queue at this URL.
    Confirmations(&'a str),
    /// Order events for the merchant, back to the outbound queue at this URL.
    OrderEvents(&'a str),
}

/// Moves every message of the dead-letter queue back to its queue (a message of the other kind is left
/// where it is, with a line on standard error), first resetting a confirmation's package from
/// `dead_lettered` to `queued` (taking its quantities on the order again) so the sender tries it again. A package whose units were shipped by another package since is left dead-lettered, its message
/// left in the dead-letter queue, with a line on standard error. Returns how many were moved.
pub async fn redrive_dead_letters(
    store: &DynamoStore,
    sqs: &aws_sdk_sqs::Client,
    dlq_url: &str,
    target: Redrive<'_>,
    progress: &ProgressBar,
) -> Result<usize> {
    let queue_url = match target {
        Redrive::Confirmations(url) | Redrive::OrderEvents(url) => url,
    };
    let mut moved = 0;
    // Messages left in place come round again: once every message received is one of them, it is done.
    let mut left: std::collections::HashSet<String> = std::collections::HashSet::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(dlq_url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            // Long polling: a short poll may answer empty while messages remain.
            .wait_time_seconds(1)
            .send()
            .await?;
        let messages = received.messages.unwrap_or_default();
        if messages.iter().all(|m| m.message_id().is_some_and(|id| left.contains(id))) {
            for message in &messages {
                show_again(sqs, dlq_url, message).await?;
            }
            return Ok(moved);
        }
        for message in messages {
            let body = message.body().unwrap_or_default();
            let update: UpdateMessage =
                serde_json::from_str(body).context("a dead-letter message is not an update message")?;
            let belongs = matches!(
                (&update, target),
                (
                    UpdateMessage::ConfirmShipment { .. }
                        | UpdateMessage::CreateFulfillment { .. }
                        | UpdateMessage::CancelFulfillment { .. },
                    Redrive::Confirmations(_)
                ) | (
                    UpdateMessage::DeliverWebhook { .. }
                        | UpdateMessage::DeliverFulfillmentEvent { .. }
                        | UpdateMessage::DeliverInventoryEvent { .. },
                    Redrive::OrderEvents(_)
                )
            );
            if !belongs {
                if left.insert(message.message_id().unwrap_or_default().to_owned()) {
                    eprintln!("left in the dead-letter queue: a message of another queue ({})", update.subject());
                }
                show_again(sqs, dlq_url, &message).await?;
                continue;
            }
            let mut requeue = true;
            // An order event needs nothing reset: its message goes back as it is.
            if let UpdateMessage::ConfirmShipment { order_id, package_id } = &update
                && let Some(package) = store.get_package(order_id, package_id).await?
                && matches!(package.value.state, PackageState::DeadLettered { .. })
                && let Err(refused) = queue_again(store, package).await?
            {
                eprintln!("left in the dead-letter queue: package {package_id} of order {order_id}: {refused}");
                requeue = false;
            }
            if requeue {
                sqs.send_message().queue_url(queue_url).message_body(body).send().await?;
                sqs.delete_message()
                    .queue_url(dlq_url)
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .send()
                    .await?;
            }
            moved += usize::from(requeue);
            progress.inc(u64::from(requeue));
        }
    }
}

/// Puts a package back to be confirmed: queued, unclaimed, its units reserved again if its failure had
/// released them; refused (nothing changed) when another package has taken those units meanwhile.
async fn queue_again(store: &DynamoStore, mut package: Versioned<Package>) -> Result<Result<(), ShipmentRejected>> {
    let released = package.value.units_released;
    package.value.state = PackageState::Queued;
    package.value.claimed_at = None;
    package.value.units_released = false;
    let queued = package.value;
    let settled = store
        .settle_package(&queued, package.version, |order| if released { reserve_again(order, &queued) } else { Ok(()) })
        .await?;
    Ok(settled.map(drop))
}

/// Sends an order's packages again once the cause of their failure is fixed (a carrier rule, the
/// order at Amazon): each Amazon refused or that was dead-lettered (or only `package`) goes back to be
/// confirmed, with a new message on the updates queue. The packages put back, and those refused because
/// their units were shipped by another package since.
pub async fn retry_shipments(
    store: &DynamoStore,
    updates: &dyn UpdateQueue,
    order_id: &AmazonOrderId,
    only: Option<&PackageId>,
) -> Result<serde_json::Value> {
    let (mut retried, mut refused) = (Vec::new(), Vec::new());
    let packages = store.list_packages(order_id).await?;
    anyhow::ensure!(!packages.is_empty(), "order {order_id} has no packages");
    for package in packages.iter().filter(|p| only.is_none_or(|id| *id == p.package_id)) {
        if !matches!(package.state, PackageState::Failed { .. } | PackageState::DeadLettered { .. }) {
            continue;
        }
        let Some(current) = store.get_package(order_id, &package.package_id).await? else { continue };
        match queue_again(store, current).await? {
            Ok(()) => {
                let message = UpdateMessage::ConfirmShipment {
                    order_id: order_id.clone(),
                    package_id: package.package_id.clone(),
                };
                updates.send(&message, std::time::Duration::ZERO).await?;
                retried.push(package.package_id.clone());
            }
            Err(reason) => refused.push(json!({"package_id": package.package_id, "reason": reason.to_string()})),
        }
    }
    if let Some(id) = only {
        anyhow::ensure!(
            !retried.is_empty() || !refused.is_empty(),
            "package {id} of order {order_id} is not failed or dead-lettered (`sellerbridge order {order_id}` shows it)"
        );
    }
    Ok(json!({"order_id": order_id, "retried": retried, "refused": refused}))
}

/// Makes a received message visible again at once, for the redrive it belongs to.
async fn show_again(sqs: &aws_sdk_sqs::Client, queue_url: &str, message: &aws_sdk_sqs::types::Message) -> Result<()> {
    sqs.change_message_visibility()
        .queue_url(queue_url)
        .receipt_handle(message.receipt_handle().unwrap_or_default())
        .visibility_timeout(0)
        .send()
        .await?;
    Ok(())
}

/// Deletes secret `id` at once (no recovery window); one already gone is fine.
async fn delete_secret(client: &aws_sdk_secretsmanager::Client, id: &str) -> Result<()> {
    match client.delete_secret().secret_id(id).force_delete_without_recovery(true).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("deleting secret {id}"))),
    }
}

/// Creates secret `id` holding `value` unless it exists (then it keeps its value).
pub async fn create_secret_if_absent(client: &aws_sdk_secretsmanager::Client, id: &str, value: &str) -> Result<()> {
    match client.create_secret().name(id).secret_string(value).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_exists_exception()) => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("creating secret {id}"))),
    }
}

/// Stores `value` in secret `id`, creating it (with Secrets Manager's own key) if need be: for the
/// secrets the stack itself created.
pub async fn put_secret(client: &aws_sdk_secretsmanager::Client, id: &str, value: &str) -> Result<()> {
    write_secret(client, id, value, None).await
}

async fn write_secret(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
    value: &str,
    kms_key: Option<&str>,
) -> Result<()> {
    match client.create_secret().name(id).secret_string(value).set_kms_key_id(kms_key.map(str::to_owned)).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_exists_exception()) => client
            .put_secret_value()
            .secret_id(id)
            .secret_string(value)
            .send()
            .await
            .map(drop)
            .with_context(|| format!("updating secret {id}")),
        Err(e) => Err(anyhow::Error::new(e).context(format!("creating secret {id}"))),
    }
}

/// Where a stack keeps its connections' refresh tokens: under its own prefix (the template lets the
/// functions read nothing else, so two stacks in one account never see each other's connections),
/// encrypted with its data key.
#[derive(Debug, Clone)]
pub struct ConnectionSecrets {
    prefix: String,
    data_key: Option<String>,
}

impl ConnectionSecrets {
    /// Where connection secrets lived before they were scoped to their stack.
    pub const UNSCOPED: &'static str = "sellerbridge/connections/";

    pub fn new(prefix: &str) -> Result<Self> {
        if !prefix.ends_with('/') || prefix.starts_with('/') || prefix.contains(char::is_whitespace) {
            bail!(
                "'{prefix}' is not a secret name prefix (one ending in '/', such as sellerbridge/<stack>/connections/)"
            );
        }
        Ok(Self { prefix: prefix.to_owned(), data_key: None })
    }

    /// New secrets are encrypted with this key (the stack's `DataKeyArn`); without it, Secrets
    /// Manager's own.
    pub fn encrypted_with(self, data_key: Option<&str>) -> Self {
        Self { data_key: data_key.map(str::to_owned), ..self }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The secret of a new connection.
    pub fn secret_id(&self, id: &ConnectionId) -> String {
        format!("{}{id}", self.prefix)
    }

    /// Where an existing connection's token belongs: where it is, unless that is under the unscoped
    /// prefix of earlier versions.
    pub fn home_of(&self, connection: &Connection) -> String {
        match connection.refresh_token_secret_id.starts_with(Self::UNSCOPED) {
            true => self.secret_id(&connection.id),
            false => connection.refresh_token_secret_id.clone(),
        }
    }

    /// Stores a refresh token in `secret_id`, creating the secret if need be.
    pub async fn put(&self, client: &aws_sdk_secretsmanager::Client, secret_id: &str, value: &str) -> Result<()> {
        write_secret(client, secret_id, value, self.data_key.as_deref()).await
    }
}

/// Invokes the deployed sync function as the schedule would, for one connection or all, and hands back
/// its report; a failed run is an error carrying the function's own message.
pub async fn invoke_sync(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    connection: Option<&ConnectionId>,
) -> Result<serde_json::Value> {
    let payload = match connection {
        Some(id) => json!({"connection_id": id}),
        None => json!({}),
    };
    let response = match lambda
        .invoke()
        .function_name(function)
        .payload(aws_sdk_lambda::primitives::Blob::new(payload.to_string()))
        .send()
        .await
    {
        Ok(response) => response,
        // One sync at a time (reserved concurrency 1): the schedule's run holds it.
        Err(e) if e.as_service_error().is_some_and(|s| s.is_too_many_requests_exception()) => bail!(
            "{function} is running already (the schedule's sync, or another sync-now): try again in a few minutes"
        ),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("invoking {function}"))),
    };
    let body = response.payload().map(|blob| blob.as_ref()).unwrap_or_default();
    let report: serde_json::Value =
        serde_json::from_slice(body).unwrap_or_else(|_| json!(String::from_utf8_lossy(body)));
    if let Some(kind) = response.function_error() {
        let message =
            report.get("errorMessage").and_then(|m| m.as_str()).map_or_else(|| report.to_string(), str::to_owned);
        bail!(
            "the sync function {function} failed ({kind}): {message}; its log group /aws/lambda/{function} has the details"
        );
    }
    Ok(report)
}

/// The connections a sync report lists as not synced: failed, busy, or needing the operator.
pub fn unsynced_connections(report: &serde_json::Value) -> Vec<String> {
    let synced = ["up_to_date", "not_due", "paused", "not_active"];
    report["connections"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let outcome = c["outcome"]["outcome"].as_str().unwrap_or("unknown");
            let id = c["connection_id"].as_str().unwrap_or("?");
            (!synced.contains(&outcome)).then(|| format!("{id} ({outcome})"))
        })
        .collect()
}

/// The redaction dry run, to the end: the handler's dry run lists until its deadline and hands back a
/// continuation; this follows them until every due order is listed.
pub async fn redaction_dry_run(deps: &pii_redactor::RedactorDeps) -> Result<pii_redactor::RedactionReport> {
    let mut report = pii_redactor::RedactionReport::default();
    let mut continuation: Option<String> = None;
    loop {
        let stop_at = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        let part = pii_redactor::list_due(deps, continuation.as_deref(), stop_at).await?;
        report.would_redact.extend(part.would_redact);
        match part.continuation {
            Some(next) if !part.complete => continuation = Some(next),
            _ => {
                report.complete = true;
                return Ok(report);
            }
        }
    }
}

/// The SKUs checked against Amazon's FBA inventory for the connection's marketplace, as a change that
/// marks them Amazon-fulfilled with their FNSKUs. Amazon matches the seller SKU exactly, so a SKU it
/// does not list is refused (nothing is changed) with how to find the right one.
pub async fn mark_amazon_fulfilled(
    adapters: &Adapters,
    settings: &sellerbridge_core::runtime::Settings,
    connection: &Connection,
    skus: &[Sku],
) -> Result<OptionsChange> {
    let spapi = adapters.spapi_client(settings);
    let auth = adapters.seller_auth(connection).await?;
    let mut marked = Vec::new();
    // Amazon takes at most 50 SKUs per question.
    for chunk in skus.chunks(50) {
        let query = InventoryQuery { skus: chunk.to_vec(), ..InventoryQuery::default() };
        let mut found = Vec::new();
        let mut query = query;
        loop {
            let budget = WaitBudget::until(tokio::time::Instant::now() + std::time::Duration::from_secs(30));
            let page = spapi.get_inventory_summaries(&auth, &connection.marketplace_id, &query, budget).await?;
            found.extend(page.summaries);
            match page.next_token {
                Some(token) => query.next_token = Some(token),
                None => break,
            }
        }
        for sku in chunk {
            let Some(summary) = found.iter().find(|summary| summary.sku == *sku) else {
                bail!(
                    "SKU {sku} is not in Amazon's FBA inventory for marketplace {} of connection {}: a SKU Amazon \
                     fulfils must equal its seller SKU in Seller Central exactly (Inventory > Manage FBA Inventory); \
                     nothing was changed",
                    connection.marketplace_id,
                    connection.id
                );
            };
            let fulfilled = AmazonFulfilledSku { fnsku: summary.fnsku.clone(), marked_at: adapters.clock.now() };
            marked.push((sku.clone(), fulfilled));
        }
    }
    Ok(OptionsChange { mark_amazon_fulfilled: marked, ..OptionsChange::default() })
}

/// The connection's FBA inventory as last read (`sellerbridge inventory`).
pub async fn inventory_summary(
    store: &DynamoStore,
    connection: &ConnectionId,
    sku: Option<&Sku>,
) -> Result<serde_json::Value> {
    existing_connection(store, connection).await?;
    Ok(json!(store.inventory_report(connection, sku).await?))
}

/// The fulfillment order of a store order (`sellerbridge fulfillment`): what the store sees, no address.
pub async fn fulfillment_summary(
    store: &DynamoStore,
    connection: &ConnectionId,
    store_order: &StoreOrderId,
) -> Result<serde_json::Value> {
    let id = SellerFulfillmentOrderId::for_store_order(connection, store_order);
    let order = store.get_fulfillment(&id).await?.with_context(|| {
        format!("no fulfillment was requested for store order {store_order} on connection {connection}")
    })?;
    Ok(json!(order.value.view()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sync_report_names_the_connections_that_did_not_sync() {
        let report = serde_json::json!({"connections": [
            {"connection_id": "us-main", "outcome": {"outcome": "up_to_date"}},
            {"connection_id": "de-main", "outcome": {"outcome": "failed", "error": "x", "retryable": true}},
            {"connection_id": "uk-main", "outcome": {"outcome": "busy"}},
            {"connection_id": "jp-main", "outcome": {"outcome": "paused", "reason": "quota"}},
        ]});
        assert_eq!(super::unsynced_connections(&report), ["de-main (failed)", "uk-main (busy)"]);
    }

    use super::*;

    #[test]
    fn quota_overrides_name_a_known_operation_and_positive_numbers() {
        assert_eq!(
            parse_quota_override("confirmShipment=4:20").unwrap(),
            ("confirmShipment".into(), Quota::new(4.0, 20.0))
        );
        assert!(parse_quota_override("getOrders=1:1").unwrap_err().to_string().contains("getOrders"));
        assert!(parse_quota_override("getOrder=0:1").is_err());
        assert!(parse_quota_override("getOrder=1").is_err());
    }

    #[test]
    fn a_connection_in_an_unknown_marketplace_or_the_wrong_region_is_refused() {
        let add = |marketplace: &str, region: Option<Region>| {
            new_connection(
                ConnectionId::parse("de-main").unwrap(),
                SellerId::parse("A1SELLER").unwrap(),
                MarketplaceId::parse(marketplace).unwrap(),
                region,
                Utc::now(),
                ConnectionOptions::default(),
                &ConnectionSecrets::new("sellerbridge/stack/connections/").unwrap(),
            )
        };
        assert!(add("A1PA6795UKMFR9", Some(Region::Europe)).is_ok());
        assert!(add("A1PA6795UKMFR9", None).is_ok());
        let wrong = format!("{:#}", add("A1PA6795UKMFR9", Some(Region::NorthAmerica)).unwrap_err());
        assert!(wrong.contains("de-main") && wrong.contains("EU"), "{wrong}");
        let unknown = format!("{:#}", add("A0NOTAMARKET", None).unwrap_err());
        assert!(unknown.contains("de-main") && unknown.contains("A0NOTAMARKET"), "{unknown}");
    }

    #[test]
    fn order_events_go_over_tls_except_to_this_machine() {
        assert_eq!(outbound_url("https://shop.example/hooks").unwrap().as_deref(), Some("https://shop.example/hooks"));
        assert!(outbound_url("http://127.0.0.1:8080/hooks").unwrap().is_some());
        assert!(format!("{:#}", outbound_url("http://shop.example/hooks").unwrap_err()).contains("https"));
        assert!(outbound_url("ftp://shop.example/hooks").is_err());
        assert!(outbound_url("not a url").is_err());
        assert_eq!(outbound_url("").unwrap(), None, "empty stops the events");
    }

    #[test]
    fn carrier_rules_are_store_name_equals_amazon_code() {
        let rule = parse_carrier_rule("Royal Mail Tracked = Royal Mail").unwrap();
        assert_eq!((rule.store_name.as_str(), rule.amazon_code.as_str()), ("Royal Mail Tracked", "Royal Mail"));
        assert!(parse_carrier_rule("Royal Mail").is_err());
    }
}
