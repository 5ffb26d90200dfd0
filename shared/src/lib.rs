//! sellerbridge's domain crate: the pure rules in [`domain`], and beside them the adapters that reach
//! DynamoDB ([`store`]), SQS ([`queue`]), Secrets Manager ([`secrets`]) and Amazon ([`spapi`]).
pub mod domain;
#[cfg(feature = "http")]
pub mod http;
pub mod metrics;
pub mod queue;
pub mod runtime;
pub mod secrets;
pub mod spapi;
pub mod store;
pub mod telemetry;
pub mod webhook;
