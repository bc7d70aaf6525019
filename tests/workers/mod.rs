mod crash;
mod kpi;
mod notifications;
mod notifications_once;
mod processes;
mod queue;
mod workflow;
