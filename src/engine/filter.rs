//! Prefilters: a few integer comparisons that reject most non-matching
//! rules before any string work.
//!
//! Each rule has a [`Filter`] of necessary conditions derived from its
//! `match`: the doors and methods it allows as bit sets, and up to 8 literal
//! bytes its path, host and name must start (or end) with, as a masked
//! `u64`. A plan keeps its rules' filters as one [`Index`], which yields the
//! candidate rules of a call in one pass; the call's side is a
//! [`Signature`] (its door and method bits) and the words of its path, host
//! and name, each read from the call only while a condition on that part is
//! still in play. A filter only ever rejects calls the full matcher would
//! reject too; what it admits is checked in full.

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
    // Shorter than 8 bytes, with no loop and no call to memcpy: from 4
    // bytes, two 4-byte loads that may overlap (an overlapping byte lands in
    // the same place from both); below, the bytes one by one.
    let n = b.len();
    if let (Some(lo), Some(hi)) = (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        return u64::from(u32::from_le_bytes(*lo)) | u64::from(u32::from_le_bytes(*hi)) << (8 * (n - 4));
    }
    match *b {
        [a] => u64::from(a),
        [a, c] => u64::from(a) | u64::from(c) << 8,
        [a, c, d] => u64::from(a) | u64::from(c) << 8 | u64::from(d) << 16,
        _ => 0,
    }
}

#[inline]
fn tail_bytes(b: &[u8]) -> u64 {
    match b.last_chunk::<8>() {
        Some(last) => u64::from_le_bytes(*last),
        // Shorter: the head, right-aligned.
        None if b.is_empty() => 0,
        None => head_bytes(b) << (8 * (8 - b.len())),
    }
}

/// Bit 5 of every byte: set on both sides of a host comparison, it folds
/// ASCII case (`A` 0x41 and `a` 0x61 become one). It also folds a few
/// pairs of other bytes (`@` and `` ` ``), so the filter may admit a host
/// the matcher then rejects, never the other way round.
const FOLD: u64 = 0x2020_2020_2020_2020;

/// The head and tail words of a part (both zero when the call has none).
#[inline(always)]
fn words(b: Option<&[u8]>) -> (u64, u64) {
    b.map_or((0, 0), |b| (head_bytes(b), tail_bytes(b)))
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

/// Positions of a call's words: per part (path, host, name), its head word,
/// then its tail word; `at >> 1` is the part.
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
        // A host's literal is folded as the call's host word will be.
        let value = if base == HOST { (w.value | FOLD) & w.mask } else { w.value };
        Cond { at: base + u8::from(w.end == End::Tail), mask: w.mask, value }
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

/// What the prefilters compare against first: the call's door and method
/// bits, and the target its path, host and name words are read from (by
/// the index, a part only while a condition on it is still in play).
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
        let host = m.host.as_ref().map(crate::engine::matcher::host_pattern);
        let conds = [Cond::of(PATH, m.path.as_ref()), Cond::of(HOST, host.as_ref()), Cond::of(NAME, m.name.as_ref())];
        Filter { doors, methods, matches_all: m.is_empty(), conds }
    }

    /// Does this filter look at the call's method? (A call's method is
    /// worked out only if some filter does.)
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
    #[cfg(test)]
    fn word(&self, at: u8) -> u64 {
        let t = self.target;
        let part = match at >> 1 {
            0 => t.path_str().map(str::as_bytes),
            1 => t.host_bytes(),
            _ => t.name.map(str::as_bytes),
        };
        let word = part.map_or(0, |b| if at & 1 == 0 { head_bytes(b) } else { tail_bytes(b) });
        if at >> 1 == HOST >> 1 { word | FOLD } else { word }
    }
}

/// The filters of a whole plan, arranged so that one pass over a call's
/// signature yields the set of rules that may match it, without visiting
/// the rules one by one.
///
/// Rules go in blocks of 64, one bit each. Per block, a table maps each
/// (door, method) pair to the rules that admit both (one load where a door
/// table and a method table took two, on two cache lines). The string
/// conditions are grouped by part (path, host, name), then by end and mask
/// (rules with the same literal length at the same end share a group); a
/// group maps each literal to the rules that need it, by comparing the
/// call's word with each (up to four literals) or through a small hash
/// table. A call's candidates are its pair's rules and, for each group, the
/// rules outside it or whose literal is the call's: a handful of loads and
/// compares whatever the number of rules. A part is read from the call only
/// while one of its conditions is still in play, so a call's host (from its
/// `Host` header) is looked at only if some candidate left needs it. A
/// candidate that matches every call (an empty `match`, such as a trailing
/// catch-all) is the answer without a full check.
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
    /// Path, host and name (in the order of `PATH`, `HOST`, `NAME`).
    parts: [Part; 3],
}

