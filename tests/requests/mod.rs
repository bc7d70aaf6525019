mod metrics;
mod ops;
mod queues;
