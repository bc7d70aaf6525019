mod processes;
mod queue;
