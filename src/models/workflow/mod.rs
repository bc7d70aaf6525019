//! The order workflow's guarded transitions: reserve → pay → finalize or roll
//! back. Each returns what it moved ([`batch::Moved`]); the order-workflow job
//! (`workers/order_workflow`) makes them in turn and queues what follows.
pub mod batch;
pub mod gateway;
