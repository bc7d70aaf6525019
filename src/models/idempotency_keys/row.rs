//! What a key's row holds besides its columns: the stored response and when
//! the key expires. Shared by the single claim and the batch of claims
//! (`many`), so neither has to import the other.
use std::time::Duration;

use sea_orm::prelude::DateTimeWithTimeZone;

/// The first response to a key, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub refund_id: Option<i64>,
}

/// When a key claimed at `now` expires (a day for a `ttl` chrono cannot hold).
pub(super) fn expiry(now: chrono::DateTime<chrono::Utc>, ttl: Duration) -> DateTimeWithTimeZone {
    let ttl = chrono::Duration::from_std(ttl).unwrap_or_else(|_| chrono::Duration::days(1));
    (now + ttl).fixed_offset()
}
