//! getFeeds: filters, newest first, and `nextToken` paging. A token stands for the first request's filter (its
//! `createdUntil` frozen, default now) and the last feed served; "call the getFeeds operation with this token as
//! the only parameter".

use chrono::{DateTime, Duration, Utc};

use super::{Feed, FeedError, FeedStore, FeedView, ProcessingStatus};
use crate::search::QueryParams;

const DEFAULT_PAGE_SIZE: usize = 10;
/// "The default is 90 days ago."
const DEFAULT_CREATED_SINCE_DAYS: i64 = 90;

/// getFeeds' query, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedsQuery {
    First(Filter),
    Next(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    feed_types: Vec<String>,
    marketplace_ids: Option<Vec<String>>,
    statuses: Option<Vec<ProcessingStatus>>,
    created_since: Option<DateTime<Utc>>,
    created_until: Option<DateTime<Utc>>,
    page_size: usize,
}

/// What a nextToken stands for.
#[derive(Debug, Clone)]
pub(crate) struct Resume {
    filter: Filter,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    region: &'static str,
    /// (createdTime, feedId) of the last feed served.
    after: (DateTime<Utc>, u64),
}

fn invalid(message: impl Into<String>) -> FeedError {
    FeedError::InvalidQuery(message.into())
}

impl FeedsQuery {
    pub fn parse(raw: Option<&str>) -> Result<Self, FeedError> {
        let params = QueryParams::parse(raw);
        if let Some(token) = params.scalar("nextToken") {
            let alone = url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()).all(|(key, _)| key == "nextToken");
            if !alone {
                return Err(invalid("nextToken must be the only parameter when it is specified"));
            }
            return Ok(Self::Next(token.to_string()));
        }
        let feed_types = params.list("feedTypes").unwrap_or_default();
        if feed_types.is_empty() {
            return Err(invalid("Either feedTypes or nextToken is required"));
        }
        if feed_types.len() > 10 {
            return Err(invalid("feedTypes accepts between 1 and 10 values"));
        }
        let marketplace_ids = params.list("marketplaceIds");
        if marketplace_ids.as_ref().is_some_and(|ids| ids.is_empty() || ids.len() > 10) {
            return Err(invalid("marketplaceIds accepts between 1 and 10 values"));
        }
        let statuses = params
            .list("processingStatuses")
            .map(|values| {
                values
                    .iter()
                    .map(|v| v.parse().map_err(|_| invalid(format!("Invalid value '{v}' for processingStatuses"))))
                    .collect::<Result<Vec<ProcessingStatus>, FeedError>>()
            })
            .transpose()?;
        if statuses.as_ref().is_some_and(Vec::is_empty) {
            return Err(invalid("processingStatuses requires at least one value"));
        }
        let page_size = match params.scalar("pageSize") {
            None => DEFAULT_PAGE_SIZE,
            Some(raw) => raw
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| invalid("pageSize must be an integer between 1 and 100"))?,
        };
        let time = |name: &str| {
            params
                .scalar(name)
                .map(|raw| {
                    DateTime::parse_from_rfc3339(raw.trim())
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|_| invalid(format!("Invalid {name}: '{raw}' is not an ISO 8601 date-time")))
                })
                .transpose()
        };
        let (created_since, created_until) = (time("createdSince")?, time("createdUntil")?);
        if let (Some(since), Some(until)) = (created_since, created_until)
            && since > until
        {
            return Err(invalid("createdSince must be before createdUntil"));
        }
        Ok(Self::First(Filter { feed_types, marketplace_ids, statuses, created_since, created_until, page_size }))
    }
}

impl Filter {
    fn matches(&self, feed: &Feed, since: DateTime<Utc>, until: DateTime<Utc>) -> bool {
        self.feed_types.iter().any(|t| t == feed.feed_type.as_str())
            && self.marketplace_ids.as_ref().is_none_or(|ids| ids.iter().any(|id| feed.marketplace_ids.contains(id)))
            && self.statuses.as_ref().is_none_or(|s| s.contains(&feed.processing_status))
            && feed.created_time >= since
            && feed.created_time <= until
    }
}

fn key(feed: &Feed) -> (DateTime<Utc>, u64) {
    (feed.created_time, feed.feed_id.parse().unwrap_or(0))
}

impl FeedStore {
    /// One page of getFeeds on the host of `region`; `token_lifetime` is how long its nextToken lives.
    pub fn list(
        &mut self,
        query: FeedsQuery,
        region: &'static str,
        now: DateTime<Utc>,
        token_lifetime: Duration,
    ) -> Result<(Vec<FeedView>, Option<String>), FeedError> {
        let resume = match query {
            FeedsQuery::First(filter) => Resume {
                since: filter.created_since.unwrap_or(now - Duration::days(DEFAULT_CREATED_SINCE_DAYS)),
                until: filter.created_until.unwrap_or(now),
                filter,
                region,
                // Newest first: start above everything.
                after: (DateTime::<Utc>::MAX_UTC, u64::MAX),
            },
            FeedsQuery::Next(token) => self
                .next_tokens
                .redeem(&token, now)
                .ok()
                .filter(|r| r.region == region)
                .ok_or_else(|| invalid("Invalid nextToken"))?,
        };
        let mut matching: Vec<&Feed> = self
            .feeds
            .iter()
            .filter(|f| {
                f.region == region && key(f) < resume.after && resume.filter.matches(f, resume.since, resume.until)
            })
            .collect();
        matching.sort_by_key(|f| std::cmp::Reverse(key(f)));
        let more = matching.len() > resume.filter.page_size;
        matching.truncate(resume.filter.page_size);
        let page: Vec<FeedView> = matching.iter().map(|f| f.view()).collect();
        let last = matching.last().map(|f| key(f));
        let next = match (more, last) {
            (true, Some(after)) => Some(self.next_tokens.issue_opaque(Resume { after, ..resume }, now, token_lifetime)),
            _ => None,
        };
        Ok((page, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(raw: &str) -> String {
        FeedsQuery::parse(Some(raw)).unwrap_err().to_string()
    }

    #[test]
    fn validates_like_the_model() {
        assert!(error("").contains("Either feedTypes or nextToken"));
        assert!(error("nextToken=abc&pageSize=5").contains("only parameter"));
        assert!(error("feedTypes=A&pageSize=0").contains("pageSize"));
        assert!(error("feedTypes=A&pageSize=101").contains("pageSize"));
        assert!(error("feedTypes=A&processingStatuses=BAD_VALUE,DONE").contains("BAD_VALUE"));
        assert!(error("feedTypes=1,2,3,4,5,6,7,8,9,10,11").contains("between 1 and 10"));
        assert!(error("feedTypes=A&createdSince=yesterday").contains("createdSince"));
        assert!(
            error("feedTypes=A&createdSince=2026-02-01T00:00:00Z&createdUntil=2026-01-01T00:00:00Z").contains("before")
        );
        assert_eq!(FeedsQuery::parse(Some("nextToken=abc")).unwrap(), FeedsQuery::Next("abc".into()));
        let FeedsQuery::First(filter) = FeedsQuery::parse(Some("feedTypes=A,B&processingStatuses=DONE")).unwrap()
        else {
            panic!("a first page");
        };
        assert_eq!((filter.feed_types.len(), filter.page_size), (2, DEFAULT_PAGE_SIZE));
        assert_eq!(filter.statuses, Some(vec![ProcessingStatus::Done]));
    }
}
