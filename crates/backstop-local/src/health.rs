//! HTTP health checks: one probe, and waiting for an instance to become healthy.

use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::Request;
use hyper::header::{CONNECTION, HOST};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until};

use crate::instance::{Exit, Instance};
use crate::{LastProbe, LocalError, ProbeError};

/// The longest a single probe inside [`wait_healthy`] may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Pauses between probes start short (most services come up quickly) and double up to this.
const FIRST_PAUSE: Duration = Duration::from_millis(5);
const MAX_PAUSE: Duration = Duration::from_millis(200);

/// One HTTP/1.1 `GET http://{addr}{path}` on a fresh connection, bounded by `timeout`: the status code of
/// the answer, whatever it is.
pub async fn probe(addr: SocketAddr, path: &str, timeout: Duration) -> Result<u16, LocalError> {
    probe_once(addr, path, timeout).await.map_err(|source| LocalError::Probe { url: url(addr, path), source })
}

/// Probe `path` on `instance` until it answers 2xx.
///
/// Fails with [`LocalError::Exited`] as soon as the instance exits, or [`LocalError::HealthTimeout`] (naming
/// the last status or connection error) once `timeout` has passed.
pub async fn wait_healthy(instance: &Instance, path: &str, timeout: Duration) -> Result<(), LocalError> {
    let addr = instance.addr();
    let poll = async {
        let deadline = crate::instance::deadline_after(timeout);
        let mut pause = FIRST_PAUSE;
        let mut last = LastProbe::None;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(LocalError::HealthTimeout { url: url(addr, path), timeout, last });
            }
            let probe_timeout = remaining.min(PROBE_TIMEOUT);
            match probe_once(addr, path, probe_timeout).await {
                Ok(status) if (200..300).contains(&status) => return Ok(()),
                Ok(status) => last = LastProbe::Status(status),
                // Cut short by the deadline, this says nothing about the service: keep what the previous
                // probe saw.
                Err(ProbeError::TimedOut { .. })
                    if probe_timeout < PROBE_TIMEOUT && !matches!(last, LastProbe::None) => {}
                Err(source @ ProbeError::InvalidPath { .. }) => {
                    return Err(LocalError::Probe { url: url(addr, path), source });
                }
                Err(error) => last = LastProbe::Failed(error),
            }
            sleep_until(deadline.min(crate::instance::deadline_after(pause))).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
    };
    tokio::select! {
        biased;
        () = instance.exited() => {
            Err(LocalError::Exited { pid: instance.id().pid, exit: instance.exit().unwrap_or(Exit::Unknown) })
        }
        result = poll => result,
    }
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

async fn probe_once(addr: SocketAddr, path: &str, timeout: Duration) -> Result<u16, ProbeError> {
    let request = Request::get(path)
        .header(HOST, addr.to_string())
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|source| ProbeError::InvalidPath { path: path.to_owned(), source })?;
    // Connection, request and response all live in this future, so a timeout drops the socket too.
    let exchange = async {
        let stream = TcpStream::connect(addr).await.map_err(ProbeError::Connect)?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(ProbeError::Http)?;
        let mut connection = pin!(connection);
        let mut response = pin!(sender.send_request(request));
        let response = tokio::select! {
            biased;
            response = &mut response => response,
            // The connection may finish first, having already handed the response over.
            ended = &mut connection => match ended {
                Ok(()) => response.await,
                Err(error) => Err(error),
            },
        };
        Ok(response.map_err(ProbeError::Http)?.status().as_u16())
    };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| ProbeError::TimedOut { timeout })?
}
