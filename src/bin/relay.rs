//! A TCP relay that adds a fixed delay to every byte in both directions: the
//! cluster script's stand-in for `tc netem` on kernels built without it
//! (`CONFIG_NET_SCH_NETEM` unset, as on the machines this project is measured
//! on). Each connection has one thread that stamps what either side sends
//! and holds it until the stamp plus the delay (`ppoll(2)`, microsecond
//! timeouts; tokio's timer rounds up to whole milliseconds): a round trip
//! through the relay costs twice the delay, as a link with that one-way
//! latency would, whatever the traffic's rhythm.
//!
//! ```text
//! orders-flow-relay LISTEN_ADDR TARGET_ADDR ONE_WAY_DELAY_MICROSECONDS
//! ```
//!
//! It ends when its listening socket fails or it is killed; a connection ends
//! when both sides have closed it (or one fails).

use std::{
    collections::VecDeque,
    io::{self, Read, Write},
    net::{Shutdown, SocketAddr, TcpListener, TcpStream},
    os::fd::AsRawFd,
    process::ExitCode,
    thread,
    time::{Duration, Instant},
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [listen, target, delay] => listen
            .parse::<SocketAddr>()
            .map_err(|e| format!("LISTEN_ADDR `{listen}`: {e}"))
            .and_then(|l| {
                target
                    .parse::<SocketAddr>()
                    .map_err(|e| format!("TARGET_ADDR `{target}`: {e}"))
                    .map(|t| (l, t))
            })
            .and_then(|(l, t)| {
                delay
                    .parse::<u64>()
                    .ok()
                    .filter(|us| *us <= 10_000_000)
                    .map(|us| (l, t, Duration::from_micros(us)))
                    .ok_or_else(|| {
                        format!(
                            "ONE_WAY_DELAY_MICROSECONDS `{delay}`: a whole number up to 10000000"
                        )
                    })
            }),
        _ => Err(
            "usage: orders-flow-relay LISTEN_ADDR TARGET_ADDR ONE_WAY_DELAY_MICROSECONDS".into(),
        ),
    };
    let (listen, target, delay) = match parsed {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    for client in listener.incoming() {
        match client {
            Ok(client) => {
                thread::spawn(move || {
                    if let Err(e) = relay(client, target, delay) {
                        eprintln!("relay to {target}: {e}");
                    }
                });
            }
            Err(e) => eprintln!("accept on {listen}: {e}"),
        }
    }
    ExitCode::SUCCESS
}

/// Joins `client` to a new connection to `target`, both ways delayed.
fn relay(client: TcpStream, target: SocketAddr, delay: Duration) -> io::Result<()> {
    let server = TcpStream::connect(target)?;
    for stream in [&client, &server] {
        // The delay is the relay's only latency: no Nagle on top of it.
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
    }
    let mut sides = [Direction::new(client), Direction::new(server)];
    run(&mut sides, delay);
    for side in &sides {
        let _ = side.stream.shutdown(Shutdown::Both);
    }
    Ok(())
}

/// What one socket sent that the other has not been given yet. `sides[i]`
/// reads `sides[i].stream` and holds its bytes for `sides[1 - i].stream`.
struct Direction {
    stream: TcpStream,
    /// Bytes read, each run with the instant it may leave.
    held: VecDeque<(Instant, Vec<u8>)>,
    /// Of `held`'s first run, the bytes already written.
    written: usize,
    /// The stream said end of file (or failed): pass the end on once `held` is out.
    ended: bool,
    /// The end was passed on.
    closed: bool,
}

impl Direction {
    const fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            held: VecDeque::new(),
            written: 0,
            ended: false,
            closed: false,
        }
    }

    /// Bytes held and not yet written: past `MAX_HELD` the relay stops reading
    /// this side until the other side takes them (a slow reader slows the writer).
    fn held_bytes(&self) -> usize {
        self.held.iter().map(|(_, b)| b.len()).sum::<usize>() - self.written
    }
}

/// Reading stops on a side that holds this much for a slow peer.
const MAX_HELD: usize = 8 << 20;
/// Runs due within this of each other leave in one wake-up: fewer wake-ups for
/// the relay (its CPU is counted against the run) at a cost of at most this much
/// extra delay on a run.
const SLACK: Duration = Duration::from_micros(20);

