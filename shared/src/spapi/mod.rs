//! The typed SP-API client. Every call goes through [`SpApiClient`], which spends quota from one
//! [`RateLimiter`] before it sends anything.
mod client;
mod error;
pub mod limiter;
mod lwa;
pub mod models;
pub mod notification;
mod operation;
pub mod wire_pii;

pub use client::{
    Endpoints, FulfillmentOrderPage, InventoryPage, InventoryQuery, InventorySummary, SearchOrdersQuery, SearchPage,
    SellerAuth, SpApiClient, UnreadableOrder, WaitBudget,
};
pub use error::{Refusal, SpApiError};
pub use limiter::{Acquired, RateKey, RateLimiter, Reservation};
pub use lwa::{AppCredentials, AppCredentialsSource, Grant, LwaClient, RefreshToken};
pub use operation::Operation;
