//! The `sellerbridge` operator tool and the local runner.
pub mod args;
pub mod local;
pub mod ops;
pub mod target;
