//! Expensive answers (diffs, statistics, exports, the audit check) under load: work that
//! is the same for every caller is made once and shared as bytes, and the rest is bounded,
//! so that a burst of anonymous requests neither multiplies memory nor starves `/healthz`.
//!
//! - [`SharedAnswers`]: answers about immutable things (a diff of two published editions
//!   or versions) rendered once, whoever asks and however many at once, kept within a
//!   budget and served with a strong `ETag`;
//! - [`Gates`]: at most a few renderings of each class at once; a request that cannot get
//!   in within the configured wait is a 503 with `Retry-After`;
//! - a few seconds after expensive work, freed memory goes back to the system (glibc keeps
//!   it in per-thread arenas otherwise; see [`release_freed_memory`]).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};
use tokio::sync::{OnceCell, Semaphore, SemaphorePermit};

use crate::config::LimitsConfig;
use crate::error::{AppError, AppResult};

/// Hands freed memory back to the system. glibc keeps freed blocks in per-thread arenas,
/// so after a burst of large answers resident memory would stay near its peak; trimming
/// costs a few milliseconds, so it runs on cold paths only (after a rendering, and every
/// few seconds after expensive work). A fixed `M_MMAP_THRESHOLD` bounded memory as well
/// but slowed the hot path, and another allocator is a dependency the measurements did
/// not ask for.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// A job for the threads that do expensive work.
type Job = Box<dyn FnOnce() + Send>;

/// Threads that do expensive work at a lower priority (nice 10) than the workers that
/// answer requests: on a small machine a burst of renderings then slows itself, not
/// `/healthz` and the published lists. One per place in every class, so a job never waits
/// for a thread, only for its gate.
struct Background(Mutex<std::sync::mpsc::Sender<Job>>);

impl Background {
    fn start(threads: usize) -> Background {
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads {
            let receiver = receiver.clone();
            let _ = std::thread::Builder::new()
                .name(format!("quanze-expensive-{n}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match receiver.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        // A job that panics loses its answer (its caller gets a 500), not
                        // the thread: the pool keeps its size.
                        match job {
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            Err(_) => return,
                        }
                    }
                });
        }
        Background(Mutex::new(sender))
    }

    /// Runs `work` on a background thread and waits for it without blocking the caller.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = answer.send(work());
        });
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .map_err(|_| AppError::Internal("the background threads are gone".into()))?;
        answered
            .await
            .map_err(|_| AppError::Internal("a background job was lost".into()))?
    }
}

/// Lowers the calling thread's scheduling priority (Linux keeps a nice value per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread's own id changes only its priority.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10);
    }
}

/// How many classes of expensive work there are.
const CLASSES: usize = 4;

/// A class of expensive work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkClass {
    /// Diffs of editions and versions.
    Diff,
    /// Statistics of rounds and lists.
    Statistics,
    /// CSV and JSON exports.
    Export,
    /// Walking the audit chain.
    AuditCheck,
}

impl WorkClass {
    fn describe(self) -> &'static str {
        match self {
            WorkClass::Diff => "diffs",
            WorkClass::Statistics => "statistics",
            WorkClass::Export => "exports",
            WorkClass::AuditCheck => "audit checks",
        }
    }
}

/// One class's bound.
struct Gate {
    slots: Semaphore,
}

/// The bounds of every class of expensive work.
pub struct Gates {
    diff: Gate,
    statistics: Gate,
    export: Gate,
    audit: Gate,
    wait: Duration,
    worked: Arc<AtomicBool>,
    background: Background,
}

/// A place in a class of expensive work.
pub struct Pass<'a> {
    _permit: SemaphorePermit<'a>,
    worked: &'a AtomicBool,
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.worked.store(true, Ordering::Relaxed);
    }
}

/// How often freed memory is handed back after expensive work: late enough that the
/// answers of a burst have been written and freed, soon enough that memory falls back
/// within seconds.
const TRIM_EVERY: Duration = Duration::from_secs(5);

impl Gates {
    /// Bounds from configuration.
    pub fn new(config: &LimitsConfig) -> Gates {
        let size = config.expensive_concurrency.max(1);
        let gate = || Gate {
            slots: Semaphore::new(size),
        };
        let worked = Arc::new(AtomicBool::new(false));
        let trimmer = Arc::downgrade(&worked);
        // One thread for the life of the gates: after expensive work, return what it freed.
        let _ = std::thread::Builder::new()
            .name("quanze-trim".into())
            .spawn(move || loop {
                std::thread::sleep(TRIM_EVERY);
                let Some(worked) = trimmer.upgrade() else {
                    return;
                };
                if worked.swap(false, Ordering::Relaxed) {
                    release_freed_memory();
                }
            });
        Gates {
            diff: gate(),
            statistics: gate(),
            export: gate(),
            audit: gate(),
            wait: Duration::from_millis(config.expensive_wait_ms),
            worked,
            background: Background::start(size * CLASSES),
        }
    }

