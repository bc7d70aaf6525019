//! A real SMTP server on loopback that keeps what it receives: the mailer under
//! test speaks the actual protocol over TCP, nothing is stubbed.
//!
//! It can refuse (554) the next N `MAIL FROM` or `DATA`, and it can hold a
//! message after `DATA` until released, to catch a delivery in the middle.
use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use loco_rs::config::Config;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::Semaphore,
    task::JoinHandle,
};

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body, dot-stuffing undone, CRLF line ends.
    pub data: String,
}

impl Received {
    /// The message with folded header lines joined, for plain substring checks.
    pub fn unfolded(&self) -> String {
        self.data.replace("\r\n ", " ").replace("\r\n\t", " ")
    }
}

#[derive(Default)]
struct State {
    received: Mutex<Vec<Received>>,
    mail_from_seen: AtomicUsize,
    reject_mail_from: AtomicUsize,
    reject_data: AtomicUsize,
    in_data: AtomicUsize,
    /// Set: every message waits for a permit after its data, before the reply.
    hold: Mutex<Option<Arc<Semaphore>>>,
}

pub struct SmtpSink {
    addr: SocketAddr,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

impl SmtpSink {
    /// Listens on 127.0.0.1 on a free port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind sink");
        let addr = listener.local_addr().expect("sink address");
        let state = Arc::new(State::default());
        let accept = tokio::spawn({
            let state = state.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(session(stream, state.clone()));
                }
            }
        });
        Self {
            addr,
            state,
            accept,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Points the app's mailer at this server (real SMTP, not Loco's stub) and
    /// turns the email channel on.
    pub fn configure(&self, config: &mut Config) {
        let mailer = config.mailer.as_mut().expect("mailer block");
        mailer.stub = false;
        let smtp = mailer.smtp.as_mut().expect("mailer.smtp block");
        smtp.enable = true;
        smtp.host = self.addr.ip().to_string();
        smtp.port = self.port();
        smtp.secure = false;
        smtp.tls = None;
        smtp.auth = None;
        let settings = config.settings.as_mut().expect("settings block");
        settings["notifications"]["email_enabled"] = serde_json::json!(true);
    }

    pub fn messages(&self) -> Vec<Received> {
        self.state.received.lock().expect("sink lock").clone()
    }

    /// `MAIL FROM` commands seen, accepted or not: one per delivery attempt.
    pub fn attempts(&self) -> usize {
        self.state.mail_from_seen.load(Ordering::SeqCst)
    }

    /// Answers 554 to the next `n` `MAIL FROM` (`usize::MAX`: always).
    pub fn reject_mail_from(&self, n: usize) {
        self.state.reject_mail_from.store(n, Ordering::SeqCst);
    }

    /// Takes the next `n` messages' data, then answers 554 (`usize::MAX`: always).
    pub fn reject_data(&self, n: usize) {
        self.state.reject_data.store(n, Ordering::SeqCst);
    }

    /// From now on each message waits after its data until the returned gate is
    /// closed (`gate.close()` lets every held and later message through).
    pub fn hold_messages(&self) -> Arc<Semaphore> {
        let gate = Arc::new(Semaphore::new(0));
        *self.state.hold.lock().expect("sink lock") = Some(gate.clone());
        gate
    }

    /// Messages currently held between their data and the reply.
    pub fn held(&self) -> usize {
        self.state.in_data.load(Ordering::SeqCst)
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Takes one from a "next n" counter; `usize::MAX` never runs out.
fn take(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| match n {
            0 => None,
            usize::MAX => Some(usize::MAX),
            n => Some(n - 1),
        })
        .is_ok()
}

async fn session(stream: TcpStream, state: Arc<State>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink.test greets you\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n",
            "HELO" | "NOOP" => b"250 ok\r\n",
            "RSET" => {
                (from, to) = (String::new(), Vec::new());
                b"250 ok\r\n"
            }
            "MAIL" => {
                state.mail_from_seen.fetch_add(1, Ordering::SeqCst);
                if take(&state.reject_mail_from) {
                    b"554 5.7.1 sender rejected by the test sink\r\n"
                } else {
                    from = command;
                    b"250 ok\r\n"
                }
            }
            "RCPT" => {
                to.push(command);
                b"250 ok\r\n"
            }
            "DATA" => {
                write
                    .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let data = read_data(&mut lines).await?;
                let gate = state.hold.lock().expect("sink lock").clone();
                if let Some(gate) = gate {
                    state.in_data.fetch_add(1, Ordering::SeqCst);
                    let _permit = gate.acquire().await;
                    state.in_data.fetch_sub(1, Ordering::SeqCst);
                }
                if take(&state.reject_data) {
                    b"554 5.6.0 message rejected by the test sink\r\n"
                } else {
                    state.received.lock().expect("sink lock").push(Received {
                        from: std::mem::take(&mut from),
                        to: std::mem::take(&mut to),
                        data,
                    });
                    b"250 2.0.0 queued\r\n"
                }
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.2 command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// Reads the message up to the lone `.` line, undoing dot-stuffing.
async fn read_data<R: AsyncBufReadExt + Unpin>(lines: &mut R) -> std::io::Result<String> {
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(data);
        }
        if line == ".\r\n" || line == ".\n" {
            return Ok(data);
        }
        data.push_str(line.strip_prefix('.').unwrap_or(&line));
    }
}

/// An app mailing to `sink`, notification jobs retried `retries` times 10 ms apart.
pub async fn app_mailing_to(sink: &SmtpSink, retries: usize) -> super::TestApp {
    super::TestApp::boot_config(|config| {
        sink.configure(config);
        config.settings.as_mut().expect("settings")["queues"]["notifications"] = serde_json::json!(
            { "concurrency": 4, "retries": retries, "backoff_ms": 10, "timeout_secs": 5 }
        );
    })
    .await
}
