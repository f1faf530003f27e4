//! One request's trip: pick the live backend, rewrite the request for it, stream the answer back.

use std::fmt::Write as _;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{PathAndQuery, Scheme, Uri};
use http::{Method, Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::backend::{Backend, Inflight};
use crate::body::ProxyBody;

/// State shared by every connection of one proxy.
pub(crate) struct Shared {
    pub(crate) current: ArcSwapOption<Backend>,
    pub(crate) client: Client<HttpConnector, Incoming>,
}

impl Shared {
    /// Claims the current backend for one request.
    ///
    /// The claim is counted first and the backend re-checked after: a request
    /// that raced with `switch` either sees the new backend or is counted on
    /// the old one before the switcher can observe it drained.
    fn acquire(&self) -> Option<Inflight> {
        loop {
            let backend = self.current.load_full()?;
            let inflight = Inflight::start(backend);
            if self.current.load().as_ref().is_some_and(|now| std::ptr::eq(&**now, inflight.backend())) {
                return Some(inflight);
            }
        }
    }
}

/// Headers that describe one connection and must not be forwarded (RFC 9110 §7.6.1).
/// `Transfer-Encoding` is re-decided by hyper from the body on each side.
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_BACKSTOP: HeaderName = HeaderName::from_static("x-backstop");

/// Proxies one request to the current backend; never fails, errors become 5xx answers.
pub(crate) async fn forward(
    shared: &Shared,
    client_ip: Option<&HeaderValue>,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    if req.method() == Method::CONNECT {
        return local(StatusCode::METHOD_NOT_ALLOWED, "connect", "CONNECT is not supported\n");
    }
    let Some(inflight) = shared.acquire() else {
        return local(StatusCode::SERVICE_UNAVAILABLE, "no-backend", "no live instance\n");
    };
    let backend = inflight.backend();
    let Some(authority) = backend.authority.clone() else {
        tracing::warn!(backend = backend.label(), addr = %backend.addr(), "backend address is not a valid URI authority");
        return local(StatusCode::BAD_GATEWAY, "bad-gateway", "bad gateway\n");
    };

    let (mut parts, body) = req.into_parts();
    let mut uri = std::mem::take(&mut parts.uri).into_parts();
    uri.scheme = Some(Scheme::HTTP);
    uri.authority = Some(authority);
    if uri.path_and_query.is_none() {
        uri.path_and_query = Some(PathAndQuery::from_static("/"));
    }
    parts.uri = match Uri::from_parts(uri) {
        Ok(uri) => uri,
        Err(_) => return local(StatusCode::BAD_REQUEST, "bad-request", "bad request target\n"),
    };
    // Upstream connections are pooled keep-alive HTTP/1.1 whatever the client speaks.
    parts.version = Version::HTTP_11;
    strip_hop_by_hop(&mut parts.headers);
    add_forwarded(&mut parts.headers, client_ip);

    match shared.client.request(Request::from_parts(parts, body)).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, ProxyBody::upstream(body, inflight.answered()))
        }
        Err(e) => {
            tracing::warn!(backend = backend.label(), addr = %backend.addr(), error = %chain(&e), "upstream request failed");
            local(StatusCode::BAD_GATEWAY, "bad-gateway", "bad gateway\n")
        }
    }
}

/// Removes hop-by-hop headers, including those the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if headers.contains_key(header::CONNECTION) {
        let listed: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
            .collect();
        for name in listed {
            headers.remove(name);
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Adds `X-Forwarded-For` (appended to what earlier proxies said),
/// `X-Forwarded-Proto` and `X-Forwarded-Host` (both only if absent).
fn add_forwarded(headers: &mut HeaderMap, client_ip: Option<&HeaderValue>) {
    if let Some(ip) = client_ip {
        match headers.entry(X_FORWARDED_FOR) {
            header::Entry::Vacant(slot) => {
                slot.insert(ip.clone());
            }
            header::Entry::Occupied(mut slot) => {
                let mut joined = Vec::new();
                for earlier in slot.iter() {
                    joined.extend_from_slice(earlier.as_bytes());
                    joined.extend_from_slice(b", ");
                }
                joined.extend_from_slice(ip.as_bytes());
                if let Ok(value) = HeaderValue::from_maybe_shared(Bytes::from(joined)) {
                    slot.insert(value);
                }
            }
        }
    }
    if !headers.contains_key(X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    }
    if !headers.contains_key(X_FORWARDED_HOST) {
        if let Some(host) = headers.get(header::HOST).cloned() {
            headers.insert(X_FORWARDED_HOST, host);
        }
    }
}

/// A short plain-text answer made by the proxy itself.
fn local(status: StatusCode, tag: &'static str, text: &'static str) -> Response<ProxyBody> {
    let mut response = Response::new(ProxyBody::full(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(X_BACKSTOP, HeaderValue::from_static(tag));
    response
}

/// An error with its causes, for one log line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn hop_by_hop_headers_and_connection_listed_ones_are_removed() {
        let mut h = headers(&[
            ("connection", "keep-alive, X-Custom"),
            ("connection", "x-other"),
            ("keep-alive", "timeout=5"),
            ("x-custom", "1"),
            ("x-other", "2"),
            ("te", "trailers"),
            ("upgrade", "websocket"),
            ("proxy-connection", "keep-alive"),
            ("x-kept", "3"),
            ("host", "example.test"),
        ]);
        strip_hop_by_hop(&mut h);
        let mut left: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["host", "x-kept"]);
    }

    #[test]
    fn forwarded_headers_are_added_or_appended() {
        let ip = HeaderValue::from_static("10.0.0.9");
        let mut h = headers(&[("host", "app.test")]);
        add_forwarded(&mut h, Some(&ip));
        assert_eq!(h["x-forwarded-for"], "10.0.0.9");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "app.test");

        let mut h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "2.2.2.2"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "edge.test"),
            ("host", "app.test"),
        ]);
        add_forwarded(&mut h, Some(&ip));
        assert_eq!(h.get_all("x-forwarded-for").iter().collect::<Vec<_>>(), ["1.1.1.1, 2.2.2.2, 10.0.0.9"]);
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "edge.test");
    }
}
