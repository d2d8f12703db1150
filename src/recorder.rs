//! A local HTTP request recorder for unit tests of outgoing requests (forges, metric
//! providers): it answers a script in order and remembers every request exactly as sent.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::Value;

/// One request as the recorder saw it.
#[derive(Debug)]
pub struct Seen {
    pub method: Method,
    pub uri: String,
    pub headers: HeaderMap,
    /// The body as JSON (`Null` when it is not JSON).
    pub body: Value,
    /// The body as text.
    pub text: String,
}

impl Seen {
    /// Every value of header `name`.
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .map(|value| value.to_str().expect("a text header"))
            .collect()
    }
}

/// A scripted answer: status, headers, body.
pub type Answer<B> = (u16, Vec<(&'static str, String)>, B);

/// Answers scripted responses in order (then 200 `{}`) and remembers every request.
#[derive(Clone, Default)]
pub struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<VecDeque<Answer<String>>>>,
}

impl Recorder {
    /// Starts a recorder on a loopback port answering `script` (bodies as their text, so
    /// JSON values and plain strings both fit); returns it and its base URL.
    pub async fn start<B: ToString>(script: Vec<Answer<B>>) -> (Self, String) {
        let script = script
            .into_iter()
            .map(|(status, headers, body)| (status, headers, body.to_string()))
            .collect();
        let recorder = Self {
            script: Arc::new(Mutex::new(script)),
            ..Self::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let state = recorder.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    state.seen.lock().expect("lock").push(Seen {
                        method,
                        uri: uri.to_string(),
                        headers,
                        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                        text: String::from_utf8_lossy(&body).into_owned(),
                    });
                    let (status, headers, body) = state
                        .script
                        .lock()
                        .expect("lock")
                        .pop_front()
                        .unwrap_or((200, Vec::new(), "{}".to_owned()));
                    let mut response =
                        (StatusCode::from_u16(status).expect("status"), body).into_response();
                    for (name, value) in headers {
                        response
                            .headers_mut()
                            .insert(name, value.parse().expect("header value"));
                    }
                    response
                }
            },
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        (recorder, format!("http://{address}"))
    }

    /// The requests seen since the last call.
    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().expect("lock"))
    }
}
