mod ops;
mod orders;
mod queues;
mod refund_concurrency;
mod refunds;
