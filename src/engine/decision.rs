//! What a call looks like to the engine ([`Target`]) and what the engine
//! decides about it ([`Decision`]).

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method, Request, StatusCode, Uri, header};

use super::Chaos;
use super::plan::{CompiledAbort, CompiledFailure, RuleHandle};
use super::stats::Count;
use crate::config::Door;
use crate::fault::{FaultKind, GrpcCode, InjectedFault};

/// A description of one call, borrowed from the call itself, for rule
/// matching. Doors build it; build one yourself to call
/// [`Chaos::decide`] from your own code.
///
/// ```
/// use mischief::{Door, Target};
/// let target = Target::new(Door::Client).host("payments.internal").port(8443).path("/charge");
/// # let _ = target;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub(crate) door: Door,
    pub(crate) name: Option<&'a str>,
    pub(crate) method: Option<&'a Method>,
    /// Path, host and port come from here unless set explicitly; they are
    /// parsed only when a rule asks.
    uri: Option<&'a Uri>,
    path: Option<&'a str>,
    host: Option<&'a str>,
    port: Option<u16>,
    pub(crate) headers: Option<&'a HeaderMap>,
    grpc: Option<(&'a str, &'a str)>,
}

impl<'a> Target<'a> {
    /// A call entering by `door`, with nothing else known yet.
    pub fn new(door: Door) -> Self {
        Target {
            door,
            name: None,
            method: None,
            uri: None,
            path: None,
            host: None,
            port: None,
            headers: None,
            grpc: None,
        }
    }

    /// A named fault point (door `point`).
    pub fn point(name: &'a str) -> Self {
        Self::new(Door::Point).name(name)
    }

    /// An HTTP request entering by `door`: method, URI and headers are
    /// borrowed from it. Path, host and port are read from the URI only if a
    /// rule asks; the host falls back to the `Host` header, and gRPC requests
    /// (`content-type: application/grpc*`) expose their service and method.
    #[inline]
    pub fn from_request<B>(door: Door, req: &'a Request<B>) -> Self {
        Self::new(door).method(req.method()).uri(req.uri()).headers(req.headers())
    }

    /// Sets the URI, from which path, host and port are read when needed.
    #[must_use]
    pub fn uri(mut self, uri: &'a Uri) -> Self {
        self.uri = Some(uri);
        self
    }

    /// Sets the name (of a layer or fault point).
    #[must_use]
    pub fn name(mut self, name: &'a str) -> Self {
        self.name = Some(name);
        self
    }

    /// Sets the HTTP method.
    #[must_use]
    pub fn method(mut self, method: &'a Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Sets the path. Rules match paths as request paths: a path rule must
    /// start with `/` (or `*`), so give a call of your own a path of that
    /// form, or select it by [`name`](Self::name).
    #[must_use]
    pub fn path(mut self, path: &'a str) -> Self {
        self.path = Some(path);
        self
    }

    /// Sets the host.
    #[must_use]
    pub fn host(mut self, host: &'a str) -> Self {
        self.host = Some(host);
        self
    }

    /// Sets the port.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Sets the headers.
    #[must_use]
    pub fn headers(mut self, headers: &'a HeaderMap) -> Self {
        self.headers = Some(headers);
        self
    }

    /// Sets the gRPC service and method explicitly.
    #[must_use]
    pub fn grpc(mut self, service: &'a str, method: &'a str) -> Self {
        self.grpc = Some((service, method));
        self
    }

    /// The door.
    pub fn door(&self) -> Door {
        self.door
    }

    /// The path: set explicitly, or the URI's.
    pub fn path_str(&self) -> Option<&'a str> {
        self.path.or_else(|| Some(self.uri?.path()))
    }

    /// The port: set explicitly, the URI's, or else the `Host` header's (an
    /// HTTP/1.1 server's request has no authority in its URI; an HTTP/2
    /// one's `:authority` is there).
    pub fn port_number(&self) -> Option<u16> {
        if self.port.is_some() {
            return self.port;
        }
        match self.uri.and_then(Uri::authority) {
            Some(authority) => authority.port_u16(),
            None => {
                let raw = self.host_header_raw()?;
                let digits = raw.get(strip_port_bytes(raw).len()..)?.strip_prefix(b":")?;
                std::str::from_utf8(digits).ok()?.parse().ok()
            }
        }
    }

