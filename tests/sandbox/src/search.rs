//! searchOrders: query parsing, filtering and keyset pagination.
//!
//! Results are ordered by (lastUpdatedTime, orderId). The pagination token carries the original
//! filter (with its effective upper bound frozen at the first request) plus the last key returned,
//! so an order changed between pages moves past the bound and drops out instead of shifting others.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::orders::{FulfilledBy, FulfillmentStatus, IncludedData, Order};
use crate::time::{format_iso, parse_utc, truncate_to_second};

pub const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_MARKETPLACES: usize = 50;
/// *Before values must be at least this far behind the request time.
const MIN_LAG_MINUTES: i64 = 2;

/// Which timestamp the window applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WindowKind {
    Created,
    LastUpdated,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchFilter {
    pub marketplace_ids: Vec<String>,
    pub kind: WindowKind,
    pub after: DateTime<Utc>,
    /// Upper bound of the window on the kind's timestamp (given or now − 2 min).
    pub before: DateTime<Utc>,
    /// Snapshot bound on lastUpdatedTime for `Created` windows, so pages stay stable there too.
    pub updated_not_after: DateTime<Utc>,
    pub fulfillment_statuses: Vec<FulfillmentStatus>,
    pub fulfilled_by: Vec<FulfilledBy>,
    pub included_data: BTreeSet<IncludedData>,
    pub page_size: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cursor {
    pub last_updated_time: DateTime<Utc>,
    pub order_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PageToken {
    filter: SearchFilter,
    after: Cursor,
}

/// A search ready to run: filter plus the position to continue from.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub filter: SearchFilter,
    pub cursor: Option<Cursor>,
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct Page {
    pub orders: Vec<Order>,
    pub next_token: Option<String>,
}

/// Query parameters with array values split on commas (repeated parameters are merged too).
pub struct QueryParams(HashMap<String, Vec<String>>);

impl QueryParams {
    pub fn parse(raw: Option<&str>) -> Self {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            map.entry(key.into_owned()).or_default().push(value.into_owned());
        }
        Self(map)
    }

    /// Last value of a scalar parameter.
    pub fn scalar(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.last()).map(String::as_str)
    }

    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        self.0.get(name).map(|values| {
            values.iter().flat_map(|v| v.split(',')).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
        })
    }

    fn enum_list<T: FromStr>(&self, name: &str) -> Result<Option<Vec<T>>, ApiError> {
        self.list(name)
            .map(|values| {
                values
                    .iter()
                    .map(|v| v.parse().map_err(|_| ApiError::invalid_input(format!("Invalid value '{v}' for {name}"))))
                    .collect()
            })
            .transpose()
    }

    fn timestamp(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.scalar(name)
            .map(|raw| {
                parse_utc(raw).ok_or_else(|| {
                    ApiError::invalid_input(format!(
                        "Invalid {name}: '{raw}' is not an ISO 8601 date-time in UTC (e.g. 2026-01-01T00:00:00Z)"
                    ))
                })
            })
            .transpose()
    }
}

/// `includedData` (shared with getOrder).
pub fn parse_included_data(params: &QueryParams) -> Result<Option<BTreeSet<IncludedData>>, ApiError> {
    Ok(params.enum_list::<IncludedData>("includedData")?.map(|v| v.into_iter().collect()))
}

fn parse_page_size(params: &QueryParams) -> Result<Option<usize>, ApiError> {
    params
        .scalar("maxResultsPerPage")
        .map(|raw| match raw.trim().parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid_input("maxResultsPerPage must be an integer between 1 and 100")),
        })
        .transpose()
}

