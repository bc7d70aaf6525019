mod metrics;
mod imports;
mod ops;
mod queues;
