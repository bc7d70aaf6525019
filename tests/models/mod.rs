mod import_parsing;
mod order_notifications;
mod import_run;
mod schema;