impl SearchRequest {
    /// Builds the request from query parameters; `now` is the sandbox time of the call.
    pub fn from_query(params: &QueryParams, now: DateTime<Utc>) -> Result<Self, ApiError> {
        let page_size = parse_page_size(params)?;
        let included = parse_included_data(params)?;
        if let Some(token) = params.scalar("paginationToken").filter(|t| !t.is_empty()) {
            let mut decoded = decode_token(token)?;
            // These don't change the result set, so a caller may adjust them between pages.
            if let Some(size) = page_size {
                decoded.filter.page_size = size;
            }
            if let Some(included) = included {
                decoded.filter.included_data = included;
            }
            return Ok(Self { filter: decoded.filter, cursor: Some(decoded.after) });
        }
        let mut filter = parse_filter(params, now)?;
        filter.page_size = page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        filter.included_data = included.unwrap_or_default();
        Ok(Self { filter, cursor: None })
    }
}

fn parse_filter(params: &QueryParams, now: DateTime<Utc>) -> Result<SearchFilter, ApiError> {
    let marketplace_ids = params
        .list("marketplaceIds")
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| ApiError::invalid_input("Missing required parameter: marketplaceIds"))?;
    if marketplace_ids.len() > MAX_MARKETPLACES {
        return Err(ApiError::invalid_input("marketplaceIds accepts at most 50 values"));
    }
    let created = (params.timestamp("createdAfter")?, params.timestamp("createdBefore")?);
    let updated = (params.timestamp("lastUpdatedAfter")?, params.timestamp("lastUpdatedBefore")?);
    let (kind, after, before, after_name, before_name) = match (created, updated) {
        ((Some(after), before), (None, None)) => (WindowKind::Created, after, before, "createdAfter", "createdBefore"),
        ((None, None), (Some(after), before)) => {
            (WindowKind::LastUpdated, after, before, "lastUpdatedAfter", "lastUpdatedBefore")
        }
        ((None, _), (None, _)) => {
            return Err(ApiError::invalid_input("Exactly one of createdAfter and lastUpdatedAfter must be provided"));
        }
        _ => {
            return Err(ApiError::invalid_input(
                "createdAfter/createdBefore cannot be combined with lastUpdatedAfter/lastUpdatedBefore",
            ));
        }
    };
    let latest_allowed = now - Duration::minutes(MIN_LAG_MINUTES);
    if after > now {
        return Err(ApiError::invalid_input(format!("{after_name} must not be in the future")));
    }
    if let Some(before) = before {
        if before > latest_allowed {
            return Err(ApiError::invalid_input(format!(
                "{before_name} must be at least 2 minutes before the time of the request"
            )));
        }
        if before < after {
            return Err(ApiError::invalid_input(format!("{before_name} must be equal to or after {after_name}")));
        }
    }
    let before = before.unwrap_or_else(|| truncate_to_second(latest_allowed));
    Ok(SearchFilter {
        marketplace_ids,
        kind,
        after,
        before,
        updated_not_after: match kind {
            WindowKind::LastUpdated => before,
            WindowKind::Created => truncate_to_second(now),
        },
        fulfillment_statuses: params.enum_list("fulfillmentStatuses")?.unwrap_or_default(),
        fulfilled_by: params.enum_list("fulfilledBy")?.unwrap_or_default(),
        included_data: BTreeSet::new(),
        page_size: DEFAULT_PAGE_SIZE,
    })
}

fn decode_token(token: &str) -> Result<PageToken, ApiError> {
    let invalid = || ApiError::invalid_input("Invalid paginationToken");
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| invalid())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid())
}

fn encode_token(token: &PageToken) -> String {
    // Serializing plain data structures cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(token).unwrap_or_default())
}

impl SearchFilter {
    pub fn matches(&self, order: &Order) -> bool {
        let window_time = match self.kind {
            WindowKind::Created => order.created_time,
            WindowKind::LastUpdated => order.last_updated_time,
        };
        let status_ok = self.fulfillment_statuses.is_empty()
            || order.status().is_some_and(|s| self.fulfillment_statuses.contains(&s));
        let channel_ok =
            self.fulfilled_by.is_empty() || order.fulfilled_by().is_some_and(|f| self.fulfilled_by.contains(&f));
        self.marketplace_ids.iter().any(|m| m == order.marketplace_id())
            && window_time >= self.after
            && window_time <= self.before
            && order.last_updated_time <= self.updated_not_after
            && status_ok
            && channel_ok
    }

