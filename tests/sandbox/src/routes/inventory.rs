//! FBA Inventory API v1: getInventorySummaries, in the model's shape (`payload` with the granularity and the
//! summaries, `pagination.nextToken` only when more follow).

use axum::Extension;
use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Serialize;

use super::{AppState, HostRegion};
use crate::config::SandboxConfig;
use crate::error::ApiError;
use crate::fulfillment::FulfillmentStore;
use crate::fulfillment::inventory::{InventorySummary, SummariesQuery};
use crate::sites::Site;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetInventorySummariesResponse {
    payload: SummariesPayload,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination: Option<Pagination>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SummariesPayload {
    granularity: Granularity,
    inventory_summaries: Vec<InventorySummary>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Granularity {
    granularity_type: &'static str,
    granularity_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Pagination {
    next_token: String,
}

/// A marketplace parameter must name one of the seller's marketplaces that this host serves.
fn served(config: &SandboxConfig, region: &str, name: &str, id: &str) -> Result<(), ApiError> {
    match Site::find(id) {
        Some(site) if site.region != region => Err(ApiError::invalid_input(format!(
            "Invalid {name}: {} ({}) is not served by this endpoint; call the {} endpoint",
            site.marketplace_id, site.name, site.region
        ))),
        _ if !config.marketplace_ids.iter().any(|m| m == id) => {
            Err(ApiError::invalid_input(format!("Invalid {name}: {id} is not a marketplace of the selling partner")))
        }
        _ => Ok(()),
    }
}

pub(crate) async fn get_inventory_summaries(
    State(state): State<AppState>,
    Extension(HostRegion(region)): Extension<HostRegion>,
    RawQuery(query): RawQuery,
) -> Result<Json<GetInventorySummariesResponse>, ApiError> {
    let config = state.config();
    let mut inner = state.lock();
    let now = inner.now();
    let query = SummariesQuery::parse(query.as_deref(), now)?;
    served(config, region, "granularityId", &query.granularity_id)?;
    served(config, region, "marketplaceIds", &query.marketplace_id)?;
    let FulfillmentStore { inventory, inventory_tokens, .. } = &mut inner.fulfillment;
    let (inventory_summaries, next_token) =
        inventory.summaries(&query, inventory_tokens, now, config.inventory_token_lifetime)?;
    Ok(Json(GetInventorySummariesResponse {
        payload: SummariesPayload {
            granularity: Granularity { granularity_type: "Marketplace", granularity_id: query.granularity_id },
            inventory_summaries,
        },
        pagination: next_token.map(|next_token| Pagination { next_token }),
    }))
}