/// The conditions of a block's rules on one part of the call.
#[derive(Debug)]
struct Part {
    /// The rules with a condition on this part.
    rules: u64,
    /// The part's first group, held inline: most parts have one group, and
    /// then the scan has no loop to set up. (A part without rules has an
    /// empty one, never looked at.)
    first: Group,
    /// The part's other groups.
    more: Box<[Group]>,
}

/// The conditions of several rules on one end of a part, with one mask.
#[derive(Debug)]
struct Group {
    end: End,
    mask: u64,
    /// The rules with a condition in this group.
    rules: u64,
    literals: Literals,
}

/// A [`Group`] while its plan is built: its literals as a list.
struct Draft {
    end: End,
    mask: u64,
    rules: u64,
    literals: Vec<(u64, u64)>,
}

impl Part {
    /// A part no rule has a condition on.
    fn empty() -> Self {
        Part { rules: 0, first: Group::empty(), more: Box::new([]) }
    }

    /// What is left of `set` once this part's conditions have had their
    /// say; `read` gives the part's bytes (`None` when the call has none,
    /// which reads as zero words), and is called only if a rule of `set`
    /// has a condition here.
    /// `fold`: compare with ASCII case folded (hosts; see [`FOLD`]).
    #[inline(always)]
    fn narrow<'a>(&self, set: u64, read: impl FnOnce() -> Option<&'a [u8]>, fold: bool) -> u64 {
        if set & self.rules == 0 {
            return set;
        }
        let (mut head, mut tail) = words(read());
        if fold {
            (head, tail) = (head | FOLD, tail | FOLD);
        }
        let mut set = self.first.narrow(set, head, tail);
        for g in self.more.iter() {
            set = g.narrow(set, head, tail);
        }
        set
    }
}

impl Group {
    /// A group of no rules, for a part without any.
    fn empty() -> Self {
        Group { end: End::Head, mask: 0, rules: 0, literals: Literals::new(&[]) }
    }

    /// `set` without the rules of this group whose literal is not the
    /// call's word (`head` or `tail`, by the group's end).
    #[inline(always)]
    fn narrow(&self, set: u64, head: u64, tail: u64) -> u64 {
        if set & self.rules == 0 {
            return set;
        }
        let word = if self.end == End::Tail { tail } else { head };
        set & (!self.rules | self.literals.rules_of(word & self.mask))
    }
}

/// A group's literals (masked words, distinct) and the rules each one
/// satisfies. Up to [`FEW`] of them are held inline and all compared at
/// once; more go in a direct-mapped table indexed by a multiplicative hash
/// chosen when the plan is built so that the literals do not collide; a
/// literal that does anyway goes to a short list looked at only when the
/// table misses.
#[derive(Debug)]
struct Literals {
    /// `(literal, rules)` of a group of up to [`FEW`] literals (then the
    /// table is empty); an unused slot is `(0, 0)` and yields no rules.
    few: [(u64, u64); FEW],
    /// Odd multiplier of the hash.
    multiplier: u64,
    /// `64 - log2(table length)`: the hash is the product's top bits.
    shift: u32,
    /// `(literal, rules)`; an empty slot is `(0, 0)` and yields no rules.
    table: Box<[(u64, u64)]>,
    overflow: Box<[(u64, u64)]>,
}

impl Block {
    /// [`Index::first`] within this block, whose first rule is rule
    /// `base` of the plan; `cell` is the call's (door, method) pair.
    #[inline(always)]
    fn first(
        &self,
        cell: usize,
        t: &crate::Target<'_>,
        matches: &mut impl FnMut(usize) -> bool,
        base: usize,
    ) -> Option<usize> {
        let mut set = self.pairs.get(cell).copied().unwrap_or(0);
        let [path, host, name] = &self.parts;
        set = path.narrow(set, || t.path_str().map(str::as_bytes), false);
        set = host.narrow(set, || t.host_bytes(), true);
        set = name.narrow(set, || t.name.map(str::as_bytes), false);
        while set != 0 {
            let i = set.trailing_zeros() as usize;
            if self.sure & (1 << i) != 0 || matches(base + i) {
                return Some(base + i);
            }
            set &= set - 1;
        }
        None
    }
}

