//! The HTTP/1.1 load client.

use super::*;

// ----------------------------------------------------------------------------------------
// The load generator: raw HTTP/1.1 keep-alive connections on tokio
// ----------------------------------------------------------------------------------------

/// What a run observed.
#[derive(Default)]
pub(crate) struct Raw {
    pub(crate) latencies_us: Vec<u32>,
    pub(crate) statuses: BTreeMap<u16, u64>,
    pub(crate) io_errors: u64,
    pub(crate) bytes: u64,
    pub(crate) elapsed: f64,
    /// Open loop only: when (seconds after the start) each answer slower than
    /// `SLOW_MS` was due, and its latency, to tell a few pauses from a spread-out tail.
    pub(crate) slow: Vec<(f64, u32)>,
}

/// An open-loop answer slower than this goes on the `slow` timeline.
pub(crate) const SLOW_MS: u32 = 10;

impl Raw {
    pub(crate) fn record(&mut self, latency: Duration, outcome: &io::Result<(u16, u64)>) {
        match outcome {
            Ok((status, bytes)) => {
                self.latencies_us
                    .push(latency.as_micros().min(u32::MAX as u128) as u32);
                *self.statuses.entry(*status).or_default() += 1;
                self.bytes += bytes;
            }
            Err(_) => self.io_errors += 1,
        }
    }

    pub(crate) fn merge(&mut self, other: Raw) {
        self.latencies_us.extend(other.latencies_us);
        self.slow.extend(other.slow);
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.io_errors += other.io_errors;
        self.bytes += other.bytes;
    }

    /// Rounds of one scenario as one: their answers, time and the mean of their usage.
    pub(crate) fn combine(rounds: Vec<(Raw, Usage)>) -> (Raw, Usage) {
        let count = rounds.len().max(1) as f64;
        let mean = |pick: &dyn Fn(&Usage) -> Option<f64>, rounds: &[(Raw, Usage)]| {
            rounds
                .iter()
                .map(|(_, u)| pick(u))
                .sum::<Option<f64>>()
                .map(|total| total / count)
        };
        let usage = Usage {
            server_cpu: mean(&|u| u.server_cpu, &rounds),
            client_cpu: mean(&|u| u.client_cpu, &rounds),
            other_cpu: mean(&|u| u.other_cpu, &rounds),
            rss_max_kb: rounds.iter().map(|(_, u)| u.rss_max_kb).max().unwrap_or(0),
            settled: (
                rounds.iter().map(|(_, u)| u.settled.0).sum(),
                rounds.iter().map(|(_, u)| u.settled.1).fold(0.0, f64::max),
            ),
        };
        let mut raw = Raw::default();
        for (round, _) in rounds {
            raw.elapsed += round.elapsed;
            raw.merge(round);
        }
        (raw, usage)
    }

    pub(crate) fn errors(&self) -> u64 {
        self.io_errors
            + self
                .statuses
                .iter()
                .filter(|(s, _)| !((200..300).contains(*s) || **s == 304))
                .map(|(_, n)| n)
                .sum::<u64>()
    }
}

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) length: Option<u64>,
    pub(crate) chunked: bool,
    pub(crate) close: bool,
}

pub(crate) fn parse_head(bytes: &[u8]) -> io::Result<Head> {
    let text = std::str::from_utf8(bytes).map_err(|_| invalid("response head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let mut head = Head {
        status,
        length: None,
        chunked: false,
        close: false,
    };
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                head.length = value.parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                head.chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                head.close = value.eq_ignore_ascii_case("close");
            }
        }
    }
    Ok(head)
}

