//! Prefilters: a few integer comparisons that reject most non-matching
//! rules before any string work.
//!
//! Each rule has a [`Filter`] of necessary conditions derived from its
//! `match`: the doors and methods it allows as bit sets, and up to 8 literal
//! bytes its path, host and name must start (or end) with, as a masked
//! `u64`. A plan keeps its rules' filters as one [`Index`], which yields the
//! candidate rules of a call in one pass; the call's side is a
//! [`Signature`], whose words are read from the call only when a condition
//! still in play needs them. A filter only ever rejects calls the full
//! matcher would reject too; what it admits is checked in full.

use http::Method;

use crate::config::{Match, StrMatch};

/// Bit sets where every bit is set: "any".
const ANY_DOOR: u8 = u8::MAX;
const ANY_METHOD: u16 = u16::MAX;
/// The bit of methods other than the nine standard ones.
const OTHER_METHOD: u16 = 1 << 15;
/// The bit of a call without a method (a point, a service call): only
/// "any" includes it.
pub(crate) const NO_METHOD: u16 = 1 << 14;

/// The bit of a method in a method set.
#[inline]
pub(crate) fn method_bit(m: &Method) -> u16 {
    // A static, not a const: a const array of `Method`s would be built (and
    // dropped) at every call. In the order of `http`'s own representation,
    // which lets the compiler turn the search into arithmetic on it, with no
    // table to load (a cache miss in a server).
    static STANDARD: [Method; 9] = [
        Method::OPTIONS,
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::HEAD,
        Method::TRACE,
        Method::CONNECT,
        Method::PATCH,
    ];
    STANDARD.iter().position(|s| s == m).map_or(OTHER_METHOD, |i| 1 << i)
}

/// Up to 8 bytes of a string, as a `u64`: the first bytes (`head`) or the
/// last bytes, right-aligned (`tail`); missing bytes are zero.
#[inline]
pub(crate) fn head(s: &str) -> u64 {
    head_bytes(s.as_bytes())
}

#[inline]
pub(crate) fn tail(s: &str) -> u64 {
    tail_bytes(s.as_bytes())
}

#[inline]
fn head_bytes(b: &[u8]) -> u64 {
    if let Some(first) = b.first_chunk::<8>() {
        return u64::from_le_bytes(*first);
    }
    // Shorter than 8 bytes: a byte loop (a variable-length copy would call memcpy).
    b.iter().enumerate().fold(0, |acc, (i, &c)| acc | u64::from(c) << (8 * i))
}

#[inline]
fn tail_bytes(b: &[u8]) -> u64 {
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

    #[cfg(test)]
    pub(crate) fn is_any(&self) -> bool {
        self.mask == 0
    }

    #[cfg(test)]
    pub(crate) fn admits(&self, word: u64) -> bool {
        word & self.mask == self.value
    }
}

/// Positions of the words a [`Signature`] reads (head, then tail).
const PATH: u8 = 0;
const HOST: u8 = 2;
const NAME: u8 = 4;

/// "The signature word at `at`, masked by `mask`, equals `value`"; a zero
/// mask admits everything.
#[derive(Clone, Copy, Debug, Default)]
struct Cond {
    at: u8,
    mask: u64,
    value: u64,
}

impl Cond {
    /// The condition of a string matcher on the part whose head word is at
    /// `base` (its tail word follows it).
    fn of(base: u8, m: Option<&StrMatch>) -> Self {
        let w = Word::of(m);
        Cond { at: base + u8::from(w.end == End::Tail), mask: w.mask, value: w.value }
    }

    #[cfg(test)]
    fn holds(&self, sig: &Signature<'_, '_>) -> bool {
        self.mask == 0 || sig.word(self.at) & self.mask == self.value
    }
}

/// The necessary conditions of one rule's `match`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Filter {
    doors: u8,
    methods: u16,
    /// The `match` is empty: every call matches.
    matches_all: bool,
    /// Path, host, name: each one word of the signature, head or tail.
    conds: [Cond; 3],
}

