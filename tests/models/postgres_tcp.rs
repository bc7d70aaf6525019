//! PostgreSQL over TCP, as production connects: every socket the database pool
//! opens must have `TCP_NODELAY` set.
//!
//! sqlx 0.9.0 stopped setting it (upstream issue 4335): every statement larger
//! than one segment then waited ~40 ms for a delayed ACK, and the whole pipeline
//! ran at half speed over TCP (BENCHMARKS.md). 0.9.1 sets it again. This test
//! reads the option off the process's own sockets, so a dependency update that
//! drops it again fails here instead of in a benchmark nobody ran.
use std::os::fd::BorrowedFd;

use loco_rs::{app::Hooks, environment::Environment};
use orders_flow::app::App;
use sea_orm::ConnectionTrait;

/// The PostgreSQL the suite runs against, over TCP (`scripts/test.sh` starts it).
fn tcp_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into())
}

/// Inodes of this process's TCP sockets connected to `port` (IPv4 and IPv6).
fn socket_inodes_to(port: u16) -> Vec<u64> {
    let remote = format!(":{port:04X}");
    ["/proc/self/net/tcp", "/proc/self/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|line| {
                    let cols: Vec<&str> = line.split_whitespace().collect();
                    // sl local_address rem_address st ... uid timeout inode
                    let connected = cols.get(3) == Some(&"01");
                    (connected && cols.get(2)?.ends_with(&remote))
                        .then(|| cols.get(9)?.parse().ok())
                        .flatten()
                })
                .collect::<Vec<u64>>()
        })
        .collect()
}

/// This process's file descriptors that are one of `inodes`.
fn fds_of(inodes: &[u64]) -> Vec<i32> {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let fd: i32 = entry.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(entry.path()).ok()?;
            let inode: u64 = target
                .to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()?;
            inodes.contains(&inode).then_some(fd)
        })
        .collect()
}

#[tokio::test]
async fn the_database_pool_sets_tcp_nodelay_on_its_sockets() {
    let url = tcp_url();
    let port: u16 = url
        .rsplit_once('@')
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|host| host.rsplit_once(':'))
        .and_then(|(_, port)| port.parse().ok())
        .expect("TEST_POSTGRES_URL names a TCP host:port");
    let mut config = App::load_config(&Environment::Test)
        .await
        .expect("test config");
    config.database.uri = url;
    config.database.min_connections = 2;
    // The app's own connect path (pool options included), not a bare driver.
    let db = loco_rs::db::connect(&config.database)
        .await
        .expect("connect to PostgreSQL over TCP");
    db.execute_unprepared("SELECT 1")
        .await
        .expect("a query over TCP");

    let fds = fds_of(&socket_inodes_to(port));
    assert!(
        !fds.is_empty(),
        "no TCP connection to port {port} found in /proc/self: the test checks nothing"
    );
    for fd in fds {
        // SAFETY: the descriptor is open (just listed) and only borrowed for one
        // getsockopt; the pool keeps owning it.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&fd);
        assert!(
            socket.tcp_nodelay().expect("getsockopt TCP_NODELAY"),
            "fd {fd:?}: a database connection without TCP_NODELAY (sqlx 0.9.0 regression)"
        );
    }
    db.close().await.ok();
}
