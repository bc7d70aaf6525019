//! The rejects file written beside an import: `<file>.rejects.csv`.

use std::{
    fs::{self, File},
    io,
    path::{Path, PathBuf},
};

use super::parsed::Reject;

/// Writes rejected rows as CSV `line,column,reason,raw`, creating the file
/// only when the first reject arrives.
#[derive(Debug)]
pub struct RejectsWriter {
    path: PathBuf,
    writer: Option<csv::Writer<File>>,
    written: u64,
}

impl RejectsWriter {
    /// A writer for the rejects of `import_file` (nothing is created yet).
    #[must_use]
    pub fn for_import(import_file: &Path) -> Self {
        let mut name = import_file.as_os_str().to_owned();
        name.push(".rejects.csv");
        Self {
            path: PathBuf::from(name),
            writer: None,
            written: 0,
        }
    }

    /// Where the rejects go.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rejects written so far.
    #[must_use]
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends rejects, creating (or truncating) the file on the first one.
    ///
    /// # Errors
    /// The file cannot be created or written.
    pub fn write_all(&mut self, rejects: &[Reject]) -> io::Result<()> {
        for reject in rejects {
            let writer = match &mut self.writer {
                Some(writer) => writer,
                None => {
                    let mut writer = csv::Writer::from_writer(File::create(&self.path)?);
                    writer.write_record(["line", "column", "reason", "raw"])?;
                    self.writer.insert(writer)
                }
            };
            writer.write_record([
                reject.line.to_string().as_str(),
                &reject.column,
                &reject.reason,
                &reject.raw,
            ])?;
            self.written += 1;
        }
        Ok(())
    }

    /// Flushes and returns the path if any reject was written. With none, a
    /// rejects file left by an earlier run is removed so it cannot mislead.
    ///
    /// # Errors
    /// Flushing or removing the stale file failed.
    pub fn finish(self) -> io::Result<Option<PathBuf>> {
        match self.writer {
            Some(mut writer) => {
                writer.flush()?;
                Ok(Some(self.path))
            }
            None => match fs::remove_file(&self.path) {
                Ok(()) => Ok(None),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("orders-flow-rejects-{}-{name}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir.join("orders.csv")
    }

    #[test]
    fn writes_csv_beside_the_import() {
        let import = scratch("write");
        let mut writer = RejectsWriter::for_import(&import);
        assert_eq!(
            writer.path(),
            import.with_file_name("orders.csv.rejects.csv")
        );
        writer
            .write_all(&[Reject {
                line: 3,
                column: "qty".into(),
                reason: "qty must be at least 1".into(),
                raw: "A,\"x,y\",0".into(),
            }])
            .unwrap();
        assert_eq!(writer.written(), 1);
        let path = writer.finish().unwrap().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "line,column,reason,raw\n3,qty,qty must be at least 1,\"A,\"\"x,y\"\",0\"\n"
        );
    }

    #[test]
    fn no_rejects_no_file_and_stale_file_removed() {
        let import = scratch("none");
        let stale = RejectsWriter::for_import(&import).path().to_owned();
        fs::write(&stale, "old").unwrap();
        let writer = RejectsWriter::for_import(&import);
        assert_eq!(writer.finish().unwrap(), None);
        assert!(!stale.exists());
        assert_eq!(RejectsWriter::for_import(&import).finish().unwrap(), None);
    }
}
