pub mod imports;
pub mod queues;