    /// `lastUpdatedBefore` / `createdBefore` echoed in the response.
    pub fn echoed_bounds(&self) -> (Option<String>, Option<String>) {
        match self.kind {
            WindowKind::LastUpdated => (Some(format_iso(self.before)), None),
            WindowKind::Created => (None, Some(format_iso(self.before))),
        }
    }
}

fn key(order: &Order) -> Cursor {
    Cursor { last_updated_time: order.last_updated_time, order_id: order.order_id.clone() }
}

/// Runs one page of a search over `orders`.
pub fn run(request: &SearchRequest, orders: &[Order]) -> Page {
    let filter = &request.filter;
    let mut matching: Vec<&Order> = orders
        .iter()
        .filter(|o| filter.matches(o))
        .filter(|o| request.cursor.as_ref().is_none_or(|c| key(o) > *c))
        .collect();
    matching.sort_by_key(|o| key(o));
    let has_more = matching.len() > filter.page_size;
    matching.truncate(filter.page_size);
    let next_token = match (has_more, matching.last()) {
        (true, Some(last)) => Some(encode_token(&PageToken { filter: filter.clone(), after: key(last) })),
        _ => None,
    };
    Page { orders: matching.into_iter().map(|o| o.project(&filter.included_data)).collect(), next_token }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        parse_utc("2026-03-10T12:00:00Z").unwrap()
    }

    fn request(q: &str) -> Result<SearchRequest, ApiError> {
        SearchRequest::from_query(&QueryParams::parse(Some(q)), now())
    }

    #[test]
    fn validates_windows() {
        assert!(request("marketplaceIds=X&lastUpdatedAfter=2026-03-01T00:00:00Z").is_ok());
        let err =
            request("marketplaceIds=X&lastUpdatedAfter=2026-03-01T00:00:00Z&lastUpdatedBefore=2026-03-10T11:59:00Z")
                .unwrap_err();
        assert!(err.message.contains("lastUpdatedBefore"), "{}", err.message);
        assert!(
            request("marketplaceIds=X&lastUpdatedAfter=2026-03-01T00:00:00Z&lastUpdatedBefore=2026-03-10T11:58:00Z")
                .is_ok()
        );
        let err = request("marketplaceIds=X&createdAfter=2026-03-01T00:00:00%2B09:00").unwrap_err();
        assert!(err.message.contains("createdAfter"));
        assert!(request("lastUpdatedAfter=2026-03-01T00:00:00Z").is_err());
        assert!(request("marketplaceIds=X").is_err());
        assert!(
            request("marketplaceIds=X&createdAfter=2026-03-01T00:00:00Z&lastUpdatedAfter=2026-03-01T00:00:00Z")
                .is_err()
        );
        assert!(
            request("marketplaceIds=X&createdAfter=2026-03-05T00:00:00Z&createdBefore=2026-03-04T00:00:00Z").is_err()
        );
        assert!(request("marketplaceIds=X&createdAfter=2026-03-01T00:00:00Z&maxResultsPerPage=101").is_err());
        assert!(
            request("marketplaceIds=X&createdAfter=2026-03-01T00:00:00Z&fulfillmentStatuses=SHIPPED,NOPE").is_err()
        );
        assert!(request("paginationToken=garbage!!").is_err());
    }

    #[test]
    fn default_upper_bound_is_two_minutes_ago() {
        let r = request("marketplaceIds=X&lastUpdatedAfter=2026-03-01T00:00:00Z").unwrap();
        assert_eq!(format_iso(r.filter.before), "2026-03-10T11:58:00Z");
        assert_eq!(r.filter.echoed_bounds().0.as_deref(), Some("2026-03-10T11:58:00Z"));
    }
}
