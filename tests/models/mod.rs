mod import_parsing;
mod import_run;
mod order_notifications;
mod postgres_tcp;
mod schema;
mod statuses;
