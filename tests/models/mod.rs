mod import_parsing;
mod order_notifications;
mod schema;