/// How many literals a group holds inline. Comparing a word with four
/// literals is four compares that do not wait on each other; a table
/// lookup is a multiply, then a load from the table, one after the other
/// (the hottest two instructions of a 16-rule scan that matched nothing).
const FEW: usize = 4;

impl Literals {
    fn new(literals: &[(u64, u64)]) -> Self {
        if literals.len() <= FEW {
            let mut few = [(0, 0); FEW];
            few[..literals.len()].copy_from_slice(literals);
            return Literals { few, multiplier: 1, shift: 63, table: Box::new([]), overflow: Box::new([]) };
        }
        // Half full at most; at least two slots, so the shift is below 64.
        Self::with_bits(literals, (literals.len() * 2).next_power_of_two().max(2).trailing_zeros())
    }

    /// A table of `2^bits` slots (`bits` at least 1; plans use up to 7, for
    /// the 64 literals a group of a block can have).
    fn with_bits(literals: &[(u64, u64)], bits: u32) -> Self {
        let shift = 64 - bits;
        let slot = |multiplier: u64, value: u64| (value.wrapping_mul(multiplier) >> shift) as usize;
        // A fixed sequence of odd multipliers (SplitMix64's), so a plan is
        // built the same way every time; the first without collisions wins,
        // else the one with the fewest.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut best = (usize::MAX, 0);
        for _ in 0..64 {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            let multiplier = (z ^ (z >> 31)) | 1;
            let mut used = vec![false; 1 << bits];
            let collisions =
                literals.iter().filter(|(v, _)| std::mem::replace(&mut used[slot(multiplier, *v)], true)).count();
            if collisions < best.0 {
                best = (collisions, multiplier);
            }
            if collisions == 0 {
                break;
            }
        }
        let multiplier = best.1;
        let mut table = vec![(0, 0); 1 << bits].into_boxed_slice();
        let mut overflow = Vec::new();
        for &(value, rules) in literals {
            let entry = &mut table[slot(multiplier, value)];
            if entry.1 == 0 {
                *entry = (value, rules);
            } else {
                overflow.push((value, rules));
            }
        }
        Literals { few: [(0, 0); FEW], multiplier, shift, table, overflow: overflow.into_boxed_slice() }
    }

    /// The rules whose literal is `word` (none if it is no literal).
    #[inline(always)]
    fn rules_of(&self, word: u64) -> u64 {
        if self.table.is_empty() {
            return self.few.iter().fold(0, |acc, &(value, rules)| acc | if value == word { rules } else { 0 });
        }
        let slot = (word.wrapping_mul(self.multiplier) >> self.shift) as usize;
        match self.table.get(slot) {
            Some(&(value, rules)) if value == word => rules,
            _ if self.overflow.is_empty() => 0,
            _ => self.overflow.iter().find(|(value, _)| *value == word).map_or(0, |(_, rules)| *rules),
        }
    }
}

