mod crash;
mod processes;
mod queue;
mod refunds;
mod workflow;
