//! Inbound webhooks from the merchant's store: signatures and event payloads.
pub mod events;
pub mod fulfillment_events;
pub mod keyring;
pub mod shopify;
pub mod signature;
