//! searchOrders: query parsing, filtering and pagination.
//!
//! Results are ordered by (lastUpdatedTime, orderId). A pagination token stands for the original
//! filter (with its effective upper bound frozen at the first request) plus where the next page starts.
//! Amazon does not document how it pages, so the sandbox does it either way ([`Paging`]): by keyset
//! (an order changed between pages moves past the bound and drops out without shifting others) or by
//! offset over the live result set (an order leaving the window shifts every later one forward, and
//! the one that lands on the page boundary is never served).

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

use crate::error::ApiError;
use crate::orders::{FulfilledBy, FulfillmentStatus, IncludedData, Order};
use crate::time::{format_iso, parse_utc, truncate_to_second};
use crate::tokens::TokenStore;

pub const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_MARKETPLACES: usize = 50;
/// *Before values must be at least this far behind the request time.
const MIN_LAG_MINUTES: i64 = 2;

/// Which timestamp the window applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    Created,
    LastUpdated,
}

#[derive(Debug, Clone, PartialEq)]
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

/// How pagination tokens continue a search.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Paging {
    /// After the last key served: stable while the result set changes.
    #[default]
    Keyset,
    /// After as many results as were served: skips results when earlier ones leave the set.
    Offset,
}

impl FromStr for Paging {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "keyset" => Ok(Self::Keyset),
            "offset" => Ok(Self::Offset),
            other => Err(format!("unknown paging '{other}' (expected keyset or offset)")),
        }
    }
}

/// Where the next page of a search starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Position {
    After(Cursor),
    Offset(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub last_updated_time: DateTime<Utc>,
    pub order_id: String,
}

/// The filter parameters as a request gave them. Amazon accepts a paginationToken only with the same
/// ones as the request that produced it; `maxResultsPerPage` and `includedData` may change between pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenFilter {
    marketplace_ids: BTreeSet<String>,
    created_after: Option<DateTime<Utc>>,
    created_before: Option<DateTime<Utc>>,
    last_updated_after: Option<DateTime<Utc>>,
    last_updated_before: Option<DateTime<Utc>>,
    fulfillment_statuses: BTreeSet<FulfillmentStatus>,
    fulfilled_by: BTreeSet<FulfilledBy>,
}

/// What a pagination token stands for. The sandbox keeps it; the client only sees an opaque string.
#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    given: GivenFilter,
    filter: SearchFilter,
    position: Position,
}

/// A search ready to run: filter plus the position to continue from.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub filter: SearchFilter,
    pub position: Option<Position>,
    given: GivenFilter,
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct Page {
    pub orders: Vec<Order>,
    /// Where the next page starts, if there is one.
    pub next: Option<Resume>,
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
    pub fn from_query(
        params: &QueryParams,
        now: DateTime<Utc>,
        tokens: &mut TokenStore<Resume>,
    ) -> Result<Self, ApiError> {
        let page_size = parse_page_size(params)?;
        let included = parse_included_data(params)?;
        let given = GivenFilter::parse(params)?;
        if let Some(token) = params.scalar("paginationToken").filter(|t| !t.is_empty()) {
            let resume = tokens.redeem(token, now).map_err(|_| ApiError::invalid_pagination_token())?;
            if resume.given != given {
                return Err(ApiError::invalid_pagination_token());
            }
            let mut filter = resume.filter;
            if let Some(size) = page_size {
                filter.page_size = size;
            }
            if let Some(included) = included {
                filter.included_data = included;
            }
            return Ok(Self { filter, position: Some(resume.position), given });
        }
        let mut filter = given.window(now)?;
        filter.page_size = page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        filter.included_data = included.unwrap_or_default();
        Ok(Self { filter, position: None, given })
    }

    fn resume_at(&self, position: Position) -> Resume {
        Resume { given: self.given.clone(), filter: self.filter.clone(), position }
    }
}

impl GivenFilter {
    fn parse(params: &QueryParams) -> Result<Self, ApiError> {
        Ok(Self {
            marketplace_ids: params.list("marketplaceIds").unwrap_or_default().into_iter().collect(),
            created_after: params.timestamp("createdAfter")?,
            created_before: params.timestamp("createdBefore")?,
            last_updated_after: params.timestamp("lastUpdatedAfter")?,
            last_updated_before: params.timestamp("lastUpdatedBefore")?,
            fulfillment_statuses: params.enum_list("fulfillmentStatuses")?.unwrap_or_default().into_iter().collect(),
            fulfilled_by: params.enum_list("fulfilledBy")?.unwrap_or_default().into_iter().collect(),
        })
    }

