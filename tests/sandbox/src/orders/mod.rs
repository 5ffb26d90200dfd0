//! Orders: the v2026-01-01 data model, `includedData` projection and seeded generation.

mod generate;
mod model;

pub use generate::{GeneratedOrders, generate_orders};
pub use model::*;
