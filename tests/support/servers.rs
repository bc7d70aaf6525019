//! Servers of one test, for fault tests that kill or flush them: a private
//! `redis-server` and a throwaway PostgreSQL cluster, each on a free port,
//! never the shared ones. Both are stopped and removed on drop, even when the
//! test fails.
use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("local addr")
        .port()
}

/// A `redis-server` without persistence, killed on drop.
pub struct PrivateRedis {
    port: u16,
    child: Child,
}

impl PrivateRedis {
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    fn start_on(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    /// A replica of `primary` (`--replicaof`), returned once its link to the
    /// primary is up (the initial sync done).
    pub fn start_replica_of(primary: &Self) -> Self {
        let replica = Self::start_with(
            free_port(),
            &["--replicaof", "127.0.0.1", &primary.port.to_string()],
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while !replica
            .query::<String>(redis::cmd("INFO").arg("replication"))
            .contains("master_link_status:up")
        {
            assert!(Instant::now() < deadline, "the replica did not sync");
            std::thread::sleep(Duration::from_millis(20));
        }
        replica
    }

    fn start_with(port: u16, extra: &[&str]) -> Self {
        // A directory of its own: a primary writes the RDB for its replica's
        // sync there (and the replica the one it receives), never in the
        // checkout.
        let dir = Self::dir(port);
        std::fs::create_dir_all(&dir).expect("redis dir");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server");
        let redis = Self { port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while redis.connection().is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn dir(port: u16) -> PathBuf {
        std::env::temp_dir().join(format!("of-redis-{port}"))
    }

    fn connection(&self) -> redis::RedisResult<redis::Connection> {
        let mut conn = redis::Client::open(self.url())?.get_connection()?;
        redis::cmd("PING").query::<String>(&mut conn)?;
        Ok(conn)
    }

    /// Runs `cmd` on this server.
    pub fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        cmd.query(&mut self.connection().expect("private redis"))
            .expect("redis command")
    }

    /// SIGKILL, then an empty server on the same port.
    pub fn restart_empty(&mut self) {
        self.kill();
        self.start_again();
    }

    /// SIGKILL: the port refuses connections until [`Self::start_again`].
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL redis-server");
        self.child.wait().expect("reap redis-server");
    }

    /// SIGSTOP (`resume` = SIGCONT): the port accepts connections and nothing
    /// answers, as a hung or swapping Redis.
    pub fn pause(&self, resume: bool) {
        let signal = if resume { "-CONT" } else { "-STOP" };
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal}");
    }

    /// An empty server on the same port again (after [`Self::kill`]).
    pub fn start_again(&mut self) {
        let new = Self::start_on(self.port);
        // The old server is dead and reaped, and its directory is the new
        // one's: nothing of it to drop.
        std::mem::forget(std::mem::replace(self, new));
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(Self::dir(self.port));
    }
}

/// One address in front of a server that may change: `orders-flow-relay`
/// (no delay) from a port of its own to the target, as a service address (a
/// virtual IP) that an operator moves to another host. Killed on drop.
pub struct Address {
    port: u16,
    child: Child,
}

impl Address {
    /// An address that leads to `127.0.0.1:target`.
    pub fn to(target: u16) -> Self {
        let port = free_port();
        Self {
            port,
            child: Self::relay(port, target),
        }
    }

