//! The anchor for public reads: nginx (Debian's nginx-light) serving the very bytes quanze
//! answered, from files at the same paths, one worker process, sendfile, pinned like
//! quanze.

use super::*;

/// Where nginx is installed, if it is.
pub(crate) fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Files for nginx to serve: `root/<path>` holds the bytes of `path`.
pub(crate) struct Files {
    pub(crate) root: tempfile::TempDir,
    pub(crate) bytes: u64,
}

impl Files {
    pub(crate) fn new() -> Files {
        let root = tempfile::tempdir().expect("a directory for nginx's files");
        std::fs::write(root.path().join("readyz"), b"{\"status\":\"ready\"}").expect("readyz");
        Files { root, bytes: 0 }
    }

    /// Keeps `body` as the answer to `path` (an absolute path without a query).
    pub(crate) fn put(&mut self, path: &str, body: &[u8]) {
        let file = self.root.path().join(path.trim_start_matches('/'));
        std::fs::create_dir_all(file.parent().expect("a parent")).expect("nginx's directories");
        std::fs::write(&file, body).expect("a file for nginx");
        self.bytes += body.len() as u64;
    }
}

/// Starts nginx over `files` on a free port, one worker and no master process (so that its
/// pid is the one that serves), logging into the results directory.
pub(crate) fn start_nginx(ctx: &Ctx, binary: &Path, files: &Files, tag: &str) -> Server {
    let port = free_port();
    let prefix = files.root.path();
    let conf = ctx.dir.join(format!("nginx-{tag}.conf"));
    let text = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {prefix}/nginx.pid;\n\
         error_log {log} warn;\nevents {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 100000000;\n\
           keepalive_timeout 300s;\n  default_type application/json;\n  types {{ }}\n\
           client_body_temp_path {prefix}/tmp;\n  proxy_temp_path {prefix}/tmp;\n\
           fastcgi_temp_path {prefix}/tmp;\n  uwsgi_temp_path {prefix}/tmp;\n  scgi_temp_path {prefix}/tmp;\n\
           server {{\n    listen 127.0.0.1:{port} backlog=4096;\n    root {root};\n\
             location / {{ try_files $uri =404; }}\n\
             location /gz/ {{ add_header Content-Encoding gzip; add_header Vary Accept-Encoding; try_files $uri =404; }}\n  }}\n}}\n",
        prefix = prefix.display(),
        root = prefix.display(),
        log = ctx.dir.join(format!("nginx-{tag}-error.log")).display(),
    );
    std::fs::write(&conf, text).expect("nginx's configuration");
    let args = [
        "-p".to_string(),
        prefix.to_string_lossy().into_owned(),
        "-c".to_string(),
        conf.to_string_lossy().into_owned(),
    ];
    let mut server = Server::spawn(
        "nginx",
        binary,
        &args,
        &[],
        ctx.pinned,
        ctx.dir.join(format!("nginx-{tag}.log")),
        port,
    );
    server.wait_ready(&ctx.http, "/readyz");
    server
}
