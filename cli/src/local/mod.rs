//! Running sellerbridge on a local stack: DynamoDB Local, moto and the SP-API sandbox.
pub mod demo;
pub mod provision;
pub mod runner;
pub mod serve;
pub mod stack;