    fn relay(port: u16, target: u16) -> Child {
        let child = Command::new(env!("CARGO_BIN_EXE_orders-flow-relay"))
            .arg(format!("127.0.0.1:{port}"))
            .arg(format!("127.0.0.1:{target}"))
            .arg("0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("orders-flow-relay");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the relay did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    }

    /// The address as a Redis URL.
    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Moves the address to `127.0.0.1:target`: every connection through it
    /// is cut, and new ones reach the new target.
    pub fn move_to(&mut self, target: u16) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = Self::relay(self.port, target);
    }
}

impl Drop for Address {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway PostgreSQL cluster (`initdb` into a temporary directory), run
/// as the `postgres` user when the tests run as root (PostgreSQL refuses root).
pub struct PrivatePostgres {
    dir: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    /// Initializes and starts a cluster with one database, `orders`.
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("of-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("cluster dir");
        if is_root() {
            run(Command::new("chown").args(["-R", "postgres:"]).arg(&dir));
        }
        let pg = Self {
            dir,
            port: free_port(),
        };
        run(pg
            .as_owner("initdb")
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(pg.data()));
        pg.start_again();
        run(pg.as_owner("createdb").args([
            "-h",
            "127.0.0.1",
            "-p",
            &pg.port.to_string(),
            "-U",
            "postgres",
            "orders",
        ]));
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn as_owner(&self, program: &str) -> Command {
        let program = pg_program(program);
        let mut cmd = if is_root() {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        };
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        cmd
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/orders", self.port)
    }

    /// `pg_ctl stop -m fast`: every connection is cut.
    pub fn stop(&self) {
        run(self
            .as_owner("pg_ctl")
            .args(["-m", "fast", "-w", "stop", "-D"])
            .arg(self.data()));
    }

    /// Starts the cluster (again), waiting until it accepts connections.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        run(self
            .as_owner("pg_ctl")
            .args(["-w", "-o", &options, "-l"])
            .arg(self.dir.join("log"))
            .arg("-D")
            .arg(self.data())
            .arg("start"));
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self
            .as_owner("pg_ctl")
            .args(["-m", "immediate", "-w", "stop", "-D"])
            .arg(self.data())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A PostgreSQL program: from PATH when it is there, else from the newest
/// server under /usr/lib/postgresql, where Debian keeps `initdb` and `pg_ctl`
/// (off PATH). Always a full path: `runuser` searches the caller's PATH as
/// the postgres user, who may not enter an entry such as /root/.cargo/bin.
fn pg_program(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path = std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file());
    let debian = || {
        std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let version: u32 = entry.file_name().to_str()?.parse().ok()?;
                Some((version, entry.path().join("bin").join(program)))
            })
            .filter(|(_, candidate)| candidate.is_file())
            .max_by_key(|(version, _)| *version)
            .map(|(_, candidate)| candidate)
    };
    on_path
        .or_else(debian)
        .unwrap_or_else(|| panic!("no {program} on PATH nor under /usr/lib/postgresql/*/bin"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0\n"))
}

fn run(cmd: &mut Command) {
    let status = cmd.status().expect("spawn");
    assert!(status.success(), "{cmd:?} failed: {status}");
}

/// A real worker process (`start --worker`); killed on drop.
pub struct WorkerProcess(pub Child);

impl WorkerProcess {
    /// On `redis_url` under `prefix`, writing to `database_url`.
    pub fn start(redis_url: &str, prefix: &str, database_url: &str) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_orders-flow-cli"));
        command
            .args(["start", "--worker"])
            .env("LOCO_ENV", "test")
            .env("REDIS_URL", redis_url)
            .env("REDIS_PREFIX", prefix)
            .env("DATABASE_URL", database_url)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        log_to_file(&mut command);
        Self(command.spawn().expect("spawn worker"))
    }
}

/// A worker process logs nowhere, unless `ORDERS_FLOW_TEST_LOGS` names a
/// directory: then it logs at `info` to a file of its own there, to see why a
/// fault test's jobs failed when it does not pass.
fn log_to_file(command: &mut Command) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let Some(dir) = std::env::var_os("ORDERS_FLOW_TEST_LOGS") else {
        return;
    };
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = PathBuf::from(dir).join(format!("worker-{}-{n}.log", std::process::id()));
    let file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let copy = file.try_clone().expect("a second handle of the log");
    command
        .env("TEST_LOGGER", "true")
        .env("TEST_LOG_LEVEL", "info")
        .stdout(file)
        .stderr(copy);
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
