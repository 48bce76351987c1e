//! Pre-compiled matchers: string patterns, globs, and the per-rule `match`.

use std::cell::OnceCell;

use http::{HeaderName, HeaderValue, Method};

#[cfg(test)]
use super::filter::{Filter, Signature};
use crate::config::{ConfigError, Match, StrMatch};
use crate::engine::Target;

/// A glob with `*` as its only wildcard, split into its literal pieces.
#[derive(Debug)]
pub(crate) struct Glob {
    /// Literal pieces between stars; at least two (a leading and a trailing
    /// piece, either possibly empty).
    parts: Box<[Box<str>]>,
    min_len: usize,
}

impl Glob {
    pub(crate) fn new(pattern: &str) -> Self {
        let parts: Box<[Box<str>]> = pattern.split('*').map(Box::from).collect();
        let min_len = parts.iter().map(|p| p.len()).sum();
        Self { parts, min_len }
    }

    pub(crate) fn matches(&self, s: &str) -> bool {
        self.matches_by(s, |a, b| a.iter().zip(b).all(|(x, y)| x == y), |hay, piece| hay.find(piece))
    }

    /// As [`matches`](Self::matches), ignoring ASCII case in `s`; the
    /// pattern is lower case (host patterns are, once compiled).
    fn matches_folded(&self, s: &str) -> bool {
        self.matches_by(s, <[u8]>::eq_ignore_ascii_case, |hay, piece| {
            hay.as_bytes().windows(piece.len()).position(|w| w.eq_ignore_ascii_case(piece.as_bytes()))
        })
    }

