mod args;
mod catalog_and_generator;
mod import_backpressure;
mod import_whole;
mod orders_import;
mod queues_retry;
mod refund;
