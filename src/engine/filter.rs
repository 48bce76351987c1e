//! A per-rule prefilter: a few integer comparisons that reject most
//! non-matching rules before any string work.
//!
//! Each rule keeps a [`Filter`] of necessary conditions derived from its
//! `match`: the doors and methods it allows as bit sets, and up to 8 literal
//! bytes its path, host and name must start (or end) with, as a masked
//! `u64`. A call's side of the comparison is computed once per decision in
//! [`Facts`](super::matcher::Facts). A filter only ever rejects calls the
//! full matcher would reject too; what it admits is checked in full.

use http::Method;

use crate::config::{Match, StrMatch};

/// Bit sets where every bit is set: "any".
const ANY_DOOR: u8 = u8::MAX;
const ANY_METHOD: u16 = u16::MAX;
/// The bit of methods other than the nine standard ones.
const OTHER_METHOD: u16 = 1 << 15;

/// The bit of a method in a method set.
#[inline]
pub(crate) fn method_bit(m: &Method) -> u16 {
    const STANDARD: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::PATCH,
        Method::CONNECT,
        Method::TRACE,
    ];
    STANDARD.iter().position(|s| s == m).map_or(OTHER_METHOD, |i| 1 << i)
}

/// Up to 8 bytes of a string, as a `u64`: the first bytes (`head`) or the
/// last bytes, right-aligned (`tail`); missing bytes are zero.
#[inline]
pub(crate) fn head(s: &str) -> u64 {
    let b = s.as_bytes();
    if let Some(first) = b.first_chunk::<8>() {
        return u64::from_le_bytes(*first);
    }
    // Shorter than 8 bytes: a byte loop (a variable-length copy would call memcpy).
    b.iter().enumerate().fold(0, |acc, (i, &c)| acc | u64::from(c) << (8 * i))
}

#[inline]
pub(crate) fn tail(s: &str) -> u64 {
    let b = s.as_bytes();
    if let Some(last) = b.last_chunk::<8>() {
        return u64::from_le_bytes(*last);
    }
    let skip = 8 - b.len();
    b.iter().enumerate().fold(0, |acc, (i, &c)| acc | u64::from(c) << (8 * (i + skip)))
}

/// Where in the string the literal bytes of a [`Word`] sit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum End {
    #[default]
    Head,
    Tail,
}

/// "The string's head (or tail) masked by `mask` equals `value`"; a zero
/// mask admits everything.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Word {
    pub(crate) end: End,
    mask: u64,
    value: u64,
}

impl Word {
    fn literal_head(lit: &str) -> Self {
        let n = lit.len().min(8);
        let mask = if n == 8 { u64::MAX } else { (1u64 << (8 * n)) - 1 };
        Word { end: End::Head, mask, value: head(lit) & mask }
    }

    fn literal_tail(lit: &str) -> Self {
        let n = lit.len().min(8);
        let mask = if n == 8 { u64::MAX } else { !(u64::MAX >> (8 * n)) };
        Word { end: End::Tail, mask, value: tail(lit) & mask }
    }

    /// The necessary condition of a string matcher.
    fn of(m: Option<&StrMatch>) -> Self {
        match m {
            None => Word::default(),
            Some(StrMatch::Exact(s) | StrMatch::Prefix(s)) => Word::literal_head(s),
            Some(StrMatch::Glob(g)) => {
                let first = g.split('*').next().unwrap_or_default();
                let last = g.rsplit('*').next().unwrap_or_default();
                if !first.is_empty() || last.is_empty() { Word::literal_head(first) } else { Word::literal_tail(last) }
            }
        }
    }

    #[inline]
    pub(crate) fn is_any(&self) -> bool {
        self.mask == 0
    }

    #[inline]
    pub(crate) fn admits(&self, word: u64) -> bool {
        word & self.mask == self.value
    }
}

/// The necessary conditions of one rule's `match`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Filter {
    doors: u8,
    methods: u16,
    pub(crate) path: Word,
    pub(crate) host: Word,
    pub(crate) name: Word,
}

impl Filter {
    pub(crate) fn of(m: &Match) -> Self {
        let doors = if m.door.is_empty() { ANY_DOOR } else { m.door.iter().fold(0, |acc, d| acc | d.bit()) };
        let methods = if m.method.is_empty() {
            ANY_METHOD
        } else {
            m.method.iter().fold(0, |acc, s| {
                acc | Method::from_bytes(s.trim().to_ascii_uppercase().as_bytes())
                    .map_or(OTHER_METHOD, |m| method_bit(&m))
            })
        };
        Filter {
            doors,
            methods,
            path: Word::of(m.path.as_ref()),
            host: Word::of(m.host.as_ref()),
            name: Word::of(m.name.as_ref()),
        }
    }

    /// `false` when the call cannot match the rule; `true` when it may.
    #[inline]
    pub(crate) fn admits(&self, door_bit: u8, method_bit: impl FnOnce() -> u16) -> bool {
        self.doors & door_bit != 0 && (self.methods == ANY_METHOD || self.methods & method_bit() != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Match;

    fn admits(w: Word, s: &str) -> bool {
        w.admits(match w.end {
            End::Head => head(s),
            End::Tail => tail(s),
        })
    }

    #[test]
    fn words_never_reject_a_match() {
        let cases = [
            (StrMatch::Exact("/api/users".into()), "/api/users", true),
            (StrMatch::Exact("/api/users".into()), "/api/items", false),
            (StrMatch::Prefix("/a".into()), "/a", true),
            (StrMatch::Prefix("/ab".into()), "/a", false),
            (StrMatch::Prefix("/internal/v1".into()), "/internal/v1/x", true),
            (StrMatch::Glob("*.internal".into()), "db.internal", true),
            (StrMatch::Glob("*.internal".into()), "api.example.com", false),
            (StrMatch::Glob("*l".into()), "l", true),
            (StrMatch::Glob("*".into()), "", true),
            (StrMatch::Glob("pay*".into()), "payments.charge", true),
            (StrMatch::Glob("pay*".into()), "pa", false),
        ];
        for (m, s, want) in cases {
            assert_eq!(admits(Word::of(Some(&m)), s), want, "{m:?} vs {s:?}");
        }
        assert!(Word::of(None).is_any());
    }

    #[test]
    fn methods_and_doors() {
        let f = Filter::of(&Match::new().method("delete").door(crate::Door::Http));
        assert!(f.admits(crate::Door::Http.bit(), || method_bit(&Method::DELETE)));
        assert!(!f.admits(crate::Door::Http.bit(), || method_bit(&Method::GET)));
        assert!(!f.admits(crate::Door::Client.bit(), || method_bit(&Method::DELETE)));
        let any = Filter::of(&Match::new());
        assert!(any.admits(crate::Door::Point.bit(), || 0));
        let ext = Filter::of(&Match::new().method("PURGE"));
        assert!(ext.admits(crate::Door::Http.bit(), || method_bit(&Method::from_bytes(b"PURGE").unwrap())));
    }
}
