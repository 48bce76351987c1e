use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};

use crate::engine::{Injection, is_grpc};

/// Builds the body of an injected HTTP abort from its bytes.
///
/// Implemented by [`EmptyBody`] (the default: `B::default()`, no bytes) and
/// by every `Fn(Bytes) -> B`, such as `axum::body::Body::from` or
/// `http_body_util::Full::new`.
pub trait AbortBody<B> {
    /// The body carrying `bytes`.
    fn make_body(&self, bytes: Bytes) -> B;

    /// Whether [`make_body`](Self::make_body) keeps the bytes (then the
    /// response gets a `content-type: text/plain` unless one is configured).
    fn carries_bytes(&self) -> bool {
        true
    }
}

/// Aborts answer with `B::default()`: an empty body.
#[derive(Clone, Copy, Debug, Default)]
pub struct EmptyBody;

impl<B: Default> AbortBody<B> for EmptyBody {
    fn make_body(&self, _bytes: Bytes) -> B {
        B::default()
    }

    fn carries_bytes(&self) -> bool {
        false
    }
}

impl<B, F: Fn(Bytes) -> B> AbortBody<B> for F {
    fn make_body(&self, bytes: Bytes) -> B {
        self(bytes)
    }
}

/// The answer to an aborted request: a trailers-only gRPC response for gRPC
/// requests, the configured HTTP status otherwise.
pub(crate) fn abort_response<B, ReqBody>(
    injection: &Injection,
    req: &Request<ReqBody>,
    make: &impl AbortBody<B>,
) -> Response<B> {
    let Some(spec) = injection.abort_spec() else {
        // Unreachable by construction (only aborting injections get here);
        // answer plainly rather than panic.
        let mut res = Response::new(make.make_body(Bytes::new()));
        *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        return res;
    };
    if is_grpc(req.headers()) {
        let mut res = Response::new(make.make_body(Bytes::new()));
        *res.headers_mut() = spec.grpc_headers.clone();
        return res;
    }
    let mut res = Response::new(make.make_body(spec.body.clone()));
    *res.status_mut() = spec.status;
    *res.headers_mut() = spec.http_headers.clone();
    if make.carries_bytes() && !res.headers().contains_key(header::CONTENT_TYPE) {
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    }
    res
}
