mod args;
mod orders_import;
