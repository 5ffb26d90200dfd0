//! Operator tasks, shared by the `sellerbridge` command and the tests. They work on whatever stack the
//! AWS configuration points at: a deployed one, or the local one through `AWS_ENDPOINT_URL_*`.
use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use sellerbridge_core::domain::connection::Connection;
use sellerbridge_core::domain::ids::{AmazonOrderId, ConnectionId};
use sellerbridge_core::domain::shipment::{PackageState, reserve_again};
use sellerbridge_core::queue::UpdateMessage;
use sellerbridge_core::store::{CursorRecord, DynamoStore, StoreError};
use serde_json::json;

/// "Reset the import date": the next sync reads every order updated since `from` again. Orders already
/// held are only updated where Amazon has something newer.
pub async fn reset_import_date(store: &DynamoStore, id: &ConnectionId, from: DateTime<Utc>) -> Result<Connection> {
    let mut connection = store.get_connection(id).await?.with_context(|| format!("no connection {id}"))?;
    connection.import_from = from;
    store.put_connection(&connection).await?;
    // Replaced whatever a running sync holds: its next save of the cursor fails and it stops.
    store.replace_cursor(id, &CursorRecord { committed_until: from, window: None }).await?;
    Ok(connection)
}

/// After the seller re-authorized the app and the new refresh token is in the connection's secret:
/// active again, and every function drops the credentials it had cached.
pub async fn reactivate_with_new_credentials(store: &DynamoStore, id: &ConnectionId) -> Result<Connection> {
    let connection =
        store.get_connection(id).await?.with_context(|| format!("no connection {id}"))?.with_new_credentials();
    store.put_connection(&connection).await?;
    Ok(connection)
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
            "send_attempts": p.send_attempts,
        })).collect::<Vec<_>>(),
        "unreadable": unreadable,
    }))
}

/// Moves every message of the dead-letter queue back to the updates queue, first resetting its package
/// from `dead_lettered` to `queued` (taking its quantities on the order again) so the sender tries it
/// again. A package whose units were shipped by another package since is left dead-lettered, its message
/// left in the dead-letter queue, with a line on standard error. Returns how many were moved.
pub async fn redrive_dead_letters(
    store: &DynamoStore,
    sqs: &aws_sdk_sqs::Client,
    dlq_url: &str,
    queue_url: &str,
) -> Result<usize> {
    let mut moved = 0;
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
        if messages.is_empty() {
            return Ok(moved);
        }
        for message in messages {
            let body = message.body().unwrap_or_default();
            let update: UpdateMessage =
                serde_json::from_str(body).context("a dead-letter message is not an update message")?;
            let UpdateMessage::ConfirmShipment { order_id, package_id } = &update;
            let mut requeue = true;
            if let Some(mut package) = store.get_package(order_id, package_id).await?
                && matches!(package.value.state, PackageState::DeadLettered { .. })
            {
                let released = package.value.units_released;
                package.value.state = PackageState::Queued;
                package.value.claimed_at = None;
                package.value.units_released = false;
                let queued = package.value.clone();
                let taken = store
                    .settle_package(&queued, package.version, |order| {
                        if released { reserve_again(order, &queued) } else { Ok(()) }
                    })
                    .await?;
                if let Err(refused) = taken {
                    eprintln!("left in the dead-letter queue: package {package_id} of order {order_id}: {refused}");
                    requeue = false;
                }
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
        }
    }
}

/// Creates the secret, or stores a new value in it if it exists.
pub async fn put_secret(client: &aws_sdk_secretsmanager::Client, id: &str, value: &str) -> Result<()> {
    match client.create_secret().name(id).secret_string(value).send().await {
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

/// The secret id under which a connection's refresh token lives (the template grants the functions
/// read access to this prefix).
pub fn refresh_token_secret_id(id: &ConnectionId) -> String {
    format!("sellerbridge/connections/{id}")
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
