mod import_parsing;
mod schema;
