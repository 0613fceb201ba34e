//! A scripted RDAP server on loopback for the client tests: a real axum HTTP server on
//! `127.0.0.1:0`, run on its own thread and runtime (real time), so tests may pause their own
//! tokio clock without stalling it. Each path gets a list of replies, served in order; the last
//! one repeats.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rdapfleet_rdap::client::ClientConfig;
use rdapfleet_rdap::{Bootstrap, Rates, RdapClient};

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A status, headers and a body.
    Body {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// A redirect.
    Redirect { status: u16, location: String },
    /// Wait (real time) before answering.
    Delay(Duration, Box<Reply>),
    /// `chunks` chunks of `size` bytes, streamed without a Content-Length.
    Stream { chunks: usize, size: usize },
}

impl Reply {
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply::Body {
            status,
            headers: vec![("content-type", "application/rdap+json".into())],
            body: body.into(),
        }
    }

    pub fn with_header(self, name: &'static str, value: impl Into<String>) -> Reply {
        match self {
            Reply::Body {
                status,
                mut headers,
                body,
            } => {
                headers.push((name, value.into()));
                Reply::Body {
                    status,
                    headers,
                    body,
                }
            }
            other => other,
        }
    }

    pub fn redirect(status: u16, location: impl Into<String>) -> Reply {
        Reply::Redirect {
            status,
            location: location.into(),
        }
    }
}

/// One request the server saw.
#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub accept: Option<String>,
    pub peer: SocketAddr,
}

#[derive(Default)]
struct Script {
    routes: Mutex<HashMap<String, VecDeque<Reply>>>,
    hits: Mutex<Vec<Hit>>,
}

/// The running server; stops when dropped.
pub struct Server {
    pub addr: SocketAddr,
    script: Arc<Script>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

async fn answer(
    State(script): State<Arc<Script>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let path = req.uri().path().to_string();
    script.hits.lock().unwrap().push(Hit {
        path: path.clone(),
        accept: req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        peer,
    });
    let reply = {
        let mut routes = script.routes.lock().unwrap();
        match routes.get_mut(&path) {
            Some(q) if q.len() > 1 => q.pop_front(),
            Some(q) => q.front().cloned(),
            None => None,
        }
    };
    let Some(reply) = reply else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/rdap+json")],
            r#"{"errorCode":404,"title":"Not Found"}"#,
        )
            .into_response();
    };
    render(reply).await
}

async fn render(reply: Reply) -> Response {
    let mut reply = reply;
    loop {
        match reply {
            Reply::Delay(d, inner) => {
                tokio::time::sleep(d).await;
                reply = *inner;
            }
            Reply::Body {
                status,
                headers,
                body,
            } => {
                let mut r = Response::new(Body::from(body));
                *r.status_mut() = StatusCode::from_u16(status).unwrap();
                for (k, v) in headers {
                    r.headers_mut()
                        .insert(k, HeaderValue::from_str(&v).unwrap());
                }
                return r;
            }
            Reply::Redirect { status, location } => {
                let mut r = Response::new(Body::empty());
                *r.status_mut() = StatusCode::from_u16(status).unwrap();
                r.headers_mut()
                    .insert(header::LOCATION, HeaderValue::from_str(&location).unwrap());
                return r;
            }
            Reply::Stream { chunks, size } => {
                let stream = futures_stream(chunks, size);
                let mut r = Response::new(Body::from_stream(stream));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/rdap+json"),
                );
                return r;
            }
        }
    }
}

fn futures_stream(
    chunks: usize,
    size: usize,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    tokio::spawn(async move {
        for _ in 0..chunks {
            if tx.send(Ok(vec![b' '; size])).await.is_err() {
                return;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

impl Server {
    pub fn start() -> Server {
        let script = Arc::new(Script::default());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let s = script.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let app = Router::new().fallback(answer).with_state(s);
                let serve = axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                );
                // Stop at once on drop (in-flight slow answers are cut, not awaited).
                tokio::select! {
                    r = serve => r.unwrap(),
                    _ = stop_rx => {}
                }
            });
        });
        let addr = addr_rx.recv().unwrap();
        Server {
            addr,
            script,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` + path.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Script the replies of one path (served in order, the last repeats).
    pub fn route(&self, path: &str, replies: Vec<Reply>) {
        self.script
            .routes
            .lock()
            .unwrap()
            .insert(path.to_string(), replies.into());
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.script.hits.lock().unwrap().clone()
    }

    pub fn hit_count(&self, path: &str) -> usize {
        self.hits().iter().filter(|h| h.path == path).count()
    }

    /// An RFC 9224 bootstrap naming this server's five local registries:
    /// 3/8 arin, 193/8 ripencc, 1/8 apnic, 200/8 lacnic, 41/8 afrinic.
    pub fn bootstrap_json(&self) -> String {
        let base = self.url("");
        format!(
            r#"{{"version":"1.0","publication":"2024-01-01T00:00:00Z","services":[
                [["3.0.0.0/8"],["{base}/arin/registry/"]],
                [["193.0.0.0/8"],["{base}/ripencc/"]],
                [["193.0.6.0/24"],["{base}/arin/registry/"]],
                [["1.0.0.0/8"],["{base}/apnic/"]],
                [["200.0.0.0/8"],["{base}/lacnic/rdap/"]],
                [["41.0.0.0/8"],["{base}/afrinic/rdap/"]]
            ]}}"#
        )
    }

    pub fn bootstrap(&self) -> Bootstrap {
        Bootstrap::from_json("test", self.bootstrap_json().as_bytes()).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A client config for tests: no timers of reqwest/hyper (so paused tokio time only moves when
/// the client itself sleeps), no rate limits (tests that need them set them), exact (jitter-free) backoff from 1 s.
pub fn test_config() -> ClientConfig {
    let mut c = ClientConfig {
        rates: Rates::unlimited(),
        connect_timeout: None,
        timeout: None,
        pool_idle_timeout: None,
        ..ClientConfig::default()
    };
    c.backoff.base = Duration::from_secs(1);
    c.backoff.max = Duration::from_secs(60);
    c.backoff.jitter = 0.0;
    c
}

pub fn client(server: &Server, config: ClientConfig) -> RdapClient {
    RdapClient::new(server.bootstrap(), config).unwrap()
}

/// A real fixture body.
pub fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(rel),
    )
    .unwrap()
}
