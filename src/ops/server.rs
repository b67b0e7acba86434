//! The monitoring endpoint (`--metrics-addr HOST:PORT`): one thread with tiny_http, no async runtime. It serves
//! `/metrics` (the registry, encoded on each scrape), `/healthz` and `/readyz`; it stops when dropped.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use prometheus_client::registry::Registry;
use tiny_http::{Header, Response};

use super::health::Health;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("--metrics-addr {0:?}: expected HOST:PORT, e.g. 127.0.0.1:9184")]
    BadAddress(String),
    #[error("--metrics-addr {addr}: cannot listen there: {message}")]
    Bind { addr: String, message: String },
}

/// A parsed `--metrics-addr`: the text as given and what it resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsAddr {
    pub text: String,
    pub addr: SocketAddr,
}

impl std::str::FromStr for MetricsAddr {
    type Err = ServeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || ServeError::BadAddress(text.to_string());
        let addr = text
            .to_socket_addrs()
            .map_err(|_| bad())?
            .next()
            .ok_or_else(bad)?;
        Ok(MetricsAddr {
            text: text.to_string(),
            addr,
        })
    }
}

/// The running endpoint.
pub struct MetricsServer {
    server: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Where it listens (with port 0, the port the system picked).
    pub local_addr: SocketAddr,
}

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid static header")
}

fn respond(request: tiny_http::Request, registry: &Registry, health: &Health) {
    let path = request.url().split('?').next().unwrap_or("").to_string();
    // Prometheus asks for OpenMetrics; curl and promtool get the classic text format.
    let openmetrics = request.headers().iter().any(|h| {
        h.field.equiv("Accept") && h.value.as_str().contains("application/openmetrics-text")
    });
    let response = match path.as_str() {
        "/metrics" if openmetrics => Response::from_string(super::metrics::encode(registry))
            .with_header(header("Content-Type", OPENMETRICS)),
        "/metrics" => Response::from_string(super::metrics::to_classic_text(
            &super::metrics::encode(registry),
        ))
        .with_header(header("Content-Type", CLASSIC)),
        "/healthz" => {
            let (code, report) = health.report();
            Response::from_string(serde_json::to_string(&report).expect("a report serialises"))
                .with_status_code(code)
                .with_header(header("Content-Type", "application/json"))
        }
        "/readyz" => {
            let code = health.readiness();
            Response::from_string(if code == 200 {
                "ready\n"
            } else {
                "not ready\n"
            })
            .with_status_code(code)
        }
        _ => Response::from_string("not found: try /metrics, /healthz or /readyz\n")
            .with_status_code(404),
    };
    // A scraper that hung up is its own problem, not the run's.
    let _ = request.respond(response);
}

impl MetricsServer {
    /// Binds `addr` now (a port in use fails here, before the run starts) and serves from a thread.
    pub fn start(
        addr: &MetricsAddr,
        registry: Arc<Registry>,
        health: Arc<Health>,
    ) -> Result<Self, ServeError> {
        let server = tiny_http::Server::http(addr.addr).map_err(|e| ServeError::Bind {
            addr: addr.text.clone(),
            message: e.to_string(),
        })?;
        let local_addr = server.server_addr().to_ip().unwrap_or(addr.addr);
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_server, thread_stop) = (server.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("dais-metrics".into())
            .spawn(move || {
                while !thread_stop.load(Ordering::Relaxed) {
                    match thread_server.recv_timeout(Duration::from_millis(250)) {
                        Ok(Some(request)) => respond(request, &registry, &health),
                        Ok(None) => {}
                        Err(_) => break,
                    }
                }
            })
            .map_err(|e| ServeError::Bind {
                addr: addr.text.clone(),
                message: e.to_string(),
            })?;
        Ok(MetricsServer {
            server,
            stop,
            thread: Some(thread),
            local_addr,
        })
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
