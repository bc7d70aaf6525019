mod import_chunk;
mod processes;
mod queue;