    /// The host: set explicitly, the URI's, or else the `Host` header
    /// without its port; without a trailing dot (`example.com.` names
    /// `example.com`). Host rules compare it ignoring ASCII case.
    pub fn host_name(&self) -> Option<&'a str> {
        if let Some(host) = self.host {
            return Some(strip_root_dot(host));
        }
        if let Some(authority) = self.uri.and_then(Uri::authority) {
            return Some(strip_root_dot(authority_host(authority.as_str())));
        }
        // A Host header has no userinfo: only the port is stripped. UTF-8
        // validation (not `to_str`'s visible-ASCII check) is all matching needs.
        std::str::from_utf8(self.host_header()?).ok()
    }

    /// The host's bytes, as [`host_name`](Self::host_name) finds them but
    /// without validating a `Host` header as UTF-8: enough for the
    /// prefilters, which compare bytes.
    pub(crate) fn host_bytes(&self) -> Option<&'a [u8]> {
        if let Some(host) = self.host {
            return Some(strip_root_dot(host).as_bytes());
        }
        if let Some(authority) = self.uri.and_then(Uri::authority) {
            return Some(strip_root_dot(authority_host(authority.as_str())).as_bytes());
        }
        self.host_header()
    }

    /// The `Host` header's host: without its port and a trailing dot.
    fn host_header(&self) -> Option<&'a [u8]> {
        Some(strip_root_dot_bytes(strip_port_bytes(self.host_header_raw()?)))
    }

    /// The `Host` header's value, as sent.
    fn host_header_raw(&self) -> Option<&'a [u8]> {
        let headers = self.headers?;
        // Most HTTP/1.1 clients (curl, browsers, wrk, Go, Python) send
        // `Host` first: looking there costs less than hashing the name.
        // Iteration is in order, so a first header named `Host` is the one
        // `get` would return.
        let early = headers.iter().next().filter(|(name, _)| *name == header::HOST).map(|(_, v)| v);
        Some(early.or_else(|| headers.get(header::HOST))?.as_bytes())
    }

    /// `true` for a gRPC request: its content type is `application/grpc*`,
    /// or its gRPC service was set explicitly.
    pub fn is_grpc(&self) -> bool {
        self.grpc.is_some() || self.headers.is_some_and(is_grpc)
    }

    /// The gRPC service and method, from an explicit setting or from the
    /// path `/package.Service/Method` of a gRPC request.
    pub fn grpc_parts(&self) -> Option<(&'a str, &'a str)> {
        if self.grpc.is_some() {
            return self.grpc;
        }
        if !self.headers.is_some_and(is_grpc) {
            return None;
        }
        let (service, method) = self.path_str()?.strip_prefix('/')?.split_once('/')?;
        (!service.is_empty() && !method.is_empty() && !method.contains('/')).then_some((service, method))
    }
}

/// Did the service fail the call, by its response: an HTTP 5xx, or a gRPC
/// error status in the response head (trailers-only)? A gRPC error sent in
/// trailers after a body is not seen here. For the guardrails' abort
/// conditions, from the HTTP layer and the client middleware.
#[cfg_attr(not(any(feature = "http", feature = "client")), allow(dead_code))]
#[inline]
pub(crate) fn failed_response(status: StatusCode, headers: &HeaderMap) -> bool {
    // A `HeaderName`, not a `&str`: a string key is parsed into a name on
    // every lookup.
    static GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");
    status.is_server_error() || headers.get(&GRPC_STATUS).is_some_and(|v| v.as_bytes() != b"0")
}

/// `true` when the headers say `content-type: application/grpc*`.
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    // Media types ignore case.
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().get(..16).is_some_and(|p| p.eq_ignore_ascii_case(b"application/grpc")))
}

