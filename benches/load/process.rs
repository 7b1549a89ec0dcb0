//! The servers under test: processes, memory and CPU.

use super::*;

// ----------------------------------------------------------------------------------------
// Processes: the servers, their memory and CPU
// ----------------------------------------------------------------------------------------

/// A `kB` line of `/proc/<pid>/status` (`VmRSS`, `VmHWM`).
pub(crate) fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|l| {
        l.strip_prefix(key)?
            .strip_prefix(':')?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })
}

/// User + system CPU time of a process, in clock ticks.
pub(crate) fn cpu_ticks(pid: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

pub(crate) fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A server this benchmark started; stopped (by its own pid) when dropped.
pub(crate) struct Server {
    pub(crate) name: String,
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    pub(crate) log: PathBuf,
}

impl Server {
    pub(crate) fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        envs: &[(&str, String)],
        pinned: bool,
        log: PathBuf,
        port: u16,
    ) -> Server {
        let file = std::fs::File::create(&log).expect("server log file");
        let mut command = if pinned {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        command
            .args(args)
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone().expect("log file")))
            .stderr(Stdio::from(file));
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({}): {e}", program.display()));
        Server {
            name: name.into(),
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the run, naming how the server ended, when it is gone.
    pub(crate) fn check_alive(&mut self, during: &str) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} ended ({status}) during {during}; see {}",
                self.name,
                self.log.display()
            );
        }
    }

    pub(crate) fn wait_ready(&mut self, http: &reqwest::blocking::Client, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before it was ready; see {}",
                    self.name,
                    self.log.display()
                );
            }
            if let Ok(response) = http.get(format!("http://{}{path}", self.addr)).send() {
                if response.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} was not ready within 3 minutes; see {}",
                self.name,
                self.log.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, then SIGKILL after 15 s.
    pub(crate) fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Samples a process's resident memory every 50 ms while a scenario runs.
pub(crate) struct RssSampler {
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) handle: std::thread::JoinHandle<u64>,
}

impl RssSampler {
    pub(crate) fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut max = 0;
            loop {
                if let Some(kb) = status_kb(pid, "VmRSS") {
                    max = max.max(kb);
                }
                if flag.load(Ordering::Relaxed) {
                    break max;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        RssSampler { stop, handle }
    }

    pub(crate) fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or(0)
    }
}

/// Busy time of the whole machine (every core), in clock ticks, from `/proc/stat`.
pub(crate) fn machine_busy_ticks() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let total: u64 = fields.iter().take(8).sum();
    Some(total - fields.get(3)? - fields.get(4)?)
}

/// On a shared machine, waits (at most a minute) until other processes leave the cores
/// alone: less than a quarter of a core busy over one second. Returns the seconds waited
/// and the load seen last (in cores).
pub(crate) fn settle() -> (f64, f64) {
    let started = Instant::now();
    let ticks = clock_ticks_per_sec();
    loop {
        let before = machine_busy_ticks();
        std::thread::sleep(Duration::from_secs(1));
        let busy = match (before, machine_busy_ticks()) {
            (Some(b), Some(a)) => a.saturating_sub(b) as f64 / ticks,
            _ => 0.0,
        };
        if busy < 0.25 || started.elapsed() > Duration::from_secs(60) {
            return (started.elapsed().as_secs_f64() - 1.0, busy);
        }
    }
}

/// What a scenario cost the server, the load generator and everything else on the machine
/// (in cores: 1.0 is one core busy all along).
pub(crate) struct Usage {
    pub(crate) server_cpu: Option<f64>,
    pub(crate) client_cpu: Option<f64>,
    pub(crate) other_cpu: Option<f64>,
    pub(crate) rss_max_kb: u64,
    /// Seconds waited for a quiet machine first, and the load then seen (cores).
    pub(crate) settled: (f64, f64),
}

/// Runs `run`, measuring the server's CPU and peak resident memory, this process's CPU,
/// and the CPU that other processes (PostgreSQL, other people's builds) took meanwhile.
pub(crate) fn measured<T>(server: u32, ticks_per_sec: f64, run: impl FnOnce() -> T) -> (T, Usage) {
    let pid = server.to_string();
    let settled = settle();
    let before = (cpu_ticks(&pid), cpu_ticks("self"), machine_busy_ticks());
    let sampler = RssSampler::start(server);
    let started = Instant::now();
    let result = run();
    let seconds = started.elapsed().as_secs_f64();
    let rss_max_kb = sampler.finish();
    let after = (cpu_ticks(&pid), cpu_ticks("self"), machine_busy_ticks());
    let share = |before: Option<u64>, after: Option<u64>| {
        Some(after?.saturating_sub(before?) as f64 / ticks_per_sec / seconds)
    };
    let server_cpu = share(before.0, after.0);
    let client_cpu = share(before.1, after.1);
    let other_cpu = share(before.2, after.2)
        .map(|all| (all - server_cpu.unwrap_or(0.0) - client_cpu.unwrap_or(0.0)).max(0.0));
    let usage = Usage {
        server_cpu,
        client_cpu,
        other_cpu,
        rss_max_kb,
        settled,
    };
    (result, usage)
}
