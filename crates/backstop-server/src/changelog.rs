//! One log line per change asked of the control plane: every mutating call (release, undo,
//! abort, flag writes, promote, contract, incidents, gc…) is logged with who asked, what and how
//! it ended, at `warn` when it was refused or failed, so an operator tailing the server's log
//! (or shipping its JSON form) sees failed releases, refused undos and flag flips without
//! reading the audit table. Flag evaluation (OFREP) is a read and is not logged here.

use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

/// Why a call was refused, left on the response by the error that made it.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub code: &'static str,
    pub message: String,
}

/// Whether a call changes something: any method but the reads, outside flag evaluation.
pub(crate) fn is_change(method: &Method, path: &str) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) && !path.starts_with("/ofrep/")
}

pub(crate) async fn log_changes(req: Request, next: Next) -> Response {
    if !is_change(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let actor = req
        .headers()
        .get("x-backstop-actor")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 64)
        .map(str::to_owned);
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let actor = actor.as_deref().unwrap_or("-");
    match resp.extensions().get::<Refusal>() {
        Some(r) => {
            tracing::warn!(%method, path, actor, status, code = r.code, error = %r.message, millis, "change refused or failed")
        }
        None if status >= 400 => tracing::warn!(%method, path, actor, status, millis, "change refused or failed"),
        None => tracing::info!(%method, path, actor, status, millis, "change done"),
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_calls_are_changes() {
        let cases = [
            (Method::POST, "/v1/apps/shop/releases", true),
            (Method::POST, "/v1/apps/shop/undo", true),
            (Method::PUT, "/v1/flags/new-checkout", true),
            (Method::DELETE, "/v1/flags/new-checkout", true),
            (Method::PUT, "/v1/artifacts/sha256:00", true),
            (Method::GET, "/v1/apps/shop/status", false),
            (Method::HEAD, "/v1/apps", false),
            (Method::OPTIONS, "/v1/apps", false),
            (Method::POST, "/ofrep/v1/evaluate/flags", false),
            (Method::POST, "/ofrep/v1/evaluate/flags/new-checkout", false),
        ];
        for (method, path, want) in cases {
            assert_eq!(is_change(&method, path), want, "{method} {path}");
        }
    }
}