/// The host of an authority (`user@host:port`, `[v6]:port`), the way
/// `http::Uri::host` reads it.
fn authority_host(authority: &str) -> &str {
    match authority.as_bytes().iter().rposition(|&c| c == b'@') {
        Some(at) => strip_port(&authority[at + 1..]),
        None => strip_port(authority),
    }
}

/// A host without one trailing dot: the root of the DNS tree, which names
/// the same host. (A lone `.` stays.) Host patterns are read the same way.
pub(crate) fn strip_root_dot(host: &str) -> &str {
    // The cut is before an ASCII byte, so it is a char boundary.
    &host[..strip_root_dot_bytes(host.as_bytes()).len()]
}

/// [`strip_root_dot`] on bytes.
fn strip_root_dot_bytes(host: &[u8]) -> &[u8] {
    match host {
        [rest @ .., b'.'] if !rest.is_empty() => rest,
        _ => host,
    }
}

/// `host:port` or `[v6]:port` without the port.
fn strip_port(host_port: &str) -> &str {
    // The cut is at an ASCII byte, so it is a char boundary.
    let end = strip_port_bytes(host_port.as_bytes()).len();
    &host_port[..end]
}

/// [`strip_port`] on bytes. Scans back over the port's digits only, so a
/// host without a port costs one byte's look.
fn strip_port_bytes(b: &[u8]) -> &[u8] {
    if b.first() == Some(&b'[') {
        return b.iter().position(|&c| c == b']').map_or(b, |end| &b[..=end]);
    }
    let mut i = b.len();
    while i > 0 && b[i - 1].is_ascii_digit() {
        i -= 1;
    }
    if i > 0 && b[i - 1] == b':' { &b[..i - 1] } else { b }
}

#[cfg(test)]
mod tests {
    use super::{authority_host, strip_port};

    /// Faults in flight hold their rule by a handle of the deciding
    /// thread's counter stripe: one handle per stripe, so threads that
    /// fault on one rule at once never write the same reference count.
    #[test]
    fn faults_hold_their_rule_by_their_threads_handle() {
        use crate::config::{Abort, Config, Rule};
        use crate::engine::current::stripe;
        use crate::{Chaos, Door, Target};
        use std::sync::Arc;

        let abort = Abort::status(503).percentage(100.0).body("later").header("x-why", "chaos");
        let chaos = Chaos::new(Config::new().rule(Rule::new("boom").abort(abort))).expect("valid config");
        let decide = || {
            let decision = chaos.decide(&Target::new(Door::Service).name("svc"));
            let injection = decision.injection.as_ref().expect("every call is aborted");
            (Arc::clone(&injection.rule), stripe())
        };
        let ((a, stripe_a), (again, _)) = (decide(), decide());
        assert!(Arc::ptr_eq(&a, &again), "one thread takes one handle");
        assert_eq!(&*a.name, "boom");
        let fault = chaos.decide(&Target::new(Door::Service)).fault().expect("every call is aborted");
        assert_eq!((fault.rule(), fault.http_status().as_u16()), ("boom", 503));
        let (b, stripe_b) = std::thread::scope(|s| s.spawn(decide).join().expect("no panic"));
        assert_eq!(&*b.name, "boom");
        // Threads that own distinct stripes hold distinct handles; threads
        // that share the last stripe (more threads than owned stripes, as in
        // a busy test run) share its handle.
        assert_eq!(Arc::ptr_eq(&a, &b), stripe_a == stripe_b, "stripes {stripe_a} and {stripe_b}");
        // Each handle answers aborts from its own copy: same bytes, not
        // the same allocation as the rule's or another stripe's.
        let (rule, own) = (a.abort.as_ref().expect("an abort"), a.own_abort.as_ref().expect("a copy"));
        assert_eq!(
            (&own.body, &own.http_headers, &own.grpc_headers),
            (&rule.body, &rule.http_headers, &rule.grpc_headers)
        );
        assert_eq!(own.http_headers.get("x-why").map(|v| v.as_bytes()), Some(&b"chaos"[..]));
        assert_ne!(own.body.as_ptr(), rule.body.as_ptr());
        let other = b.own_abort.as_ref().expect("a copy");
        assert_eq!(own.body.as_ptr() == other.body.as_ptr(), stripe_a == stripe_b);
    }

