//! The console's network side: a TCP listener (TLS when configured) on a
//! tokio runtime of its own, HTTP/1.1 through hyper, every request read
//! whole (bounded) and handed to the synchronous router on a blocking
//! thread, so a slow page never holds up the node or another page.

use super::http::{Req, Resp, decode_pairs, security_headers};
use super::{Console, routes};
use crate::error::NodeError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// The largest request body read (a job spec is at most 64 KiB as JSON).
pub const MAX_BODY: usize = 256 << 10;
/// Connections served at once; more wait.
const MAX_CONNECTIONS: usize = 64;
/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

fn err(what: String) -> NodeError {
    NodeError::Control(format!("console: {what}"))
}

/// The TLS configuration from the PEM files of `cert` and `key`.
pub fn tls_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, NodeError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| err(format!("{}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(err(format!("{}: no certificate in it", cert.display())));
    }
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| err(format!("{}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| err(format!("{}: {e}", cert.display())))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Binds `addr` and serves `console` on a thread of its own until the
/// process ends; returns the address bound.
pub fn serve(
    console: Arc<Console>,
    addr: SocketAddr,
    tls: Option<rustls::ServerConfig>,
) -> Result<SocketAddr, NodeError> {
    let listener =
        std::net::TcpListener::bind(addr).map_err(|e| err(format!("listening on {addr}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| err(format!("listening on {addr}: {e}")))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| err(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(16)
        .thread_name("console")
        .enable_all()
        .build()
        .map_err(|e| err(e.to_string()))?;
    let acceptor = tls.map(|c| tokio_rustls::TlsAcceptor::from(Arc::new(c)));
    std::thread::Builder::new()
        .name("console".into())
        .spawn(move || runtime.block_on(accept_loop(console, listener, acceptor)))
        .map_err(|e| err(e.to_string()))?;
    Ok(bound)
}

async fn accept_loop(
    console: Arc<Console>,
    listener: std::net::TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("console: {e}");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!("console: {e}");
                continue;
            }
        };
        let console = Arc::clone(&console);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match acceptor {
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream));
                    if let Ok(Ok(tls)) = handshake.await {
                        connection(console, TokioIo::new(tls)).await;
                    }
                }
                None => connection(console, TokioIo::new(stream)).await,
            }
        });
    }
}

async fn connection<I>(console: Arc<Console>, io: I)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let console = Arc::clone(&console);
        async move { Ok::<_, std::convert::Infallible>(respond(console, request).await) }
    });
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(io, service)
        .await;
    if let Err(e) = served {
        tracing::debug!("console connection: {e}");
    }
}

async fn respond(
    console: Arc<Console>,
    request: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let resp = match read(request).await {
        Ok(req) => tokio::task::spawn_blocking(move || routes::dispatch(&console, &req))
            .await
            .unwrap_or_else(|_| Resp::text(500, "the page failed; see the node's log")),
        Err(resp) => resp,
    };
    to_hyper(resp)
}

/// Reads and decodes a request; refuses methods other than GET and POST
/// and bodies over [`MAX_BODY`].
async fn read(request: hyper::Request<Incoming>) -> Result<Req, Resp> {
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str().to_string();
    if method != "GET" && method != "POST" {
        return Err(Resp::text(405, "only GET and POST"));
    }
    let cookies = parts
        .headers
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("; ");
    let query = parts
        .uri
        .query()
        .map(|q| decode_pairs(q.as_bytes()))
        .unwrap_or_default();
    let form = if method == "POST" {
        let bytes = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|_| Resp::text(413, "the request is too large"))?
            .to_bytes();
        decode_pairs(&bytes)
    } else {
        Vec::new()
    };
    Ok(Req {
        method,
        path: parts.uri.path().to_string(),
        query,
        form,
        cookies,
    })
}

fn to_hyper(resp: Resp) -> hyper::Response<Full<Bytes>> {
    let mut builder = hyper::Response::builder()
        .status(resp.status)
        .header(hyper::header::CONTENT_TYPE, resp.content_type);
    for (name, value) in security_headers() {
        builder = builder.header(name, value);
    }
    for (name, value) in &resp.headers {
        builder = builder.header(*name, value.as_str());
    }
    builder
        .body(Full::new(Bytes::from(resp.body)))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::from_static(b"bad header"))))
}
