//! The wire screen: request heads checked before actix-http's dispatcher sees them.
//!
//! actix-http answers a head it cannot parse (a target past its URI limit, a head past its
//! buffer, a malformed header line, a head that never finishes) with a bodiless 400, 408 or
//! 431 of its own, and has no hook to change that. So each connection's reads pass through
//! [`Screened`], which runs actix-http's own decoder over the same bytes one step ahead of
//! the dispatcher and hands over only what that decoder accepted. A head it refuses is
//! withheld: the dispatcher sees the client's end of stream, finishes what it was
//! answering, and the refusal goes out as problem+json when the connection is shut down.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use actix_codec::Decoder;
use actix_http::error::ParseError;
use actix_http::h1::{Codec, Message};
use actix_http::ServiceConfig;
use actix_web::http::StatusCode;
use actix_web::web::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{sleep, Sleep};

use crate::error::{AppError, PROBLEM_JSON};
use crate::http::request_id::{next_id, MAX_URI_BYTES};

/// How the screen treats each connection.
#[derive(Debug, Clone, Copy)]
pub struct WireLimits {
    /// How long a client may take to send a whole request head once it has started one
    /// (and, for the first request, once it has connected).
    pub head_timeout: Duration,
}

/// What the screen is doing with the bytes that come after the ones handed over.
enum Screen {
    /// Decoding ahead of the dispatcher.
    Decoding,
    /// Handing over what is held: the client has finished sending.
    PassingThrough,
    /// A head was refused: the dispatcher gets end of stream; this answer goes out at
    /// shutdown (none when the client simply went quiet before asking anything).
    Refused,
}

/// A connection whose request heads are screened before the HTTP dispatcher reads them.
pub struct Screened<T> {
    io: T,
    codec: Codec,
    /// Received and not yet handed over.
    held: BytesMut,
    /// The tail of `held` the decoder has not accepted yet.
    undecoded: BytesMut,
    screen: Screen,
    limits: WireLimits,
    /// Set while a head is arriving (or, on a new connection, awaited).
    head_deadline: Option<Pin<Box<Sleep>>>,
    /// Between requests: the next byte starts a head.
    awaiting_head: bool,
    answer: Option<Bytes>,
}

impl<T> Screened<T> {
    /// Screens `io` with a decoder configured by `config` (one per worker: each keeps a
    /// clock task); the first head is due within `limits.head_timeout`.
    pub fn new(io: T, config: ServiceConfig, limits: WireLimits) -> Self {
        Screened {
            io,
            codec: Codec::new(config),
            held: BytesMut::new(),
            undecoded: BytesMut::new(),
            screen: Screen::Decoding,
            limits,
            head_deadline: Some(Box::pin(sleep(limits.head_timeout))),
            awaiting_head: true,
            answer: None,
        }
    }

    /// Runs the decoder over what arrived; on a refusal, prepares the answer.
    fn decode(&mut self) {
        while let Screen::Decoding = self.screen {
            if self.undecoded.is_empty() {
                return;
            }
            if self.awaiting_head && self.head_deadline.is_none() {
                self.head_deadline = Some(Box::pin(sleep(self.limits.head_timeout)));
            }
            if self.awaiting_head {
                if let Some(length) = plain_head(&self.undecoded) {
                    self.undecoded.advance(length);
                    self.head_deadline = None;
                    continue;
                }
            }
            let before = self.undecoded.len();
            match self.codec.decode(&mut self.undecoded) {
                Ok(Some(Message::Item(_))) => {
                    self.head_deadline = None;
                    self.awaiting_head =
                        self.codec.message_type() == actix_http::h1::MessageType::None;
                }
                Ok(Some(Message::Chunk(None))) => self.awaiting_head = true,
                Ok(Some(Message::Chunk(Some(_)))) => {}
                Ok(None) if self.undecoded.len() == before => return,
                Ok(None) => {}
                Err(error) => {
                    // The decoder may have split the head off before refusing it.
                    let refused = self.held.len() - before;
                    let refusal = refusal_for(&error, &self.held[refused..]);
                    self.undecoded = BytesMut::from(&self.held[refused..]);
                    self.refuse(Some(refusal));
                }
            }
        }
    }

    fn refuse(&mut self, refusal: Option<AppError>) {
        if let Some(refusal) = refusal {
            tracing::info!(
                status = refusal.problem().status,
                detail = %refusal,
                "request refused by the HTTP parser"
            );
            self.answer = Some(answer(&refusal));
        }
        // What the decoder had not accepted is never handed over.
        let accepted = self.held.len() - self.undecoded.len();
        self.held.truncate(accepted);
        self.undecoded.clear();
        self.head_deadline = None;
        self.screen = Screen::Refused;
    }

