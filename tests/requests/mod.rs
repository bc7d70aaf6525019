mod ops;
mod queues;