    /// Applies Amazon's rules on the window and bounds to a first-page request.
    fn window(&self, now: DateTime<Utc>) -> Result<SearchFilter, ApiError> {
        if self.marketplace_ids.is_empty() {
            return Err(ApiError::invalid_input("Missing required parameter: marketplaceIds"));
        }
        if self.marketplace_ids.len() > MAX_MARKETPLACES {
            return Err(ApiError::invalid_input("marketplaceIds accepts at most 50 values"));
        }
        let created = (self.created_after, self.created_before);
        let updated = (self.last_updated_after, self.last_updated_before);
        let (kind, after, before, after_name, before_name) = match (created, updated) {
            ((Some(after), before), (None, None)) => {
                (WindowKind::Created, after, before, "createdAfter", "createdBefore")
            }
            ((None, None), (Some(after), before)) => {
                (WindowKind::LastUpdated, after, before, "lastUpdatedAfter", "lastUpdatedBefore")
            }
            ((None, _), (None, _)) => {
                return Err(ApiError::invalid_input(
                    "Exactly one of createdAfter and lastUpdatedAfter must be provided",
                ));
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
            marketplace_ids: self.marketplace_ids.iter().cloned().collect(),
            kind,
            after,
            before,
            updated_not_after: match kind {
                WindowKind::LastUpdated => before,
                WindowKind::Created => truncate_to_second(now),
            },
            fulfillment_statuses: self.fulfillment_statuses.iter().copied().collect(),
            fulfilled_by: self.fulfilled_by.iter().copied().collect(),
            included_data: BTreeSet::new(),
            page_size: DEFAULT_PAGE_SIZE,
        })
    }
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

/// Runs one page of a search over `orders`, continuing as `paging` does.
pub fn run(request: &SearchRequest, orders: &[Order], paging: Paging) -> Page {
    let filter = &request.filter;
    let mut matching: Vec<&Order> = orders.iter().filter(|o| filter.matches(o)).collect();
    matching.sort_by_key(|o| key(o));
    let skip = match &request.position {
        None => 0,
        Some(Position::After(cursor)) => matching.partition_point(|o| key(o) <= *cursor),
        Some(Position::Offset(offset)) => (*offset).min(matching.len()),
    };
    let rest = &matching[skip..];
    let served = &rest[..rest.len().min(filter.page_size)];
    let next = served.last().filter(|_| rest.len() > served.len()).map(|last| {
        request.resume_at(match paging {
            Paging::Keyset => Position::After(key(last)),
            Paging::Offset => Position::Offset(skip + served.len()),
        })
    });
    Page { orders: served.iter().map(|o| o.project(&filter.included_data)).collect(), next }
}

/// The first `count` orders a search over `orders` matches, in its order: the ones a change on
/// Amazon's side during a read moves out of the window.
pub fn earliest_matches(filter: &SearchFilter, orders: &[Order], count: usize) -> Vec<String> {
    let mut matching: Vec<&Order> = orders.iter().filter(|o| filter.matches(o)).collect();
    matching.sort_by_key(|o| key(o));
    matching.into_iter().take(count).map(|o| o.order_id.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        parse_utc("2026-03-10T12:00:00Z").unwrap()
    }

    fn request(q: &str) -> Result<SearchRequest, ApiError> {
        SearchRequest::from_query(&QueryParams::parse(Some(q)), now(), &mut TokenStore::default())
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
        assert_eq!(
            request("marketplaceIds=X&createdAfter=2026-03-01T00:00:00Z&paginationToken=garbage!!").unwrap_err(),
            ApiError::invalid_pagination_token()
        );
    }

    #[test]
    fn default_upper_bound_is_two_minutes_ago() {
        let r = request("marketplaceIds=X&lastUpdatedAfter=2026-03-01T00:00:00Z").unwrap();
        assert_eq!(format_iso(r.filter.before), "2026-03-10T11:58:00Z");
        assert_eq!(r.filter.echoed_bounds().0.as_deref(), Some("2026-03-10T11:58:00Z"));
    }
}
