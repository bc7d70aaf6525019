mod crash;
mod kpi;
mod processes;
mod queue;
mod workflow;
