//! Running sellerbridge on a local stack: DynamoDB Local, moto and the SP-API sandbox.
pub mod provision;
