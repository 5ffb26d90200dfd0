//! Pure domain logic: no AWS, HTTP or storage types in here.
pub mod adjustment;
pub mod breaker;
pub mod carrier;
pub mod clock;
pub mod connection;
pub mod feed;
pub mod fulfillment;
pub mod ids;
pub mod marketplace;
pub mod order;
pub mod pii;
pub mod rate;
pub mod shipment;
pub mod slicing;
pub mod status;
#[cfg(test)]
pub(crate) mod test_support;
pub mod tracking;
pub mod view;
