use serde::Serialize;

use crate::workers::QueueCounts;

/// `GET /api/queues`: the depth of every queue, for people and probes.
#[derive(Debug, Serialize)]
pub struct QueuesResponse {
    pub queues: Vec<QueueCounts>,
}
