mod imports;
mod ops;
mod queues;