impl Index {
    /// The index of `filters`, one per rule in plan order.
    pub(crate) fn new(filters: &[Filter]) -> Self {
        let blocks = filters
            .chunks(64)
            .map(|chunk| {
                let mut block = Block { pairs: [0; 8 * 16], sure: 0, parts: std::array::from_fn(|_| Part::empty()) };
                let mut groups: [Vec<Draft>; 3] = Default::default();
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
                        let end = if c.at & 1 == 0 { End::Head } else { End::Tail };
                        let part = &mut groups[usize::from(c.at >> 1)];
                        let pos = part.iter().position(|g| g.end == end && g.mask == c.mask).unwrap_or_else(|| {
                            part.push(Draft { end, mask: c.mask, rules: 0, literals: Vec::new() });
                            part.len() - 1
                        });
                        let g = &mut part[pos];
                        g.rules |= bit;
                        match g.literals.iter_mut().find(|(value, _)| *value == c.value) {
                            Some((_, rules)) => *rules |= bit,
                            None => g.literals.push((c.value, bit)),
                        }
                    }
                }
                for (part, groups) in block.parts.iter_mut().zip(groups) {
                    part.rules = groups.iter().fold(0, |acc, g| acc | g.rules);
                    let mut groups = groups.into_iter().map(|g| Group {
                        end: g.end,
                        mask: g.mask,
                        rules: g.rules,
                        literals: Literals::new(&g.literals),
                    });
                    part.first = groups.next().unwrap_or_else(Group::empty);
                    part.more = groups.collect();
                }
                block
            })
            .collect();
        Index { blocks, needs_method: filters.iter().any(Filter::needs_method) }
    }

    /// The first rule, in plan order, that the filters admit for `target`
    /// and for which `matches` holds (not asked of a rule that matches
    /// every call). Out of line, so that its caller stays small.
    #[inline(never)]
    pub(crate) fn first(&self, target: &crate::Target<'_>, mut matches: impl FnMut(usize) -> bool) -> Option<usize> {
        let sig = Signature::new(target, self.needs_method);
        let cell = (sig.door.trailing_zeros() & 7) as usize * 16 + (sig.method.trailing_zeros() & 15) as usize;
        // The first block inline, the others (plans of over 64 rules) out
        // of line: inlined into a loop over blocks, the parts' reads were
        // hoisted out of it and kept on the stack, at a cost to every call.
        let (head, rest) = self.blocks.split_first()?;
        if let Some(i) = head.first(cell, sig.target, &mut matches, 0) {
            return Some(i);
        }
        if rest.is_empty() {
            return None;
        }
        Self::first_after(rest, cell, sig.target, &mut matches)
    }

    /// [`first`](Self::first) in the blocks after the first.
    #[inline(never)]
    fn first_after(
        rest: &[Block],
        cell: usize,
        t: &crate::Target<'_>,
        matches: &mut impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        for (b, block) in rest.iter().enumerate() {
            if let Some(i) = block.first(cell, t, matches, (b + 1) * 64) {
                return Some(i);
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

    /// Every literal yields its rules and any other word none, held inline
    /// (up to `FEW`, one of them zero, the word of an unused slot), in a
    /// table sized as plans size it (distinct literals, up to the 64 of a
    /// block, differing in their first or last bytes) and in one too small
    /// for them, where literals must share slots.
    #[test]
    fn literals_yield_their_rules_and_nothing_else() {
        let mut sets: Vec<Vec<u64>> =
            vec![vec![head("/interna")], vec![0, head("/")], (1..=4).map(|i| head(&format!("/v{i}"))).collect()];
        sets.push((0..64).map(|i| head(&format!("/v{i:02}/api"))).collect());
        sets.push((0..64).map(|i| tail(&format!("region-{i:02}"))).collect());
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        sets.push(
            (0..64)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x
                })
                .collect(),
        );
        for values in sets {
            let literals: Vec<(u64, u64)> = values.iter().enumerate().map(|(i, &v)| (v, 1 << i)).collect();
            let bits = (literals.len() * 2).next_power_of_two().max(2).trailing_zeros();
            for table in [Literals::new(&literals), Literals::with_bits(&literals, 1)] {
                for &(value, rules) in &literals {
                    assert_eq!(table.rules_of(value), rules, "{value:#x}");
                    for other in [value ^ 1, value ^ (1 << 63), value.wrapping_add(1 << 32)] {
                        if !values.contains(&other) {
                            assert_eq!(table.rules_of(other), 0, "{other:#x}");
                        }
                    }
                }
            }
            let table_len = if literals.len() <= FEW { 0 } else { 1 << bits };
            assert_eq!(Literals::new(&literals).table.len(), table_len, "up to {FEW} literals are held inline");
        }
        // With two slots for 64 literals, most go to the overflow list.
        let literals: Vec<(u64, u64)> = (0..64).map(|i| (head(&format!("/v{i:02}/api")), 1 << i)).collect();
        assert!(Literals::with_bits(&literals, 1).overflow.len() >= 62);
    }

    /// Short strings read as they would byte by byte.
    #[test]
    fn words_of_short_strings() {
        for s in ["", "a", "ab", "abc", "abcd", "abcde", "abcdefg", "abcdefgh", "abcdefghijk"] {
            let b = s.as_bytes();
            let by_bytes = |bytes: &[u8], skip: usize| {
                bytes.iter().enumerate().fold(0u64, |acc, (i, &c)| acc | u64::from(c) << (8 * (i + skip)))
            };
            let last8 = &b[b.len().saturating_sub(8)..];
            let want = (by_bytes(&b[..b.len().min(8)], 0), by_bytes(last8, 8 - last8.len()));
            assert_eq!((head(s), tail(s)), want, "{s:?}");
            assert_eq!(words(Some(b)), want, "{s:?}");
        }
        assert_eq!(words(None), (0, 0));
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
