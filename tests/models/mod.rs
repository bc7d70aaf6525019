mod import_parsing;
mod import_run;
mod order_notifications;
mod planner_statistics;
mod postgres_tcp;
mod schema;
mod sqlite_pool;
mod statuses;
