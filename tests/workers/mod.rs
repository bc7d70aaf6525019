mod crash;
mod processes;
mod queue;
mod workflow;