/// What the prefilters compare against: the call's door and method bits,
/// and its path, host and name words, read from the target when a filter
/// asks (the host, from a `Host` header, only if a host condition is still
/// in play).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Signature<'t, 'a> {
    pub(crate) door: u8,
    pub(crate) method: u16,
    target: &'t crate::Target<'a>,
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
        let conds = [Cond::of(PATH, m.path.as_ref()), Cond::of(HOST, m.host.as_ref()), Cond::of(NAME, m.name.as_ref())];
        Filter { doors, methods, matches_all: m.is_empty(), conds }
    }

    /// Does this filter look at the call's method? (The other parts of a
    /// signature are read only when a condition asks.)
    pub(crate) fn needs_method(&self) -> bool {
        self.methods != ANY_METHOD
    }

    /// `false` when the call cannot match the rule; `true` when it may.
    /// Branch-free: two bit tests and three masked comparisons; parts a
    /// filter does not look at have a full bit set or a zero mask and always
    /// hold.
    #[cfg(test)]
    pub(crate) fn admits(&self, sig: &Signature<'_, '_>) -> bool {
        (self.doors & sig.door != 0) && (self.methods & sig.method != 0) && self.conds.iter().all(|c| c.holds(sig))
    }
}

impl<'t, 'a> Signature<'t, 'a> {
    /// The signature of a call: its door always, its method when some
    /// filter looks at methods (otherwise "no method", which every filter
    /// without methods admits).
    #[inline]
    pub(crate) fn new(target: &'t crate::Target<'a>, needs_method: bool) -> Self {
        let method = if needs_method { target.method.map_or(NO_METHOD, method_bit) } else { NO_METHOD };
        Signature { door: target.door.bit(), method, target }
    }

    /// The word at `at` (see `PATH`, `HOST`, `NAME`: head, then tail): up to
    /// 8 bytes of the part, zero when the call does not have it.
    #[inline]
    fn word(&self, at: u8) -> u64 {
        let t = self.target;
        let part = match at >> 1 {
            0 => t.path_str().map(str::as_bytes),
            1 => t.host_bytes(),
            _ => t.name.map(str::as_bytes),
        };
        part.map_or(0, |b| if at & 1 == 0 { head_bytes(b) } else { tail_bytes(b) })
    }
}

/// The filters of a whole plan, arranged so that one pass over a call's
/// signature yields the set of rules that may match it, without visiting
/// the rules one by one.
///
/// Rules go in blocks of 64, one bit each. Per block, a table maps each
/// (door, method) pair to the rules that admit both (one load where a door
/// table and a method table took two, on two cache lines); the string
/// conditions are grouped by word and mask (rules with the same literal
/// length at the same end share a group), and a group maps each literal to
/// the rules that need it. A call's candidates are its pair's rules and,
/// for each group, the rules outside it or whose literal is the call's: a
/// handful of loads and compares whatever the number of rules. A group
/// whose rules are all ruled out already is skipped, so a call's host (read
/// from its `Host` header) is looked at only while a host condition is
/// still in play. A candidate that matches every call (an empty `match`,
/// such as a trailing catch-all) is the answer without a full check.
#[derive(Debug, Default)]
pub(crate) struct Index {
    blocks: Box<[Block]>,
    /// Does any rule's filter look at the call's method?
    needs_method: bool,
}

#[derive(Debug)]
struct Block {
    /// The rules admitting each (door, method) pair, at `door * 16 + method`
    /// (bit positions).
    pairs: [u64; 8 * 16],
    /// The rules whose `match` is empty.
    sure: u64,
    groups: Box<[Group]>,
}

/// The conditions of several rules on one signature word, with one mask.
#[derive(Debug)]
struct Group {
    at: u8,
    mask: u64,
    /// The rules with a condition in this group.
    rules: u64,
    /// Each literal (masked word) and the rules it satisfies; literals are
    /// distinct.
    literals: Vec<(u64, u64)>,
}

impl Group {
    /// The rules this call does not rule out: those outside the group, and
    /// those whose literal it has.
    #[inline]
    fn admits(&self, sig: &Signature<'_, '_>) -> u64 {
        let word = sig.word(self.at) & self.mask;
        let hit = self.literals.iter().find(|(value, _)| *value == word).map_or(0, |(_, rules)| *rules);
        !self.rules | hit
    }
}

