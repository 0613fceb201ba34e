//! A loopback RDAP server for the CLI tests: a real axum server on `127.0.0.1:0`, on its own
//! thread, answering each scripted path with a fixed reply (unknown paths: an RDAP 404).

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/rdap+json".into())],
            body: body.into(),
        }
    }

    pub fn redirect(status: u16, location: String) -> Reply {
        Reply {
            status,
            headers: vec![("location", location)],
            body: Vec::new(),
        }
    }
}

type Routes = Arc<Mutex<HashMap<String, Reply>>>;

pub struct Server {
    pub addr: SocketAddr,
    routes: Routes,
    hits: Arc<Mutex<Vec<String>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

async fn answer(
    State((routes, hits)): State<(Routes, Arc<Mutex<Vec<String>>>)>,
    req: Request,
) -> Response {
    let path = req.uri().path().to_string();
    hits.lock().unwrap().push(path.clone());
    let reply = routes
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or_else(|| Reply::json(404, r#"{"errorCode":404,"title":"Not Found"}"#));
    let mut r = Response::new(Body::from(reply.body));
    *r.status_mut() = StatusCode::from_u16(reply.status).unwrap();
    for (k, v) in reply.headers {
        r.headers_mut()
            .insert(k, HeaderValue::from_str(&v).unwrap());
    }
    r
}

impl Server {
    pub fn start() -> Server {
        let routes: Routes = Arc::default();
        let hits: Arc<Mutex<Vec<String>>> = Arc::default();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let state = (routes.clone(), hits.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let app = Router::new().fallback(answer).with_state(state);
                tokio::select! {
                    r = axum::serve(listener, app) => r.unwrap(),
                    _ = stop_rx => {}
                }
            });
        });
        let addr = addr_rx.recv().unwrap();
        Server {
            addr,
            routes,
            hits,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn route(&self, path: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(path.to_string(), reply);
    }

    pub fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }

    /// RFC 9224 bootstrap naming this server's local registries: 3/8 arin, 193/8 ripencc,
    /// 200/8 lacnic.
    pub fn bootstrap_json(&self) -> String {
        let base = self.url("");
        format!(
            r#"{{"version":"1.0","publication":"2024-01-01T00:00:00Z","services":[
                [["3.0.0.0/8"],["{base}/arin/registry/"]],
                [["193.0.0.0/8"],["{base}/ripencc/"]],
                [["193.0.6.0/24"],["{base}/arin/registry/"]],
                [["200.0.0.0/8"],["{base}/lacnic/rdap/"]]
            ]}}"#
        )
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

/// A real RDAP response from the rdap crate's fixtures.
pub fn fixture_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../rdap/tests/fixtures")
        .join(rel)
}

pub fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixture_path(rel)).unwrap()
}