/// One keep-alive connection: writes a prepared request, reads the answer's head and
/// discards its body (sized or chunked) through one reused buffer.
pub(crate) struct Conn {
    pub(crate) addr: SocketAddr,
    pub(crate) stream: Option<TcpStream>,
    pub(crate) buf: Vec<u8>,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Conn {
    pub(crate) fn new(addr: SocketAddr) -> Conn {
        Conn {
            addr,
            stream: None,
            buf: vec![0; 256 * 1024],
            start: 0,
            end: 0,
        }
    }

    /// Status and body length; on any failure the connection is dropped (and reopened
    /// by the next request).
    pub(crate) async fn exchange(&mut self, request: &[u8]) -> io::Result<(u16, u64)> {
        let result = match tokio::time::timeout(
            Duration::from_secs(60),
            self.exchange_once(request),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no answer within 60 s",
            )),
        };
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    pub(crate) async fn exchange_once(&mut self, request: &[u8]) -> io::Result<(u16, u64)> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
            self.start = 0;
            self.end = 0;
        }
        self.stream
            .as_mut()
            .expect("connected")
            .write_all(request)
            .await?;
        let head_end = loop {
            if let Some(at) = find(&self.buf[self.start..self.end], b"\r\n\r\n") {
                break self.start + at + 4;
            }
            self.fill().await?;
        };
        let head = parse_head(&self.buf[self.start..head_end])?;
        self.start = head_end;
        let body = if head.status < 200 || head.status == 204 || head.status == 304 {
            0
        } else if head.chunked {
            self.skip_chunked().await?
        } else if let Some(length) = head.length {
            self.skip(length).await?;
            length
        } else {
            let n = self.skip_to_end().await?;
            self.stream = None;
            n
        };
        if head.close {
            self.stream = None;
        }
        Ok((head.status, body))
    }

    pub(crate) async fn fill(&mut self) -> io::Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| invalid("not connected"))?;
        let n = stream.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        self.end += n;
        Ok(())
    }

    pub(crate) async fn skip(&mut self, n: u64) -> io::Result<()> {
        let mut remaining = n;
        loop {
            let available = (self.end - self.start) as u64;
            if available >= remaining {
                self.start += remaining as usize;
                return Ok(());
            }
            remaining -= available;
            self.start = 0;
            self.end = 0;
            self.fill().await?;
        }
    }

    pub(crate) async fn line(&mut self) -> io::Result<String> {
        loop {
            if let Some(at) = find(&self.buf[self.start..self.end], b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[self.start..self.start + at]);
                let line = line.into_owned();
                self.start += at + 2;
                return Ok(line);
            }
            self.fill().await?;
        }
    }

    pub(crate) async fn skip_chunked(&mut self) -> io::Result<u64> {
        let mut total = 0;
        loop {
            let line = self.line().await?;
            let size = u64::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| invalid("bad chunk size"))?;
            if size == 0 {
                while !self.line().await?.is_empty() {}
                return Ok(total);
            }
            self.skip(size + 2).await?;
            total += size;
        }
    }

    pub(crate) async fn skip_to_end(&mut self) -> io::Result<u64> {
        let mut total = (self.end - self.start) as u64;
        self.start = 0;
        self.end = 0;
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| invalid("not connected"))?;
        loop {
            match stream.read(&mut self.buf).await? {
                0 => return Ok(total),
                n => total += n as u64,
            }
        }
    }
}

/// Prepared requests, used round-robin by request number.
pub(crate) type Requests = Arc<Vec<Vec<u8>>>;

/// A closed loop: `connections` clients each send their next request when the last one
/// is answered, until `max` requests or `duration`, whichever comes first.
pub(crate) async fn closed_loop(
    addr: SocketAddr,
    requests: Requests,
    connections: usize,
    max: u64,
    duration: Duration,
) -> Raw {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (requests, next) = (requests.clone(), next.clone());
            tokio::spawn(async move {
                let mut conn = Conn::new(addr);
                let mut raw = Raw::default();
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= max {
                        break;
                    }
                    let request = &requests[(i % requests.len() as u64) as usize];
                    let sent = Instant::now();
                    let outcome = conn.exchange(request).await;
                    raw.record(sent.elapsed(), &outcome);
                    if outcome.is_err() {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                raw
            })
        })
        .collect();
    let mut total = Raw::default();
    for task in tasks {
        total.merge(task.await.expect("a load task"));
    }
    total.elapsed = started.elapsed().as_secs_f64();
    total
}

