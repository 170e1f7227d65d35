//! A private redis-server for the integration tests that run every backend.

/// A private redis-server on a unix socket, killed when dropped.
pub struct RedisServer {
    child: std::process::Child,
    pub url: String,
}

impl RedisServer {
    /// `None` where redis-server is not installed; in CI (`CI=true`) that is a failure.
    pub fn start(dir: &std::path::Path) -> Option<RedisServer> {
        let socket = dir.join("redis.sock");
        let spawned = std::process::Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "no", "--unixsocket"])
            .arg(&socket)
            .stdout(std::process::Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
                eprintln!("skipping the Redis backend: cannot run redis-server ({e})");
                return None;
            }
            Err(e) => panic!("redis-server is required in CI: {e}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !socket.exists() {
            assert!(std::time::Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Some(RedisServer { child, url: format!("redis+unix://{}", socket.display()) })
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
