mod crash;
mod kpi;
mod notifications;
mod notifications_once;
mod import_chunk;
mod processes;
mod queue;
mod workflow;