    #[test]
    fn hosts_of_authorities_agree_with_http() {
        for a in
            ["example.com", "example.com:8080", "user:pw@example.com:1", "[::1]", "[::1]:8080", "u@[fe80::1]:9", "h:"]
        {
            let uri: http::Uri = format!("http://{a}/").parse().unwrap();
            assert_eq!(authority_host(a), uri.host().unwrap(), "{a}");
            if !a.contains('@') {
                assert_eq!(strip_port(a), uri.host().unwrap(), "{a} as a Host header");
            }
        }
    }
}

/// What the engine decided for one call: pass, or inject a delay, a failure
/// (an abort, an error, a timeout, a partition or a lost call), or both
/// (the delay first).
///
/// The doors act on it; code that calls [`Chaos::decide`] directly acts on
/// it as they do: wait [`total_wait`](Self::total_wait), then end it with
/// [`into_fault`](Self::into_fault), which counts and traces the failure.
/// A decision whose failure waits itself (a timeout, a loss, a
/// partition's connect delay), dropped before `into_fault`, counts the
/// failure too: its caller gave up during the wait.
///
/// ```
/// use mischief::config::{Abort, Config, Rule};
/// use mischief::{Chaos, Door, Target};
///
/// let chaos = Chaos::new(Config::new().rule(Rule::new("down").abort(Abort::status(503).percentage(100.0)))).unwrap();
/// let decision = chaos.decide(&Target::new(Door::Service).name("queue"));
/// std::thread::sleep(decision.total_wait()); // in async code, `tokio::time::sleep`
/// let fault = decision.into_fault(&chaos).expect("every call fails");
/// // Fail the call with `fault` instead of making it.
/// assert_eq!(fault.http_status().as_u16(), 503);
/// assert_eq!(chaos.status().rule("down").unwrap().aborted, 1);
/// ```
#[derive(Debug)]
#[must_use]
pub struct Decision {
    /// Boxed: a pass is a null pointer returned in a register, and the box
    /// is only allocated when a fault is injected.
    injection: Option<Box<Injection>>,
    /// Set on a pass when the guardrails want the call's outcome.
    observe: bool,
}

impl Decision {
    /// Nothing is injected.
    pub const PASS: Decision = Decision { injection: None, observe: false };

    #[inline]
    pub(crate) fn pass(observe: bool) -> Self {
        Decision { injection: None, observe }
    }

    pub(crate) fn inject(injection: Injection) -> Self {
        Decision { injection: Some(Box::new(injection)), observe: false }
    }

    /// Should the door time the call and report its outcome with
    /// `Chaos::record_outcome`? (Only passes, and only when abort
    /// conditions are configured; an injection says so in its own
    /// `observe`, for a call that reaches the service after its delay.)
    #[inline]
    #[cfg_attr(not(any(feature = "tower", feature = "client")), allow(dead_code))]
    pub(crate) fn observe(&self) -> bool {
        self.observe
    }

    /// `true` when nothing is injected.
    #[inline]
    pub fn is_pass(&self) -> bool {
        self.injection.is_none()
    }

    /// How long to wait before going on (or before aborting).
    pub fn delay(&self) -> Option<Duration> {
        self.injection.as_ref()?.delay
    }

    /// The fault to fail with after the delay, if the call is to fail. Only
    /// a look: the rule's status counts the failure when
    /// [`into_fault`](Self::into_fault) confirms it.
    pub fn fault(&self) -> Option<InjectedFault> {
        let inj = self.injection.as_ref()?;
        inj.failure.map(|_| inj.fault())
    }

    /// How long to hold the call in all before failing it: the delay plus
    /// the failure's own wait (a timeout's `after`, a loss's `timeout`, a
    /// partition's `connect_delay`).
    pub fn total_wait(&self) -> Duration {
        self.injection.as_ref().map_or(Duration::ZERO, |i| i.total_wait())
    }