    /// A place in `class`, waiting at most the configured time; 503 with `Retry-After`
    /// when none comes free.
    pub async fn enter(&self, class: WorkClass) -> AppResult<Pass<'_>> {
        let gate = match class {
            WorkClass::Diff => &self.diff,
            WorkClass::Statistics => &self.statistics,
            WorkClass::Export => &self.export,
            WorkClass::AuditCheck => &self.audit,
        };
        match tokio::time::timeout(self.wait, gate.slots.acquire()).await {
            Ok(Ok(permit)) => Ok(Pass {
                _permit: permit,
                worked: &self.worked,
            }),
            _ => Err(AppError::Overloaded(format!(
                "too many {} are being made right now; retry shortly",
                class.describe()
            ))),
        }
    }

    /// Runs blocking `work` (a database read, a rendering) holding a place in `class`, on
    /// a thread of lower priority than the request workers.
    pub async fn run<T: Send + 'static>(
        &self,
        class: WorkClass,
        work: impl FnOnce() -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        let _pass = self.enter(class).await?;
        self.background.run(work).await
    }
}

/// An answer rendered once and shared.
pub struct SharedAnswer {
    /// The JSON bytes.
    pub bytes: Bytes,
    /// Their strong `ETag` (SHA-256).
    pub etag: HeaderValue,
}

type Slot = Arc<OnceCell<Arc<SharedAnswer>>>;

#[derive(Default)]
struct Shared {
    slots: HashMap<String, Slot>,
    arrival: VecDeque<(String, usize)>,
    bytes: usize,
}

/// Answers about immutable things, rendered once per key and kept within a budget.
pub struct SharedAnswers {
    held: Mutex<Shared>,
    budget: usize,
}

impl SharedAnswers {
    /// A cache of at most `budget` bytes.
    pub fn new(budget: usize) -> SharedAnswers {
        SharedAnswers {
            held: Mutex::new(Shared::default()),
            budget,
        }
    }

    /// The answer for `key` if it has been rendered: answers are kept only about things
    /// that never change and that anyone may read, so a hit needs no database at all.
    pub fn ready(&self, key: &str) -> Option<Arc<SharedAnswer>> {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.slots.get(key)?.get().cloned()
    }

    /// The answer for `key`, rendered by `render` (on a blocking thread, holding a place in
    /// `class`) if no one has; concurrent callers for one key wait for its one rendering.
    pub async fn get_or_render(
        &self,
        gates: &Gates,
        class: WorkClass,
        key: String,
        render: impl FnOnce() -> AppResult<Vec<u8>> + Send + 'static,
    ) -> AppResult<Arc<SharedAnswer>> {
        let slot = {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            held.slots.entry(key.clone()).or_default().clone()
        };
        let rendered = AtomicBool::new(false);
        let answer = slot
            .get_or_try_init(|| async {
                rendered.store(true, Ordering::Relaxed);
                let bytes = gates.run(class, render).await?;
                let etag = format!("\"{}\"", hex::encode(Sha256::digest(&bytes)));
                Ok::<_, AppError>(Arc::new(SharedAnswer {
                    bytes: Bytes::from(bytes),
                    etag: HeaderValue::try_from(etag).expect("a quoted hash is a header value"),
                }))
            })
            .await;
        let answer = match answer {
            Ok(answer) => answer.clone(),
            Err(error) => {
                // A failure is not kept: the next caller tries again.
                self.forget(&key, &slot);
                return Err(error);
            }
        };
        if rendered.load(Ordering::Relaxed) {
            self.account(key, &slot, answer.bytes.len());
        }
        Ok(answer)
    }

    fn forget(&self, key: &str, slot: &Slot) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.slots.get(key).is_some_and(|s| Arc::ptr_eq(s, slot)) && slot.get().is_none() {
            held.slots.remove(key);
        }
    }

    /// Counts a newly rendered answer against the budget, letting the oldest go.
    fn account(&self, key: String, slot: &Slot, size: usize) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if !held.slots.get(&key).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            return;
        }
        while held.bytes + size > self.budget {
            let Some((oldest, weight)) = held.arrival.pop_front() else {
                break;
            };
            held.slots.remove(&oldest);
            held.bytes -= weight;
        }
        if size > self.budget {
            held.slots.remove(&key);
            return;
        }
        held.bytes += size;
        held.arrival.push_back((key, size));
    }
}

/// Shared bytes as a response body, handed to the connection a slice at a time. The
/// HTTP layer copies each chunk it is given into the connection's write buffer; given a
/// shared answer of megabytes whole, a thousand slow readers would each hold a private
/// copy of it. Given slices of it, each holds only what its socket has not yet taken.
pub struct SharedBody(Bytes);

/// The slice a [`SharedBody`] hands over at a time.
const SHARED_CHUNK: usize = 64 * 1024;

impl SharedBody {
    /// The body of `bytes`.
    pub fn new(bytes: Bytes) -> SharedBody {
        SharedBody(bytes)
    }
}

