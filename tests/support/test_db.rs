//! A database of its own for every test: a PostgreSQL database, or a SQLite file.
use sea_orm::{ConnectionTrait, Database};

pub struct TestDb {
    pub url: String,
    admin_url: Option<String>,
    name: String,
}

impl TestDb {
    /// `base` is the configured URL; its database (or file) name gets a unique suffix.
    pub async fn create(base: &str) -> Self {
        let name = format!("of_test_{}", uuid::Uuid::new_v4().simple());
        if base.starts_with("postgres") {
            let (server, _db) = base.rsplit_once('/').expect("postgres url with a database");
            let admin_url = format!("{server}/postgres");
            let admin = Database::connect(&admin_url)
                .await
                .expect("connect to postgres");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            admin.close().await.ok();
            Self {
                url: format!("{server}/{name}"),
                admin_url: Some(admin_url),
                name,
            }
        } else {
            let path = std::env::temp_dir().join(format!("{name}.sqlite"));
            Self {
                url: format!("sqlite://{}?mode=rwc", path.display()),
                admin_url: None,
                name,
            }
        }
    }

    /// Drops the database (forcing out the app's pool) or deletes the SQLite files.
    pub fn remove(&self) {
        match &self.admin_url {
            Some(admin_url) => {
                let admin_url = admin_url.clone();
                let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
                // Drop runs outside any runtime we may block: use a thread of its own.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    rt.block_on(async {
                        if let Ok(admin) = Database::connect(&admin_url).await {
                            let _ = admin.execute_unprepared(&sql).await;
                            let _ = admin.close().await;
                        }
                    });
                    Ok::<(), std::io::Error>(())
                })
                .join();
            }
            None => {
                let path = std::env::temp_dir().join(format!("{}.sqlite", self.name));
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
        }
    }
}