/// An open loop: request `i` is due at `i / rate` seconds; a free connection sends it
/// then, and its latency counts from when it was due (so a queue behind a slow answer
/// is measured, not hidden).
pub(crate) async fn open_loop(
    addr: SocketAddr,
    requests: Requests,
    connections: usize,
    rate: f64,
    count: u64,
) -> Raw {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now() + Duration::from_millis(50);
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (requests, next) = (requests.clone(), next.clone());
            tokio::spawn(async move {
                let mut conn = Conn::new(addr);
                let mut raw = Raw::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let due = started + Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
                    let request = &requests[(i % requests.len() as u64) as usize];
                    let outcome = conn.exchange(request).await;
                    let latency = due.elapsed();
                    if latency.as_millis() >= SLOW_MS as u128 {
                        let at = (due - started).as_secs_f64();
                        raw.slow.push((at, latency.as_micros() as u32));
                    }
                    raw.record(latency, &outcome);
                }
                raw
            })
        })
        .collect();
    let mut total = Raw::default();
    for task in tasks {
        total.merge(task.await.expect("a load task"));
    }
    total.elapsed = (Instant::now() - started).as_secs_f64();
    total
}

/// Groups a slow timeline into bursts: answers due within 100 ms of each other belong
/// to one. Each burst: when it began, how long it lasted, how many answers, the worst (ms).
pub(crate) fn bursts(slow: &[(f64, u32)]) -> Vec<(f64, f64, usize, f64)> {
    let mut sorted = slow.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, f64, usize, f64)> = Vec::new();
    for (at, us) in sorted {
        let ms = us as f64 / 1000.0;
        match out.last_mut() {
            Some(b) if at - (b.0 + b.1) < 0.1 => {
                b.1 = at - b.0;
                b.2 += 1;
                b.3 = b.3.max(ms);
            }
            _ => out.push((at, 0.0, 1, ms)),
        }
    }
    out
}

/// `drive ADDR PATH RATE SECONDS [CONNECTIONS]`: an open loop against a server already
/// running, from core 1; prints the latency percentiles and the bursts of slow answers.
pub(crate) fn drive(args: &[String]) {
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (_, pinning) = pin_self(nproc);
    let arg = |i: usize, name: &str| -> String {
        args.get(i)
            .cloned()
            .unwrap_or_else(|| panic!("drive ADDR PATH RATE SECONDS [CONNECTIONS]: no {name}"))
    };
    let addr: SocketAddr = arg(0, "ADDR").parse().expect("ADDR as 127.0.0.1:PORT");
    let path = arg(1, "PATH");
    let rate: f64 = arg(2, "RATE").parse().expect("RATE in requests/s");
    let seconds: f64 = arg(3, "SECONDS").parse().expect("SECONDS");
    let connections: usize = args.get(4).map_or(32, |c| c.parse().expect("CONNECTIONS"));
    let rt = load_runtime();
    let requests: Requests = Arc::new(vec![get(&addr.to_string(), &path, &[])]);
    let count = (rate * seconds) as u64;
    let mut raw = rt.block_on(open_loop(addr, requests, connections, rate, count));
    raw.latencies_us.sort_unstable();
    let l = &raw.latencies_us;
    println!(
        "{pinning}\n{} answers in {:.1} s ({:.0}/s), errors {}; p50 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} ms",
        l.len(),
        raw.elapsed,
        l.len() as f64 / raw.elapsed,
        raw.errors(),
        percentile(l, 0.5),
        percentile(l, 0.99),
        percentile(l, 0.999),
        l.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    for (at, lasted, n, worst) in bursts(&raw.slow) {
        println!(
            "  at {at:7.3} s for {:5.0} ms: {n:5} answers ≥ {SLOW_MS} ms, worst {worst:.1} ms",
            lasted * 1000.0
        );
    }
}

/// The load generator's runtime: one worker, on the core this process is pinned to.
pub(crate) fn load_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("the load generator's runtime")
}

/// An HTTP/1.1 request, ready to write.
pub(crate) fn request(
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in headers {
        let _ = write!(text, "{name}: {value}\r\n");
    }
    if let Some(body) = body {
        let _ = write!(
            text,
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    text.push_str("\r\n");
    let mut bytes = text.into_bytes();
    if let Some(body) = body {
        bytes.extend_from_slice(body);
    }
    bytes
}

pub(crate) fn get(host: &str, path: &str, headers: &[(&str, String)]) -> Vec<u8> {
    request("GET", host, path, headers, None)
}

/// Percent-encodes a query value (UTF-8).
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