    /// The glob's match with `eq` comparing equal-length byte runs and
    /// `find` locating a piece in a string. Cuts stay on char boundaries:
    /// `eq` and `find` compare bytes above ASCII exactly, so a run that
    /// equals a piece starts and ends where the piece's characters do.
    #[inline(always)]
    fn matches_by(
        &self,
        s: &str,
        eq: impl Fn(&[u8], &[u8]) -> bool,
        find: impl Fn(&str, &str) -> Option<usize>,
    ) -> bool {
        let (first, rest) = match self.parts.split_first() {
            Some(x) => x,
            None => return s.is_empty(),
        };
        let b = s.as_bytes();
        let Some((last, middle)) = rest.split_last() else {
            return b.len() == first.len() && eq(b, first.as_bytes());
        };
        if b.len() < self.min_len
            || !eq(&b[..first.len()], first.as_bytes())
            || !eq(&b[b.len() - last.len()..], last.as_bytes())
        {
            return false;
        }
        // Leftmost matching of each middle piece is optimal for `*`-only globs.
        let mut hay = &s[first.len()..s.len() - last.len()];
        for piece in middle.iter().filter(|p| !p.is_empty()) {
            match find(hay, piece) {
                Some(i) => hay = &hay[i + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

/// A host pattern as it is matched: lower case (host names are
/// case-insensitive, and the call's host is compared ignoring case), without
/// one trailing dot (`example.com.` is `example.com`, as the call's host is
/// read), and an IPv6 address in brackets, as URIs and `Host` headers
/// write it (`::1` is `[::1]`).
pub(crate) fn host_pattern(m: &StrMatch) -> StrMatch {
    // Only an IPv6 address has a colon once the port is gone.
    let bracketed = |s: &str, close: &str| {
        if s.contains(':') && !s.starts_with('[') { format!("[{s}{close}") } else { s.to_owned() }
    };
    let norm = |s: &str| bracketed(crate::engine::decision::strip_root_dot(s), "]").to_ascii_lowercase();
    match m {
        StrMatch::Exact(s) => StrMatch::Exact(norm(s)),
        StrMatch::Prefix(s) => StrMatch::Prefix(bracketed(s, "").to_ascii_lowercase()),
        StrMatch::Glob(s) => StrMatch::Glob(norm(s)),
    }
}

/// Refuses a path pattern that no request path can match: a request's path
/// starts with `/` (or is `*`, in `OPTIONS *`) and is read without its
/// query.
fn check_path(p: &str) -> Result<(), String> {
    if !p.is_empty() && !p.starts_with(['/', '*']) {
        return Err("does not start with `/`, as every request path does".into());
    }
    if p.contains('?') {
        return Err("has a `?`: the path is matched without its query (and only `*` is a wildcard)".into());
    }
    Ok(())
}

/// Refuses a host pattern that is not ASCII (a host arrives as punycode),
/// or with a port or a scheme, which no call's host has: the host is read
/// without its port (match that with `port`). A
/// colon is allowed only in an IPv6 address, with or without brackets (a
/// zone, `%25eth0`, included), or in a prefix or glob of one: hex digits,
/// colons, `*`, and dots only after the last colon (an IPv4-mapped
/// address); one colon with only a number after it is a port.
fn check_host(h: &StrMatch) -> Result<(), String> {
    let p = h.pattern();
    if !p.is_ascii() {
        // Clients send, and URLs hold, a name's ASCII form.
        return Err("is not ASCII: a host arrives in its ASCII form (`xn--bcher-kva.example` for \
                    `bücher.example`)"
            .into());
    }
    if !p.contains(':') {
        return Ok(());
    }
    let ipv6 = match p.strip_prefix('[') {
        // A prefix may stop before the closing bracket.
        Some(rest) => match rest.strip_suffix(']') {
            Some(inner) => ipv6_pattern(h, inner),
            None => matches!(h, StrMatch::Prefix(_)) && ipv6_pattern(h, rest),
        },
        None => !p.contains(']') && ipv6_pattern(h, p),
    };
    if ipv6 {
        Ok(())
    } else {
        Err("has a colon but is not an IPv6 address: a host is matched without scheme or port (match the port \
             with `port`)"
            .into())
    }
}

/// Is `s` (without brackets) an IPv6 address, or for a prefix or glob, the
/// start or shape of one?
fn ipv6_pattern(h: &StrMatch, s: &str) -> bool {
    // A zone (`fe80::1%25eth0`, as a URI writes it) names an interface.
    let addr = s.split_once('%').map_or(s, |(addr, _)| addr);
    match h {
        StrMatch::Exact(_) => addr.parse::<std::net::Ipv6Addr>().is_ok(),
        StrMatch::Prefix(_) | StrMatch::Glob(_) => {
            let (before, after) = addr.rsplit_once(':').unwrap_or((addr, ""));
            // `*:8443`, `cafe:80`: one colon and a number after it is a port.
            let port = !before.contains(':') && !after.is_empty() && after.bytes().all(|b| b.is_ascii_digit());
            addr.bytes().all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.' | b'*'))
                && !before.contains('.')
                && !port
        }
    }
}

// Patterns and the strings they are matched against are short (paths,
// hosts, names), and most comparisons fail in the first bytes: an inlined
// byte loop that stops at the first difference beats a call to `memcmp`.

#[inline]
fn starts_with(s: &str, p: &str) -> bool {
    s.len() >= p.len() && s.bytes().zip(p.bytes()).all(|(a, b)| a == b)
}

/// A compiled [`StrMatch`].
#[derive(Debug)]
pub(crate) enum StrMatcher {
    Exact(Box<str>),
    Prefix(Box<str>),
    Glob(Glob),
}

impl StrMatcher {
    pub(crate) fn compile(m: &StrMatch) -> Result<Self, String> {
        if m.pattern().is_empty() {
            return Err("the pattern must not be empty".into());
        }
        Ok(match m {
            StrMatch::Exact(s) => StrMatcher::Exact(s.as_str().into()),
            StrMatch::Prefix(s) => StrMatcher::Prefix(s.as_str().into()),
            StrMatch::Glob(s) if !s.contains('*') => StrMatcher::Exact(s.as_str().into()),
            StrMatch::Glob(s) => StrMatcher::Glob(Glob::new(s)),
        })
    }

    #[inline]
    pub(crate) fn matches(&self, s: &str) -> bool {
        match self {
            StrMatcher::Exact(p) => s.len() == p.len() && starts_with(s, p),
            StrMatcher::Prefix(p) => starts_with(s, p),
            StrMatcher::Glob(g) => g.matches(s),
        }
    }

    /// As [`matches`](Self::matches), ignoring ASCII case in `s` against a
    /// lower-case pattern: for hosts.
    fn matches_folded(&self, s: &str) -> bool {
        let b = s.as_bytes();
        match self {
            StrMatcher::Exact(p) => b.len() == p.len() && b.eq_ignore_ascii_case(p.as_bytes()),
            StrMatcher::Prefix(p) => b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p.as_bytes()),
            StrMatcher::Glob(g) => g.matches_folded(s),
        }
    }
}

#[derive(Debug)]
struct HeaderCond {
    name: HeaderName,
    /// `Some`: must equal; `None`: must be present (`present`) or absent.
    equals: Option<HeaderValue>,
    present: bool,
}

/// A compiled [`Match`].
#[derive(Debug)]
pub(crate) struct Matcher {
    /// `true` when no condition is set: every call matches.
    any: bool,
    /// Bit set of doors; 0 means any door.
    doors: u8,
    methods: Box<[Method]>,
    path: Option<StrMatcher>,
    host: Option<StrMatcher>,
    port: Option<u16>,
    name: Option<StrMatcher>,
    headers: Box<[HeaderCond]>,
    grpc_service: Option<StrMatcher>,
    grpc_method: Option<StrMatcher>,
}

impl Matcher {
    pub(crate) fn compile(m: &Match, index: usize, rule: &str) -> Result<Self, ConfigError> {
        let err = |field: &str, value: &dyn std::fmt::Debug, reason: String| {
            ConfigError::field(index, rule, format!("match.{field}"), value, reason)
        };
        let str_matcher = |field: &str, m: &Option<StrMatch>| -> Result<Option<StrMatcher>, ConfigError> {
            m.as_ref().map(|m| StrMatcher::compile(m).map_err(|reason| err(field, &m.pattern(), reason))).transpose()
        };
        let methods = m
            .method
            .iter()
            .map(|s| {
                Method::from_bytes(s.trim().to_ascii_uppercase().as_bytes())
                    .map_err(|_| err("method", s, "not a valid HTTP method".into()))
            })
            .collect::<Result<Box<[Method]>, _>>()?;
        let headers = m
            .headers
            .iter()
            .map(|h| {
                let name = HeaderName::from_bytes(h.name.trim().as_bytes())
                    .map_err(|_| err("headers.name", &h.name, "not a valid header name".into()))?;
                let equals = h
                    .equals
                    .as_ref()
                    .map(|v| {
                        if v.trim_matches([' ', '\t']) != v {
                            // HTTP parsers strip them from received values.
                            return Err(err(
                                "headers.equals",
                                v,
                                "starts or ends with whitespace, which HTTP parsers strip from a received value".into(),
                            ));
                        }
                        HeaderValue::from_str(v)
                            .map_err(|_| err("headers.equals", v, "not a valid header value".into()))
                    })
                    .transpose()?;
                if equals.is_some() && h.present == Some(false) {
                    return Err(err(
                        "headers.present",
                        &false,
                        format!("header {:?} cannot both equal a value and be absent", h.name),
                    ));
                }
                Ok(HeaderCond { name, equals, present: h.present.unwrap_or(true) })
            })
            .collect::<Result<Box<[HeaderCond]>, _>>()?;
        Ok(Matcher {
            any: m.is_empty(),
            doors: m.door.iter().fold(0, |acc, d| acc | d.bit()),
            methods,
            path: m
                .path
                .as_ref()
                .map(|p| {
                    check_path(p.pattern())
                        .and_then(|()| StrMatcher::compile(p))
                        .map_err(|reason| err("path", &p.pattern(), reason))
                })
                .transpose()?,
            host: m
                .host
                .as_ref()
                .map(|h| {
                    check_host(h)
                        .and_then(|()| StrMatcher::compile(&host_pattern(h)))
                        .map_err(|reason| err("host", &h.pattern(), reason))
                })
                .transpose()?,
            port: m.port,
            name: str_matcher("name", &m.name)?,
            headers,
            grpc_service: str_matcher("grpc_service", &m.grpc_service)?,
            grpc_method: str_matcher("grpc_method", &m.grpc_method)?,
        })
    }

    /// Does the call match? Cheap checks (door, method) come first; the
    /// path, host, port and gRPC parts are derived once per decision (in
    /// `Facts`) and only when a condition needs them.
    #[inline]
    pub(crate) fn matches(&self, f: &Facts<'_, '_>) -> bool {
        if self.any {
            return true;
        }
        self.matches_slow(f)
    }

    fn matches_slow(&self, f: &Facts<'_, '_>) -> bool {
        let t = f.target;
        if self.doors != 0 && self.doors & t.door.bit() == 0 {
            return false;
        }
        if !self.methods.is_empty() && !t.method.is_some_and(|m| self.methods.contains(m)) {
            return false;
        }
        if !opt_matches(&self.name, t.name) {
            return false;
        }
        if self.path.is_some() && !opt_matches(&self.path, *f.path.get_or_init(|| t.path_str())) {
            return false;
        }
        if self.port.is_some() && self.port != *f.port.get_or_init(|| t.port_number()) {
            return false;
        }
        if let Some(host) = &self.host
            && !f.host.get_or_init(|| t.host_name()).is_some_and(|h| host.matches_folded(h))
        {
            return false;
        }
        for h in self.headers.iter() {
            let ok = match (&h.equals, t.headers) {
                // Any of a header's values: a header sent twice (or gRPC
                // metadata repeated) matches on either.
                (Some(want), Some(map)) => map.get_all(&h.name).iter().any(|got| got == want),
                (Some(_), None) => false,
                (None, map) => map.is_some_and(|map| map.contains_key(&h.name)) == h.present,
            };
            if !ok {
                return false;
            }
        }
        if self.grpc_service.is_some() || self.grpc_method.is_some() {
            let Some((service, method)) = *f.grpc.get_or_init(|| t.grpc_parts()) else {
                return false;
            };
            if !opt_matches(&self.grpc_service, Some(service)) || !opt_matches(&self.grpc_method, Some(method)) {
                return false;
            }
        }
        true
    }
}

/// A call's target with the parts derived from it on demand, each at most
/// once per decision however many rules look at it.
#[derive(Debug)]
pub(crate) struct Facts<'t, 'a> {
    target: &'t Target<'a>,
    path: OnceCell<Option<&'a str>>,
    host: OnceCell<Option<&'a str>>,
    port: OnceCell<Option<u16>>,
    grpc: OnceCell<Option<(&'a str, &'a str)>>,
}

impl<'t, 'a> Facts<'t, 'a> {
    /// The facts of a call, none derived yet.
    #[inline(always)]
    pub(crate) fn new(target: &'t Target<'a>) -> Self {
        Facts { target, path: OnceCell::new(), host: OnceCell::new(), port: OnceCell::new(), grpc: OnceCell::new() }
    }

    /// Can the call match a rule with this filter? (What the index answers
    /// for all rules at once.)
    #[cfg(test)]
    pub(crate) fn admitted_by(&self, f: &Filter) -> bool {
        f.admits(&Signature::new(self.target, f.needs_method()))
    }
}

#[inline]
fn opt_matches(m: &Option<StrMatcher>, s: Option<&str>) -> bool {
    match m {
        None => true,
        Some(m) => s.is_some_and(|s| m.matches(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let cases = [
            ("payments.*", "payments.charge", true),
            ("payments.*", "payments.", true),
            ("payments.*", "payment.charge", false),
            ("*.internal", "db.internal", true),
            ("*.internal", "db.internal.example", false),
            ("/users/*/posts", "/users/42/posts", true),
            ("/users/*/posts", "/users/posts", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "acb", false),
            ("*", "", true),
            ("**", "anything", true),
            ("ab*ba", "aba", false),
            ("ab*ba", "abba", true),
        ];
        for (pattern, s, want) in cases {
            assert_eq!(Glob::new(pattern).matches(s), want, "{pattern} vs {s}");
        }
    }

    #[test]
    fn str_matchers() {
        let m = |sm: StrMatch, s: &str| StrMatcher::compile(&sm).unwrap().matches(s);
        assert!(m(StrMatch::auto("/health"), "/health"));
        assert!(!m(StrMatch::auto("/health"), "/healthz"));
        assert!(m(StrMatch::Prefix("/api".into()), "/api/v1"));
        assert!(m(StrMatch::Glob("/a*".into()), "/abc"));
        assert!(m(StrMatch::Glob("/exact".into()), "/exact"));
        assert!(StrMatcher::compile(&StrMatch::Exact(String::new())).is_err());
    }
}

#[cfg(test)]
mod prefilter_tests {
    use super::*;
    use crate::config::{Door, Match};

    /// The prefilter never rejects a call the full matcher accepts, for
    /// every pattern shape against many strings (paths, hosts, names).
    #[test]
    fn prefilters_are_necessary_conditions() {
        let strings = [
            "",
            "/",
            "/a",
            "/api",
            "/api/users/42",
            "/api/orders/7/items",
            "/internal/v1",
            "payments.charge",
            "payments.",
            "db.internal",
            "api.example.com",
            "x",
            "a-very-long-string-that-exceeds-eight-bytes",
            "/users/42/posts",
            "eu.payments.internal",
        ];
        let patterns: Vec<StrMatch> = [
            "/api",
            "/api/*",
            "*/posts",
            "/users/*/posts",
            "*",
            "payments.*",
            "*.internal",
            "*.payments.*",
            "x",
            "a-very-long-*",
            "*-eight-bytes",
            "/a*b*c",
        ]
        .iter()
        .flat_map(|p| {
            let p = p.to_string();
            [StrMatch::auto(p.clone()), StrMatch::Prefix(p.replace('*', "")), StrMatch::Exact(p.replace('*', "x"))]
        })
        .filter(|m| !m.pattern().is_empty())
        .collect();
        let method = Method::GET;
        let mut rejected = 0;
        for p in &patterns {
            let rules = [
                Match { path: Some(p.clone()), ..Match::new() },
                Match { host: Some(p.clone()), ..Match::new() },
                Match { name: Some(p.clone()), ..Match::new() },
            ];
            for when in rules {
                // A path that is not a request path's, or a host with a
                // colon, is refused; every name compiles.
                let matcher = match Matcher::compile(&when, 0, "r") {
                    Ok(matcher) => matcher,
                    Err(e) => {
                        let refused = e.to_string();
                        assert!(
                            when.name.is_none()
                                && (refused.contains("does not start with `/`") || refused.contains("has a colon")),
                            "{when:?}: {refused}"
                        );
                        continue;
                    }
                };
                let filter = Filter::of(&when);
                for s in strings {
                    let target = Target::new(Door::Http).method(&method).path(s).host(s).name(s);
                    let facts = Facts::new(&target);
                    if matcher.matches(&facts) {
                        assert!(facts.admitted_by(&filter), "{when:?} matches {s:?} but its filter rejects it");
                    } else if !facts.admitted_by(&filter) {
                        rejected += 1;
                    }
                }
            }
        }
        // And the filters do their job: most non-matching calls stop there.
        assert!(rejected > 600, "only {rejected} rejections");
    }

    /// The plan's index admits exactly the rules whose own filters admit
    /// a call, in rule order, across blocks of 64 and for every door and
    /// method (rules with several conditions, shared literals and none).
    #[test]
    fn index_admits_what_each_filter_admits() {
        use crate::engine::filter::Index;
        let strings = ["/api/users/42", "/internal/v1/x", "db.internal", "payments.charge", "", "x", "/api"];
        let patterns = ["/api/*", "/internal/v1", "*.internal", "payments.*", "x", "/api", "*"];
        let mut rules = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            let m = StrMatch::auto(p.to_string());
            rules.push(Match { path: Some(m.clone()), ..Match::new() });
            rules.push(Match { host: Some(m.clone()), ..Match::new() });
            rules.push(Match { name: Some(m.clone()), ..Match::new() }.door(Door::Point));
            rules.push(Match { path: Some(m.clone()), host: Some(m.clone()), ..Match::new() }.method("POST"));
            rules.push(Match { name: Some(m.clone()), ..Match::new() }.method(["GET", "DELETE", "PURGE"][i % 3]));
            rules.push(Match { path: Some(StrMatch::Prefix(p.replace('*', ""))), ..Match::new() }.door(Door::Http));
            rules.push(Match { host: Some(StrMatch::Exact(p.replace('*', "y"))), ..Match::new() });
        }
        rules.extend(rules.clone());
        // A rule that matches every call, late in the second block: the
        // calls that reach it stop there.
        rules.insert(rules.len() - 5, Match::new());
        assert!(rules.len() > 64, "the test must cross a block boundary");
        let filters: Vec<Filter> = rules.iter().map(Filter::of).collect();
        let index = Index::new(&filters);
        let methods = [Method::GET, Method::POST, Method::DELETE, Method::from_bytes(b"PURGE").unwrap()];
        let mut admitted = 0;
        for door in [Door::Http, Door::Client, Door::Point, Door::Service] {
            for method in methods.iter().map(Some).chain([None]) {
                for s in strings {
                    let mut target = Target::new(door).path(s).host(s).name(s);
                    if let Some(m) = method {
                        target = target.method(m);
                    }
                    let facts = Facts::new(&target);
                    let admitted_by: Vec<usize> =
                        (0..filters.len()).filter(|&i| facts.admitted_by(&filters[i])).collect();
                    // Every admitted rule is offered in order, up to the first
                    // that matches every call, which is the answer unasked.
                    let sure = admitted_by.iter().position(|&i| rules[i].is_empty());
                    let want = &admitted_by[..sure.unwrap_or(admitted_by.len())];
                    let mut got = Vec::new();
                    let first = index.first(&target, |i| {
                        got.push(i);
                        false
                    });
                    assert_eq!(first, sure.map(|p| admitted_by[p]), "{door:?} {method:?} {s:?}");
                    assert_eq!(got, want, "{door:?} {method:?} {s:?}");
                    // And the first candidate the caller accepts is the answer.
                    if let Some(&last) = want.last() {
                        assert_eq!(index.first(&target, |i| i == last), Some(last));
                    }
                    admitted += want.len();
                }
            }
        }
        assert!(admitted > 100, "the calls must reach some rules, got {admitted}");
    }
}
