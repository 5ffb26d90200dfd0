//! Amazon's order states, ours, and which Amazon orders we import at all.
use serde::{Deserialize, Serialize};

/// Who fulfils the order: the merchant (MFN) or Amazon (AFN/FBA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FulfilledBy {
    Merchant,
    Amazon,
}

/// Amazon's fulfilment status (Orders API v2026-01-01 `FulfillmentStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AmazonStatus {
    PendingAvailability,
    Pending,
    Unshipped,
    PartiallyShipped,
    Shipped,
    Cancelled,
    Unfulfillable,
}

/// The order's status as the merchant's store sees it. Amazon has no on-hold or awaiting-payment state
/// that we pass on: pending orders are simply not imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    AwaitingShipment,
    Shipped,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingShipment => "awaiting_shipment",
            Self::Shipped => "shipped",
            Self::Cancelled => "cancelled",
        }
    }
}

/// What the sync does with an order Amazon reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportDecision {
    /// Store it (new or newer) with this status.
    Import(OrderStatus),
    /// Store it only if we already hold it (e.g. it was shipped or cancelled at Amazon since we imported it).
    UpdateIfKnown(OrderStatus),
    /// Not ours to hold: pending (no address or price yet), or FBA without the connection opting in.
    Skip,
}

impl ImportDecision {
    /// The status an order gets when the decision stores it.
    pub fn status(self) -> Option<OrderStatus> {
        match self {
            Self::Import(status) | Self::UpdateIfKnown(status) => Some(status),
            Self::Skip => None,
        }
    }
}

pub fn import_decision(
    fulfilled_by: FulfilledBy,
    status: AmazonStatus,
    import_amazon_fulfilled: bool,
) -> ImportDecision {
    use AmazonStatus as A;
    match (fulfilled_by, status) {
        (FulfilledBy::Merchant, A::Unshipped | A::PartiallyShipped) => {
            ImportDecision::Import(OrderStatus::AwaitingShipment)
        }
        (FulfilledBy::Merchant, A::Shipped) => ImportDecision::UpdateIfKnown(OrderStatus::Shipped),
        (FulfilledBy::Merchant, A::Cancelled | A::Unfulfillable) => {
            ImportDecision::UpdateIfKnown(OrderStatus::Cancelled)
        }
        // FBA orders are kept for record keeping only, and only once Amazon has shipped them.
        (FulfilledBy::Amazon, A::Shipped) if import_amazon_fulfilled => ImportDecision::Import(OrderStatus::Shipped),
        (FulfilledBy::Amazon, A::Cancelled) if import_amazon_fulfilled => {
            ImportDecision::UpdateIfKnown(OrderStatus::Cancelled)
        }
        _ => ImportDecision::Skip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AmazonStatus as A;
    use ImportDecision as D;
    use OrderStatus as S;

    #[test]
    fn merchant_orders_awaiting_shipment_are_imported() {
        assert_eq!(import_decision(FulfilledBy::Merchant, A::Unshipped, false), D::Import(S::AwaitingShipment));
        assert_eq!(import_decision(FulfilledBy::Merchant, A::PartiallyShipped, false), D::Import(S::AwaitingShipment));
    }

    #[test]
    fn pending_orders_are_never_imported() {
        for by in [FulfilledBy::Merchant, FulfilledBy::Amazon] {
            for opt_in in [false, true] {
                assert_eq!(import_decision(by, A::Pending, opt_in), D::Skip);
                assert_eq!(import_decision(by, A::PendingAvailability, opt_in), D::Skip);
            }
        }
    }

    #[test]
    fn shipped_and_cancelled_only_update_orders_we_hold() {
        assert_eq!(import_decision(FulfilledBy::Merchant, A::Shipped, false), D::UpdateIfKnown(S::Shipped));
        assert_eq!(import_decision(FulfilledBy::Merchant, A::Cancelled, false), D::UpdateIfKnown(S::Cancelled));
    }

    #[test]
    fn amazon_fulfilled_orders_need_the_opt_in_and_arrive_as_shipped() {
        assert_eq!(import_decision(FulfilledBy::Amazon, A::Shipped, false), D::Skip);
        assert_eq!(import_decision(FulfilledBy::Amazon, A::Shipped, true), D::Import(S::Shipped));
        assert_eq!(import_decision(FulfilledBy::Amazon, A::Unshipped, true), D::Skip);
    }

    #[test]
    fn statuses_use_the_store_vocabulary() {
        assert_eq!(S::AwaitingShipment.as_str(), "awaiting_shipment");
        assert_eq!(serde_json::to_string(&S::Cancelled).unwrap(), "\"cancelled\"");
        assert_eq!(serde_json::from_str::<A>("\"PARTIALLY_SHIPPED\"").unwrap(), A::PartiallyShipped);
    }
}