impl Index {
    /// The index of `filters`, one per rule in plan order.
    pub(crate) fn new(filters: &[Filter]) -> Self {
        let blocks = filters
            .chunks(64)
            .map(|chunk| {
                let mut block = Block { pairs: [0; 8 * 16], sure: 0, groups: Box::new([]) };
                let mut groups: Vec<Group> = Vec::new();
                for (i, f) in chunk.iter().enumerate() {
                    let bit = 1u64 << i;
                    for (cell, set) in block.pairs.iter_mut().enumerate() {
                        if f.doors & (1 << (cell / 16)) != 0 && f.methods & (1 << (cell % 16)) != 0 {
                            *set |= bit;
                        }
                    }
                    if f.matches_all {
                        block.sure |= bit;
                    }
                    for c in f.conds.iter().filter(|c| c.mask != 0) {
                        let pos = groups.iter().position(|g| g.at == c.at && g.mask == c.mask).unwrap_or_else(|| {
                            groups.push(Group { at: c.at, mask: c.mask, rules: 0, literals: Vec::new() });
                            groups.len() - 1
                        });
                        let g = &mut groups[pos];
                        g.rules |= bit;
                        match g.literals.iter_mut().find(|(value, _)| *value == c.value) {
                            Some((_, rules)) => *rules |= bit,
                            None => g.literals.push((c.value, bit)),
                        }
                    }
                }
                block.groups = groups.into_boxed_slice();
                block
            })
            .collect();
        Index { blocks, needs_method: filters.iter().any(Filter::needs_method) }
    }

    /// The first rule, in plan order, that the filters admit for `target`
    /// and for which `matches` holds (not asked of a rule that matches
    /// every call).
    #[inline]
    pub(crate) fn first(&self, target: &crate::Target<'_>, mut matches: impl FnMut(usize) -> bool) -> Option<usize> {
        let sig = Signature::new(target, self.needs_method);
        let cell = (sig.door.trailing_zeros() & 7) as usize * 16 + (sig.method.trailing_zeros() & 15) as usize;
        for (b, block) in self.blocks.iter().enumerate() {
            let mut set = block.pairs.get(cell).copied().unwrap_or(0);
            for g in &block.groups {
                if set == 0 {
                    break;
                }
                if set & g.rules != 0 {
                    set &= g.admits(&sig);
                }
            }
            while set != 0 {
                let i = set.trailing_zeros() as usize;
                if block.sure & (1 << i) != 0 || matches(b * 64 + i) {
                    return Some(b * 64 + i);
                }
                set &= set - 1;
            }
        }
        None
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

    fn filter_admits(f: &Filter, target: &crate::Target<'_>) -> bool {
        f.admits(&Signature::new(target, true))
    }

    #[test]
    fn methods_and_doors() {
        use crate::{Door, Target};
        let (get, delete, purge) = (Method::GET, Method::DELETE, Method::from_bytes(b"PURGE").unwrap());
        let f = Filter::of(&Match::new().method("delete").door(Door::Http));
        assert!(filter_admits(&f, &Target::new(Door::Http).method(&delete)));
        assert!(!filter_admits(&f, &Target::new(Door::Http).method(&get)));
        assert!(!filter_admits(&f, &Target::new(Door::Client).method(&delete)));
        assert!(!filter_admits(&f, &Target::new(Door::Http)), "a rule with methods needs a call with one");
        let any = Filter::of(&Match::new());
        assert!(filter_admits(&any, &Target::point("p")));
        let ext = Filter::of(&Match::new().method("PURGE"));
        assert!(filter_admits(&ext, &Target::new(Door::Http).method(&purge)));
    }

    #[test]
    fn host_words_by_head_and_tail() {
        use crate::{Door, Target};
        let tail = Filter::of(&Match::new().host("*.internal"));
        assert!(filter_admits(&tail, &Target::new(Door::Client).host("db.internal")));
        assert!(!filter_admits(&tail, &Target::new(Door::Client).host("api.example.com")));
        let exact = Filter::of(&Match::new().host("db.internal"));
        assert!(filter_admits(&exact, &Target::new(Door::Client).host("db.internal")));
        assert!(!filter_admits(&exact, &Target::new(Door::Client)), "no host: a host rule cannot match");
    }
}
