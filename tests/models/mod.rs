mod import_parsing;
mod import_run;
mod schema;
