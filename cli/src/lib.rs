//! The `sellerbridge` operator tool and the local runner.
pub mod local;
pub mod ops;
