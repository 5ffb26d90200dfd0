//! Inbound webhooks from the merchant's store: signatures and event payloads.
pub mod events;
pub mod signature;
