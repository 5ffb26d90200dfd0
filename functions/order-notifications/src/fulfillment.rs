//! FULFILLMENT_ORDER_STATUS: a fulfillment order's status or shipment changed at Amazon. Ours is read
//! with one `getFulfillmentOrder` (however many notifications named it in the batch), stored with the
//! same older-report-loses rule as the sync's poll, and the store told with `fulfillment.updated`.
//! Orders that are not ours (created in Seller Central, another app's) are acknowledged and left alone.
use order_sync::{flag_reauthorization, raise_app_credentials_alert};
use sellerbridge_core::domain::connection::Connection;
use sellerbridge_core::domain::ids::SellerFulfillmentOrderId;
use sellerbridge_core::metrics::{self, Metric};
use sellerbridge_core::queue::record_amazon_report;
use sellerbridge_core::spapi::notification::FulfillmentStatusChange;
use sellerbridge_core::spapi::{SpApiError, WaitBudget};
use tokio::time::Instant;
use tracing::{info, warn};

use super::{Fate, NotificationDeps};

pub(crate) async fn refresh(
    deps: &NotificationDeps,
    connections: &[Connection],
    change: &FulfillmentStatusChange,
    stop_at: Instant,
) -> Fate {
    let store = &deps.adapters.store;
    let Ok(id) = SellerFulfillmentOrderId::parse(change.fulfillment_id.as_str()) else {
        info!("a fulfillment order id we never make: not ours");
        return Fate::Done;
    };
    let held = match store.get_fulfillment(&id).await {
        Ok(Some(held)) => held.value,
        Ok(None) => {
            info!("a fulfillment order we did not create; left alone");
            return Fate::Done;
        }
        Err(e) if e.is_retryable() => return Fate::Retry,
        Err(e) => return Fate::DeadLetter(format!("fulfillment order {id}: {e}")),
    };
    let Some(connection) = connections.iter().find(|c| c.id == held.connection_id && c.seller_id == change.seller_id)
    else {
        return Fate::DeadLetter(format!(
            "fulfillment order {id} belongs to connection {}, not to seller {} (notification {})",
            held.connection_id, change.seller_id, change.notification_id
        ));
    };
    if !connection.is_active() {
        info!(connection_id = %connection.id, "connection not active; its next sync reads the order");
        return Fate::Done;
    }
    let adapters = &deps.adapters;
    let auth = match adapters.seller_auth(connection).await {
        Ok(auth) => auth,
        Err(e) => return Fate::DeadLetter(format!("connection {}: {e}", connection.id)),
    };
    let report = match deps.spapi.get_fulfillment_order(&auth, &id, WaitBudget::until(stop_at)).await {
        Ok(Some(report)) => report,
        Ok(None) => {
            warn!("Amazon does not know the fulfillment order it notified about");
            return Fate::Done;
        }
        Err(SpApiError::NeedsReauthorization(detail)) => {
            flag_reauthorization(adapters, connection, detail).await;
            return Fate::Done;
        }
        Err(SpApiError::InvalidClient(detail)) => {
            raise_app_credentials_alert(adapters, connection, &detail).await;
            return Fate::Retry;
        }
        Err(e) if e.is_retryable() => return Fate::Retry,
        Err(e) => return Fate::DeadLetter(format!("fulfillment order {id}: {e}")),
    };
    let now = adapters.clock.now();
    match record_amazon_report(&adapters.outbound, store, connection, &id, &report, now).await {
        Ok(changed) => {
            metrics::count(Metric::FulfillmentOrdersChanged, u64::from(changed));
            Fate::Done
        }
        Err(e) if e.is_retryable() => Fate::Retry,
        Err(e) => Fate::DeadLetter(format!("fulfillment order {id}: {e}")),
    }
}
