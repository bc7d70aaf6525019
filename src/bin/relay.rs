//! A TCP relay that adds a fixed delay to every byte in both directions: the
//! cluster script's stand-in for `tc netem` on kernels built without it
//! (`CONFIG_NET_SCH_NETEM` unset, as on the machines this project is measured
//! on). Each direction of each connection is a reader thread that stamps what
//! it reads and a writer thread that holds it until the stamp plus the delay:
//! a round trip through the relay costs twice the delay, as a link with that
//! one-way latency would, whatever the traffic's rhythm. Threads rather than
//! an async runtime because tokio's timer rounds up to whole milliseconds.
//!
//! ```text
//! orders-flow-relay LISTEN_ADDR TARGET_ADDR ONE_WAY_DELAY_MICROSECONDS
//! ```
//!
//! It ends when its listening socket fails or it is killed; a connection ends
//! when either side closes it.

use std::{
    io::{self, Read, Write},
    net::{Shutdown, SocketAddr, TcpListener, TcpStream},
    process::ExitCode,
    sync::mpsc,
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
    }
    let (client_in, server_in) = (client.try_clone()?, server.try_clone()?);
    let up = thread::spawn(move || pipe(client_in, server, delay));
    pipe(server_in, client, delay);
    let _ = up.join();
    Ok(())
}

/// Copies `from` to `to`, each read released `delay` after it arrived.
fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (sender, receiver) = mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = thread::spawn(move || {
        for (due, bytes) in receiver {
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        // The reader saw the end (or the peer failed): pass the end on.
        let _ = to.shutdown(Shutdown::Write);
    });
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if sender
                    .send((Instant::now() + delay, buffer[..n].to_vec()))
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    drop(sender);
    let _ = writer.join();
    let _ = from.shutdown(Shutdown::Read);
}
