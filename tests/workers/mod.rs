mod processes;
mod queue;
mod workflow;
