mod notifications;
mod notifications_once;
mod processes;
mod queue;