impl MessageBody for SharedBody {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.0.len() as u64)
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        if self.0.is_empty() {
            return Poll::Ready(None);
        }
        let take = self.0.len().min(SHARED_CHUNK);
        Poll::Ready(Some(Ok(self.0.split_to(take))))
    }

    fn try_into_bytes(self) -> Result<Bytes, Self> {
        if self.0.len() <= SHARED_CHUNK {
            Ok(self.0)
        } else {
            Err(self)
        }
    }
}

/// Whether the request already holds the representation tagged `etag` (`If-None-Match`,
/// weak and `*` forms too), compared as bytes.
pub fn not_modified(headers: &header::HeaderMap, etag: &HeaderValue) -> bool {
    let etag = etag.as_bytes();
    headers
        .get_all(header::IF_NONE_MATCH)
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(|t| t.trim_ascii())
        .map(|t| t.strip_prefix(b"W/").unwrap_or(t))
        .any(|t| t == b"*" || t == etag)
}

/// A shared answer as JSON: 304 when the client holds it.
pub fn shared_json(
    req: &HttpRequest,
    answer: &SharedAnswer,
    cache_control: &'static str,
) -> HttpResponse {
    let fresh = not_modified(req.headers(), &answer.etag);
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, answer.etag.clone()))
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        ));
    if fresh {
        return response.finish();
    }
    response
        .content_type("application/json")
        .body(SharedBody::new(answer.bytes.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn limits(concurrency: usize, wait_ms: u64) -> LimitsConfig {
        LimitsConfig {
            expensive_concurrency: concurrency,
            expensive_wait_ms: wait_ms,
            shared_answer_bytes: 1000,
        }
    }

    #[actix_web::test]
    async fn an_answer_is_rendered_once_for_many_concurrent_callers() {
        static RENDERED: AtomicUsize = AtomicUsize::new(0);
        let (gates, answers) = (Gates::new(&limits(2, 1000)), SharedAnswers::new(1000));
        let ask = || {
            answers.get_or_render(&gates, WorkClass::Diff, "a".into(), || {
                RENDERED.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
                Ok(b"{\"x\":1}".to_vec())
            })
        };
        let all = futures_util::future::join_all((0..20).map(|_| ask())).await;
        assert!(all.iter().all(|a| a.as_ref().unwrap().bytes == "{\"x\":1}"));
        assert_eq!(RENDERED.load(Ordering::SeqCst), 1);
    }

    #[actix_web::test]
    async fn the_budget_lets_the_oldest_answer_go_and_a_failure_is_not_kept() {
        let (gates, answers) = (Gates::new(&limits(2, 1000)), SharedAnswers::new(1000));
        let render = |size: usize| move || Ok(vec![b' '; size]);
        for key in ["a", "b", "c"] {
            answers
                .get_or_render(&gates, WorkClass::Diff, key.into(), render(400))
                .await
                .unwrap();
        }
        let held = |key: &str| answers.held.lock().unwrap().slots.contains_key(key);
        assert!(!held("a") && held("b") && held("c"));
        let failed = answers
            .get_or_render(&gates, WorkClass::Diff, "d".into(), || {
                Err(AppError::NotFound("no such edition".into()))
            })
            .await;
        assert!(failed.is_err() && !held("d"));
    }

    #[actix_web::test]
    async fn a_shared_body_is_handed_over_in_slices_of_the_same_bytes() {
        let bytes = Bytes::from(vec![7u8; SHARED_CHUNK * 2 + 5]);
        let body = SharedBody::new(bytes.clone());
        assert_eq!(body.size(), BodySize::Sized(bytes.len() as u64));
        let collected = actix_web::body::to_bytes(body).await.unwrap();
        assert_eq!(collected, bytes);
        let small = SharedBody::new(Bytes::from_static(b"{}"));
        assert_eq!(small.try_into_bytes().ok().unwrap(), "{}");
    }

    #[actix_web::test]
    async fn a_panicking_job_fails_its_caller_and_keeps_the_thread() {
        let gates = Gates::new(&limits(1, 1000));
        for _ in 0..CLASSES + 2 {
            let lost = gates
                .run(WorkClass::Export, || -> AppResult<()> { panic!("a bug") })
                .await;
            assert!(lost.is_err());
        }
        assert_eq!(gates.run(WorkClass::Export, || Ok(7)).await.unwrap(), 7);
    }

    #[actix_web::test]
    async fn a_full_class_answers_503_after_the_wait() {
        let gates = Gates::new(&limits(1, 20));
        let _inside = gates.enter(WorkClass::Statistics).await.unwrap();
        let refused = gates.enter(WorkClass::Statistics).await.err().unwrap();
        assert!(matches!(refused, AppError::Overloaded(_)));
        // Another class is not held up.
        assert!(gates.enter(WorkClass::Export).await.is_ok());
    }
}
