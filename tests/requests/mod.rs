mod imports;
mod metrics;
mod ops;
mod orders;
mod queues;
mod refund_batches;
mod refund_concurrency;
mod refunds;