    /// Ends the decision after its wait, as the doors do: the fault to fail
    /// the call with, counted in the rule's status (`aborted`, `errored`
    /// ...) and traced; or `None` when the call goes on: nothing to fail
    /// with, or chaos was switched off (or a guardrail tripped) since the
    /// decision. The fault in flight ends here too, for `max_active_faults`.
    /// Pass the handle that decided: its switch is the one checked.
    pub fn into_fault(self, chaos: &Chaos) -> Option<InjectedFault> {
        let mut injection = self.injection?;
        injection.confirm_failure(chaos).then(|| injection.fault())
    }

    /// The name of the rule that decided, unless the call passes.
    pub fn rule(&self) -> Option<&str> {
        Some(&self.injection.as_ref()?.rule.name)
    }

    #[inline]
    pub(crate) fn into_injection(self) -> Option<Box<Injection>> {
        self.injection
    }
}

/// A fault the engine decided to inject, holding its rule.
#[derive(Debug)]
pub(crate) struct Injection {
    /// The rule, by the handle of the deciding thread's stripe.
    pub(crate) rule: Arc<RuleHandle>,
    /// The injected latency, if any.
    pub(crate) delay: Option<Duration>,
    /// The failure to end the call with, as an index into `rule.failures`.
    pub(crate) failure: Option<usize>,
    /// Held while the fault is in flight, for `max_active_faults`; only its
    /// drop matters.
    #[cfg(feature = "guard")]
    #[allow(dead_code)]
    pub(crate) slot: Option<crate::guard::ActiveSlot>,
    /// Did the guardrails' `max_injections` give this fault an allowance
    /// (to give back if it is cancelled before anything was injected)?
    #[cfg(feature = "guard")]
    pub(crate) guard_allowance: bool,
    /// A failure that waits (see [`failure_waits`]), decided and not yet
    /// ended: [`confirm_failure`] clears it. An injection dropped with it
    /// set was abandoned during its wait (the caller gave up: a client
    /// timeout, a closed connection), and its drop counts the failure: the
    /// caller saw the call fail.
    ///
    /// [`failure_waits`]: Injection::failure_waits
    ///
    /// [`confirm_failure`]: Injection::confirm_failure
    pub(crate) pending: bool,
    /// Do the guardrails want the outcome of the call, should it reach the
    /// service after its delay? (As [`Decision::observe`] for a pass.)
    #[cfg_attr(not(any(feature = "tower", feature = "client")), allow(dead_code))]
    pub(crate) observe: bool,
}

impl Injection {
    fn failure(&self) -> Option<&CompiledFailure> {
        self.rule.failures.get(self.failure?)
    }

    /// Does the failure wait before it fails the call (a timeout's
    /// `after`, a loss's `timeout`, a partition's `connect_delay`)?
    pub(crate) fn failure_waits(&self) -> bool {
        self.failure().is_some_and(|f| !f.wait.is_zero())
    }

    /// The kind of failure this injection ends the call with.
    pub(crate) fn failure_kind(&self) -> Option<FaultKind> {
        self.failure().map(|f| f.kind)
    }

    /// How long the call is held in all: the injected latency plus the
    /// failure's own wait (timeout, loss, connect delay). Saturating: a
    /// wait written as "forever" (`Duration::MAX`) plus a delay stays
    /// "forever" instead of overflowing in the request path.
    pub(crate) fn total_wait(&self) -> Duration {
        self.delay.unwrap_or_default().saturating_add(self.failure().map_or(Duration::ZERO, |f| f.wait))
    }

    /// The abort settings, when this injection aborts.
    pub(crate) fn abort_spec(&self) -> Option<&CompiledAbort> {
        // The handle's own copy: cloning from it writes no line other
        // threads' faults write.
        if self.failure_kind() == Some(FaultKind::Abort) { self.rule.own_abort.as_ref() } else { None }
    }

    /// The error a door that fails the call returns.
    pub(crate) fn fault(&self) -> InjectedFault {
        let (kind, status, grpc) = self.answer();
        InjectedFault::new(Arc::clone(&self.rule), kind, status, grpc, self.failure)
    }

