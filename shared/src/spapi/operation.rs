//! The SP-API operations sellerbridge calls, with Amazon's default usage plans.
use std::fmt;

use crate::domain::rate::Quota;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    SearchOrders,
    GetOrder,
    ConfirmShipment,
    CreateDestination,
    GetDestinations,
    CreateSubscription,
    GetSubscription,
    CreateFeedDocument,
    CreateFeed,
    GetFeed,
    GetFeeds,
    GetFeedDocument,
    GetFulfillmentPreview,
    CreateFulfillmentOrder,
    GetFulfillmentOrder,
    ListAllFulfillmentOrders,
    CancelFulfillmentOrder,
    GetInventorySummaries,
}

impl Operation {
    pub const ALL: [Operation; 18] = [
        Self::SearchOrders,
        Self::GetOrder,
        Self::ConfirmShipment,
        Self::CreateDestination,
        Self::GetDestinations,
        Self::CreateSubscription,
        Self::GetSubscription,
        Self::CreateFeedDocument,
        Self::CreateFeed,
        Self::GetFeed,
        Self::GetFeeds,
        Self::GetFeedDocument,
        Self::GetFulfillmentPreview,
        Self::CreateFulfillmentOrder,
        Self::GetFulfillmentOrder,
        Self::ListAllFulfillmentOrders,
        Self::CancelFulfillmentOrder,
        Self::GetInventorySummaries,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::SearchOrders => "searchOrders",
            Self::GetOrder => "getOrder",
            Self::ConfirmShipment => "confirmShipment",
            Self::CreateDestination => "createDestination",
            Self::GetDestinations => "getDestinations",
            Self::CreateSubscription => "createSubscription",
            Self::GetSubscription => "getSubscription",
            Self::CreateFeedDocument => "createFeedDocument",
            Self::CreateFeed => "createFeed",
            Self::GetFeed => "getFeed",
            Self::GetFeeds => "getFeeds",
            Self::GetFeedDocument => "getFeedDocument",
            Self::GetFulfillmentPreview => "getFulfillmentPreview",
            Self::CreateFulfillmentOrder => "createFulfillmentOrder",
            Self::GetFulfillmentOrder => "getFulfillmentOrder",
            Self::ListAllFulfillmentOrders => "listAllFulfillmentOrders",
            Self::CancelFulfillmentOrder => "cancelFulfillmentOrder",
            Self::GetInventorySummaries => "getInventorySummaries",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.name() == name)
    }

    /// Amazon's default rate and burst. `x-amzn-RateLimit-Limit` is often missing (even on 429), so this
    /// table is what the limiter relies on; sellers with larger plans set overrides on the connection.
    pub fn default_quota(self) -> Quota {
        match self {
            Self::SearchOrders => Quota::new(0.0056, 20.0),
            Self::GetOrder => Quota::new(0.5, 30.0),
            Self::ConfirmShipment => Quota::new(2.0, 10.0),
            Self::CreateDestination | Self::GetDestinations | Self::CreateSubscription | Self::GetSubscription => {
                Quota::new(1.0, 5.0)
            }
            Self::CreateFeedDocument => Quota::new(0.5, 15.0),
            Self::CreateFeed => Quota::new(0.0083, 15.0),
            Self::GetFeed => Quota::new(2.0, 15.0),
            Self::GetFeeds | Self::GetFeedDocument => Quota::new(0.0222, 10.0),
            Self::GetFulfillmentPreview
            | Self::CreateFulfillmentOrder
            | Self::GetFulfillmentOrder
            | Self::ListAllFulfillmentOrders
            | Self::CancelFulfillmentOrder => Quota::new(2.0, 30.0),
            Self::GetInventorySummaries => Quota::new(2.0, 2.0),
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
