//! `cargo loco task products_import file=PATH`: sets name, price and stock of products.
use std::{path::Path, time::Instant};

use loco_rs::{
    app::AppContext,
    task::{Task, TaskInfo, Vars},
    Error, Result,
};

use super::args::{Arg, TaskArgs};
use crate::models::{
    import::{products_file::ProductStream, RejectsWriter},
    products::{Model as Product, UpsertCounts},
};

const NAME: &str = "products_import";
const ARGS: &[Arg] = &[Arg::required(
    "file",
    "CSV with columns sku,name,price_cents,stock (stock is set, not added)",
)];
/// Rows per transaction.
const BATCH: usize = 1_000;

/// Creates or updates products from a file, setting their stock explicitly.
pub struct ProductsImport;

#[async_trait::async_trait]
impl Task for ProductsImport {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: NAME.to_string(),
            detail: "Create or update products (sku,name,price_cents,stock); sets stock"
                .to_string(),
        }
    }

    async fn run(&self, ctx: &AppContext, vars: &Vars) -> Result<()> {
        let args = TaskArgs::parse(NAME, ARGS, vars)?;
        let path = Path::new(args.require("file")?);
        let started = Instant::now();
        let mut stream = ProductStream::open(path, BATCH).map_err(fail)?;
        let mut rejects = RejectsWriter::for_import(path);
        let mut counts = UpsertCounts::default();
        let mut rows_read = 0;
        // Catalogs are small next to order files: reading between two
        // transactions on this thread costs little and keeps the task simple.
        while let Some(batch) = stream.next_batch().map_err(fail)? {
            rows_read = batch.rows_read;
            rejects
                .write_all(&batch.rejects)
                .map_err(|e| fail(format!("cannot write {}: {e}", rejects.path().display())))?;
            let done = Product::upsert_all(&ctx.db, &batch.rows).await?;
            counts.created += done.created;
            counts.updated += done.updated;
        }
        let rejected = rejects.written();
        let rejects_path = rejects.finish().map_err(fail)?;
        println!("products imported from {}", path.display());
        println!("  rows read          {rows_read}");
        println!("  products created   {}", counts.created);
        println!("  products updated   {}", counts.updated);
        println!("  rows rejected      {rejected}");
        println!(
            "  elapsed            {:.2} s",
            started.elapsed().as_secs_f64()
        );
        println!(
            "  rejects            {}",
            rejects_path.map_or_else(|| "none".to_owned(), |p| p.display().to_string())
        );
        Ok(())
    }
}

/// One line on stderr (through `main`) and a non-zero exit.
fn fail(e: impl std::fmt::Display) -> Error {
    Error::string(&e.to_string())
}