    /// The fault of a call whose own deadline passed during this
    /// injection's wait (the client door, with a request timeout shorter
    /// than the wait): kind `timeout`, with that kind's answers. Not a
    /// failure of the rule's, so not counted here; when the rule's failure
    /// waits itself (a loss, a timeout), the injection's drop counts it, as
    /// for any caller that gives up during that wait.
    #[cfg(feature = "client")]
    pub(crate) fn deadline_passed(&self) -> InjectedFault {
        let (status, grpc) = FaultKind::Timeout.default_answer();
        InjectedFault::new(Arc::clone(&self.rule), FaultKind::Timeout, status, grpc, None)
    }

    /// The kind of the failure, and the HTTP status and gRPC code a door
    /// answers it with: the abort's own, or the kind's defaults.
    fn answer(&self) -> (FaultKind, StatusCode, GrpcCode) {
        let kind = self.failure_kind().unwrap_or(FaultKind::Abort);
        let (status, grpc) = match self.abort_spec() {
            Some(a) => (a.status, a.grpc),
            None => kind.default_answer(),
        };
        (kind, status, grpc)
    }

    /// Called by a door when it is about to fail the call (at once, or after
    /// the wait). Returns `false` when the kill switch went off (or the
    /// guardrails tripped) since the decision, during its wait or while it
    /// was being made on this thread: then the call must go on instead, and
    /// a wait it was held for is counted as a delay (if a delay was not
    /// counted already). Counts and traces the failure otherwise. Either way
    /// the injection is ended: its drop counts nothing more.
    pub(crate) fn confirm_failure(&mut self, chaos: &Chaos) -> bool {
        self.pending = false;
        let Some(failure) = self.failure() else { return false };
        if !chaos.is_injecting() {
            tracing::debug!(target: "mischief", rule = %self.rule.name, fault = failure.kind.as_str(), "fault cancelled: chaos was disabled since it was decided");
            if self.delay.is_none() && self.total_wait().is_zero() {
                // Never held: not injected after all. The allowances go
                // back (the rule's, and the guardrails'), and the call counts
                // as skipped (under the guard's `tripped` too, if that is
                // why). (A delay that came out as zero was counted as
                // injected already.)
                self.rule.stats.add(Count::Skipped);
                self.rule.give_back_injection();
                #[cfg(feature = "guard")]
                chaos.cancelled_before_injection(self.guard_allowance);
            } else if self.delay.is_none() {
                // A call held all the same was delayed, as far as the caller
                // can tell, and it keeps the allowances it took.
                self.rule.stats.add(Count::Delayed);
            }
            return false;
        }
        self.count_failure(failure, false);
        true
    }

    /// Counts the failure in the rule's status and traces it; `abandoned`
    /// when the caller gave up during the wait.
    fn count_failure(&self, failure: &CompiledFailure, abandoned: bool) {
        self.rule.stats.add(match failure.kind {
            FaultKind::Abort | FaultKind::Delay => Count::Aborted,
            FaultKind::Error => Count::Errored,
            FaultKind::Timeout => Count::TimedOut,
            FaultKind::Partition => Count::Partitioned,
            FaultKind::Loss => Count::Lost,
        });
        // The answer, not the error: building an `InjectedFault` here would
        // take a reference on the rule only to log two codes.
        let (_, status, grpc) = self.answer();
        tracing::debug!(
            target: "mischief",
            rule = %self.rule.name,
            fault = failure.kind.as_str(),
            status = status.as_u16(),
            grpc_status = grpc.as_i32(),
            wait_ms = failure.wait.as_secs_f64() * 1e3,
            abandoned,
            "injected fault"
        );
    }
}

/// A failure still pending when its injection is dropped was abandoned
/// during its wait: the caller gave up (its own timeout, a closed
/// connection, a cancelled task) while the call was held. Counted then, as
/// the failure the caller saw.
impl Drop for Injection {
    fn drop(&mut self) {
        if self.pending
            && let Some(failure) = self.failure()
        {
            self.count_failure(failure, true);
        }
    }
}