/// One thread per connection, both directions, over `poll(2)`: a byte costs
/// the relay a wake-up to read it and one to write it, and runs due together
/// are written together. (The first version used two threads per direction
/// and a channel between them: four thread switches per message; its CPU was
/// about a tenth of a 1,000,000-order cluster run's.)
fn run(sides: &mut [Direction; 2], delay: Duration) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let now = Instant::now();
        // Write whatever is due; note when the next run is.
        let mut next_due: Option<Instant> = None;
        let mut want_write = [false; 2];
        for from in 0..2 {
            let to = 1 - from;
            if let Err(blocked) = flush_due(sides, from, now + SLACK) {
                if !blocked {
                    return;
                }
                want_write[to] = true;
            }
            if let Some((due, _)) = sides[from].held.front() {
                if !want_write[to] {
                    next_due = Some(next_due.map_or(*due, |n: Instant| n.min(*due)));
                }
            } else if sides[from].ended && !sides[from].closed {
                let _ = sides[to].stream.shutdown(Shutdown::Write);
                sides[from].closed = true;
            }
        }
        if sides.iter().all(|s| s.closed) {
            return;
        }
        let mut fds = [0, 1].map(|i| {
            let side = &sides[i];
            let mut events: libc::c_short = 0;
            if !side.ended && side.held_bytes() < MAX_HELD {
                events |= libc::POLLIN;
            }
            if want_write[i] {
                events |= libc::POLLOUT;
            }
            libc::pollfd {
                // A negative fd is skipped: an ended socket would report
                // POLLHUP on every call and spin the loop.
                fd: if events == 0 {
                    -1
                } else {
                    side.stream.as_raw_fd()
                },
                events,
                revents: 0,
            }
        });
        // ppoll(2) waits to the microsecond (poll(2) counts whole milliseconds).
        let timeout = next_due.map(|due| {
            let wait = due.saturating_duration_since(Instant::now());
            libc::timespec {
                tv_sec: libc::time_t::try_from(wait.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: libc::c_long::from(wait.subsec_nanos().cast_signed()),
            }
        });
        let timeout_ptr = timeout
            .as_ref()
            .map_or(std::ptr::null(), std::ptr::from_ref);
        // SAFETY: `fds` is an array of two pollfd structs and `timeout_ptr` null
        // or a timespec, both alive across the call; ppoll writes only `revents`.
        let ready = unsafe { libc::ppoll(fds.as_mut_ptr(), 2, timeout_ptr, std::ptr::null()) };
        if ready < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
        for (i, fd) in fds.iter().enumerate() {
            if fd.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                read_all(&mut sides[i], &mut buffer, delay);
            }
        }
    }
}

/// Reads what `side` has now, stamped with when it may leave.
fn read_all(side: &mut Direction, buffer: &mut [u8], delay: Duration) {
    loop {
        match side.stream.read(buffer) {
            Ok(0) => {
                side.ended = true;
                return;
            }
            Ok(n) => {
                let due = Instant::now() + delay;
                // Bytes read within SLACK of the last run leave with it.
                match side.held.back_mut() {
                    Some((at, bytes)) if *at + SLACK >= due => {
                        bytes.extend_from_slice(&buffer[..n]);
                    }
                    _ => side.held.push_back((due, buffer[..n].to_vec())),
                }
                if n < buffer.len() || side.held_bytes() >= MAX_HELD {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                side.ended = true;
                return;
            }
        }
    }
}

/// Writes `sides[from]`'s runs due by `until` to the other side.
/// `Err(true)`: the other side's buffer is full (wait for POLLOUT);
/// `Err(false)`: the other side failed (the connection is over).
fn flush_due(sides: &mut [Direction; 2], from: usize, until: Instant) -> Result<(), bool> {
    let due: usize = sides[from]
        .held
        .iter()
        .take_while(|(at, _)| *at <= until)
        .count();
    if due == 0 {
        return Ok(());
    }
    let (source, target) = if from == 0 {
        let (a, b) = sides.split_at_mut(1);
        (&mut a[0], &b[0])
    } else {
        let (a, b) = sides.split_at_mut(1);
        (&mut b[0], &a[0])
    };
    let mut stream = &target.stream;
    for _ in 0..due {
        let Some((_, bytes)) = source.held.front() else {
            break;
        };
        let rest = &bytes[source.written..];
        match stream.write(rest) {
            Ok(n) if n == rest.len() => {
                source.held.pop_front();
                source.written = 0;
            }
            Ok(n) => {
                source.written += n;
                return Err(true);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(true),
            Err(_) => return Err(false),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    /// A relay on a free port in front of `target`, in a thread of its own.
    fn relay_to(target: SocketAddr, delay: Duration) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                thread::spawn(move || relay(client, target, delay));
            }
        });
        addr
    }

    /// An echo server on a free port.
    fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || {
                    let mut read = stream.try_clone().unwrap();
                    let mut write = stream;
                    let _ = io::copy(&mut read, &mut write);
                    let _ = write.shutdown(Shutdown::Write);
                });
            }
        });
        addr
    }

    #[test]
    fn a_round_trip_costs_twice_the_delay() {
        let delay = Duration::from_millis(5);
        let mut stream = TcpStream::connect(relay_to(echo(), delay)).unwrap();
        stream.set_nodelay(true).unwrap();
        for _ in 0..5 {
            let started = Instant::now();
            stream.write_all(b"ping").unwrap();
            let mut answer = [0u8; 4];
            stream.read_exact(&mut answer).unwrap();
            let took = started.elapsed();
            assert_eq!(&answer, b"ping");
            assert!(
                took >= 2 * delay,
                "a round trip took {took:?}, under twice {delay:?}"
            );
            assert!(
                took < 2 * delay + Duration::from_millis(40),
                "a round trip took {took:?}"
            );
        }
    }

    #[test]
    fn megabytes_both_ways_at_once_arrive_whole_and_in_order() {
        // Larger than MAX_HELD and than the sockets' buffers: the relay must
        // keep reading one side while it waits to write the other.
        let mut stream = TcpStream::connect(relay_to(echo(), Duration::from_micros(500))).unwrap();
        let sent: Vec<u8> = (0..24u32 << 20).map(|i| (i * 7 % 251) as u8).collect();
        let mut writer = stream.try_clone().unwrap();
        let payload = sent.clone();
        let sending = thread::spawn(move || {
            writer.write_all(&payload).unwrap();
            writer.shutdown(Shutdown::Write).unwrap();
        });
        let mut received = Vec::with_capacity(sent.len());
        stream.read_to_end(&mut received).unwrap();
        sending.join().unwrap();
        assert_eq!(received.len(), sent.len());
        assert!(
            received == sent,
            "the echoed bytes differ from the bytes sent"
        );
    }
}
