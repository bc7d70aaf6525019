mod args;
mod catalog_and_generator;
mod orders_import;