    /// Bytes the dispatcher may read now.
    fn releasable(&self) -> usize {
        match self.screen {
            Screen::PassingThrough => self.held.len(),
            _ => self.held.len() - self.undecoded.len(),
        }
    }

    /// The head timer ran out: a client that started a head and did not finish it is told so.
    fn poll_head_deadline(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.head_deadline.as_mut() else {
            return false;
        };
        if deadline.as_mut().poll(cx).is_pending() {
            return false;
        }
        let started = !self.undecoded.is_empty();
        self.refuse(started.then(|| {
            AppError::RequestTimeout(format!(
                "the request head did not arrive within {} ms",
                self.limits.head_timeout.as_millis()
            ))
        }));
        true
    }
}

/// The length of a whole head that actix-http's decoder accepts as it stands and that
/// carries no body: a GET or HEAD without framing or upgrade headers, the public reads
/// that are nearly all the traffic. Checking these by actix-http's rules, without
/// building the request it would build, keeps the screen's cost off the read path;
/// every other head goes through the decoder itself.
fn plain_head(bytes: &[u8]) -> Option<usize> {
    let mut headers = [httparse::EMPTY_HEADER; 96];
    let mut request = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(length) = request.parse(bytes).ok()? else {
        return None;
    };
    if !matches!(request.method, Some("GET" | "HEAD")) {
        return None;
    }
    let mut hosts = 0;
    for header in request.headers.iter() {
        let name = header.name;
        let named = |other: &str| name.eq_ignore_ascii_case(other);
        if named("content-length") || named("transfer-encoding") || named("upgrade") {
            return None;
        }
        if named("connection")
            && header
                .value
                .windows(7)
                .any(|w| w.eq_ignore_ascii_case(b"upgrade"))
        {
            return None;
        }
        hosts += usize::from(named("host"));
    }
    let host_ok = match request.version {
        Some(1) => hosts == 1,
        _ => hosts <= 1,
    };
    (host_ok && actix_web::http::Uri::try_from(request.path?).is_ok()).then_some(length)
}

/// The problem for a head actix-http's decoder refused.
fn refusal_for(error: &ParseError, undecoded: &[u8]) -> AppError {
    let request_line = undecoded.split(|&b| b == b'\n').next().unwrap_or_default();
    let target_len = request_line
        .split(|&b| b == b' ')
        .nth(1)
        .map_or(0, <[u8]>::len);
    let line_unfinished = !undecoded.contains(&b'\n');
    match error {
        _ if target_len > MAX_URI_BYTES || (line_unfinished && undecoded.len() > MAX_URI_BYTES) => {
            AppError::UriTooLong(format!(
                "the request target is over {MAX_URI_BYTES} bytes; at most {MAX_URI_BYTES} are accepted"
            ))
        }
        ParseError::TooLarge => AppError::HeadTooLarge(
            "the request head (request line and header fields) is too large".into(),
        ),
        ParseError::Uri(uri) => {
            AppError::BadRequest(format!("the request target is not a valid URI: {uri}"))
        }
        ParseError::Method => AppError::BadRequest("the request method is not a valid token".into()),
        ParseError::Version => {
            AppError::BadRequest("the request line does not end in HTTP/1.0 or HTTP/1.1".into())
        }
        ParseError::Header => AppError::BadRequest(
            "the request line or a header field is malformed, or the body's framing \
             (Content-Length, Transfer-Encoding) is invalid".into(),
        ),
        other => AppError::BadRequest(format!("the request cannot be parsed: {other}")),
    }
}

/// A whole HTTP/1.1 response carrying `refusal` as problem+json; the connection closes after.
fn answer(refusal: &AppError) -> Bytes {
    let body = serde_json::to_vec(&refusal.problem()).unwrap_or_default();
    let status = StatusCode::from_u16(refusal.problem().status).unwrap_or(StatusCode::BAD_REQUEST);
    let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT");
    let mut bytes = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {PROBLEM_JSON}\r\ncontent-length: {}\r\n\
         connection: close\r\nx-request-id: {}\r\ndate: {date}\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len(),
        next_id(),
    )
    .into_bytes();
    bytes.extend_from_slice(&body);
    Bytes::from(bytes)
}

