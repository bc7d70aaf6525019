//! An I/O error in the middle of a file: the import ends `failed`, with the reason.
use std::io::{self, Read};

use orders_flow::{
    models::{
        import::{OrderStream, StreamOptions},
        imports::Model as Import,
    },
    workers::{
        import_chunk::ImportChunkJob,
        import_run::{ImportEvent, ImportFile, ImportProgress, ImportRunError},
    },
};

use crate::support::TestApp;

/// Serves `data`, then fails like a disk or network share going away.
struct BreaksAfter {
    data: io::Cursor<Vec<u8>>,
}

impl Read for BreaksAfter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.data.read(buf)? {
            0 => Err(io::Error::other("device went away")),
            n => Ok(n),
        }
    }
}

impl io::Seek for BreaksAfter {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        self.data.seek(to)
    }
}

struct Quiet;

impl ImportProgress for Quiet {
    fn event(&self, _event: ImportEvent) {}
}

#[tokio::test]
async fn a_read_error_mid_file_marks_the_import_failed() {
    let app = TestApp::boot().await;
    let mut text = String::from("order_id,customer_id,total,items\n");
    for n in 0..250 {
        text.push_str(&format!(
            "O{n},C{n},1.00,\"[{{\"\"product\"\":\"\"Pen\"\",\"\"qty\"\":1,\"\"price\"\":1}}]\"\n"
        ));
    }
    let reader = BreaksAfter {
        data: io::Cursor::new(text.into_bytes()),
    };
    let options = StreamOptions {
        chunk_size: 100,
        ..StreamOptions::default()
    };
    let stream = OrderStream::new(reader, options).unwrap();
    let dir = std::env::temp_dir().join(format!("of-broken-{}", uuid::Uuid::new_v4().simple()));
    let file = ImportFile::from_stream(stream, &dir.join("broken.csv"));
    let outcome = file.import(&app.jobs(), &Quiet).await;
    let Err(ImportRunError::File(error)) = outcome else {
        panic!("expected a read error, got {outcome:?}");
    };
    assert!(error.to_string().contains("device went away"), "{error}");

    let import = Import::find_by_id(&app.ctx().db, 1).await.unwrap().unwrap();
    assert_eq!(import.state.as_str(), "failed");
    assert!(import
        .error
        .as_deref()
        .unwrap_or_default()
        .contains("device went away"));
    assert!(import.finished_at.is_some());
    // The two full chunks read before the error are queued all the same.
    assert_eq!((import.chunks_total, import.orders_read), (2, 200));
    let queued = app
        .services()
        .queue::<ImportChunkJob>()
        .counts()
        .await
        .unwrap();
    assert_eq!(queued.pending, 2);
}