impl<T: AsyncRead + Unpin> AsyncRead for Screened<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let releasable = this.releasable();
            if releasable > 0 {
                let n = releasable.min(buf.remaining());
                buf.put_slice(&this.held[..n]);
                this.held.advance(n);
                return Poll::Ready(Ok(()));
            }
            match this.screen {
                // The end of stream the dispatcher answers by shutting down.
                Screen::Refused => return Poll::Ready(Ok(())),
                Screen::PassingThrough => return Pin::new(&mut this.io).poll_read(cx, buf),
                Screen::Decoding => {}
            }
            if this.held.capacity() - this.held.len() < 1024 {
                this.held.reserve(8 * 1024);
            }
            match tokio_util::io::poll_read_buf(Pin::new(&mut this.io), cx, &mut this.held) {
                Poll::Ready(Ok(0)) => {
                    // The client finished sending: hand over what is held and let the
                    // dispatcher see the end of stream as it would have.
                    this.screen = Screen::PassingThrough;
                    this.head_deadline = None;
                    if this.held.is_empty() {
                        return Poll::Ready(Ok(()));
                    }
                }
                Poll::Ready(Ok(read)) => {
                    let arrived = this.held.len() - read;
                    this.undecoded.extend_from_slice(&this.held[arrived..]);
                    this.decode();
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => {
                    if !this.poll_head_deadline(cx) {
                        return Poll::Pending;
                    }
                }
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Screened<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while let Some(answer) = this.answer.as_mut() {
            if answer.is_empty() {
                this.answer = None;
                break;
            }
            let written = ready!(Pin::new(&mut this.io).poll_write(cx, answer))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            answer.advance(written);
        }
        ready!(Pin::new(&mut this.io).poll_flush(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the decoder as the screen does: over bytes arriving a read at a time.
    fn refusal(bytes: &[u8]) -> Option<AppError> {
        let mut codec = Codec::new(ServiceConfig::default());
        let mut src = BytesMut::new();
        for read in bytes.chunks(8 * 1024) {
            src.extend_from_slice(read);
            loop {
                let before = src.clone();
                match codec.decode(&mut src) {
                    Err(error) => return Some(refusal_for(&error, &before)),
                    Ok(None) if src.len() == before.len() => break,
                    Ok(_) => {}
                }
            }
        }
        None
    }

    #[actix_rt::test]
    async fn the_fast_path_takes_only_heads_the_decoder_accepts_without_a_body() {
        let plain = [
            &b"GET /public/v1/counties HTTP/1.1\r\nhost: x\r\naccept: */*\r\n\r\n"[..],
            b"HEAD / HTTP/1.0\r\n\r\n",
        ];
        for head in plain {
            assert_eq!(plain_head(head), Some(head.len()));
            assert!(refusal(head).is_none());
        }
        let not_plain = [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n",
            b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n",
            b"GET / HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc",
            b"GET / HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n",
            b"GET / HTTP/1.1\r\nhost: x\r\n",
        ];
        for head in not_plain {
            assert_eq!(plain_head(head), None, "{:?}", std::str::from_utf8(head));
        }
        // Whatever the fast path takes, the decoder takes too.
        for head in [
            &b"GET /a{b}?c=|d HTTP/1.1\r\nhost: x\r\n\r\n"[..],
            b"GET * HTTP/1.1\r\nhost: x\r\n\r\n",
        ] {
            if plain_head(head).is_some() {
                assert!(refusal(head).is_none());
            }
        }
    }

    #[actix_rt::test]
    async fn a_well_formed_head_is_not_refused() {
        assert!(refusal(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").is_none());
    }

    #[actix_rt::test]
    async fn each_kind_of_bad_head_has_its_own_problem() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(70_000));
        assert!(matches!(
            refusal(long.as_bytes()),
            Some(AppError::UriTooLong(_))
        ));
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            (0..200)
                .map(|i| format!("x-h{i}: v\r\n"))
                .collect::<String>()
        );
        assert!(matches!(
            refusal(many.as_bytes()),
            Some(AppError::HeadTooLarge(_))
        ));
        let huge = format!("GET / HTTP/1.1\r\nx-big: {}\r\n\r\n", "v".repeat(140_000));
        assert!(matches!(
            refusal(huge.as_bytes()),
            Some(AppError::HeadTooLarge(_))
        ));
        for bad in [
            &b"GET / HTTP/1.1\r\nbad header\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\ncontent-length: ten\r\n\r\n",
            b"G@T / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/3.0\r\n\r\n",
        ] {
            assert!(
                matches!(refusal(bad), Some(AppError::BadRequest(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_answer_is_a_whole_problem_response() {
        let bytes = answer(&AppError::HeadTooLarge("too large".into()));
        let text = std::str::from_utf8(&bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())));
        assert!(head.contains("content-type: application/problem+json"));
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], 431);
    }
}
