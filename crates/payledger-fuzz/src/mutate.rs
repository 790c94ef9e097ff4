//! Byte-level inputs: random bytes, token soups built from a target's
//! dictionary, and valid seed inputs with a few edits (bit flips,
//! interesting bytes, insertions, deletions, duplications, dictionary
//! tokens, splices from another seed, truncation), as libFuzzer's
//! mutators do. Every strategy shrinks towards fewer, smaller edits.

use std::fmt;
use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

/// Longest purely random input, in bytes.
pub const RANDOM_BYTES_MAX: usize = 512;
/// Most tokens in one token soup.
pub const SOUP_TOKENS_MAX: usize = 48;
/// Most edits applied to one seed.
pub const EDITS_MAX: usize = 8;
/// Longest run one edit inserts, deletes or duplicates, in bytes.
const EDIT_BYTES_MAX: usize = 64;

/// Bytes that often sit on a parser's edge: delimiters, escapes, signs,
/// varint continuation bits, the ends of the ASCII and byte ranges.
const INTERESTING_BYTES: &[u8] = &[
    0x00, 0x01, 0x7f, 0x80, 0xff, b'"', b'\\', b'\'', b'`', b'{', b'}', b'[', b']', b'(', b')',
    b',', b':', b'=', b'.', b'-', b'+', b'0', b'9', b'e', b' ', b'\n',
];

/// Bytes under test; `Debug` prints them as an escaped byte string so a
/// shrunk failure can be pasted into a regression test.
#[derive(Clone, PartialEq, Eq)]
pub struct Input(pub Vec<u8>);

impl Input {
    /// The bytes as text, invalid UTF-8 replaced: what a parser of `&str`
    /// receives after the HTTP layer decoded a header or query string.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

/// A shared list of byte strings (seeds or dictionary tokens).
pub type Corpus = Arc<[Vec<u8>]>;

/// Byte strings from text.
pub fn corpus<S: AsRef<[u8]>>(items: impl IntoIterator<Item = S>) -> Corpus {
    items.into_iter().map(|s| s.as_ref().to_vec()).collect()
}

/// Purely random bytes.
pub fn random_bytes() -> impl Strategy<Value = Input> {
    vec(any::<u8>(), 0..=RANDOM_BYTES_MAX).prop_map(Input)
}

/// A concatenation of dictionary tokens and random characters: lexically
/// plausible text that no grammar produced.
pub fn token_soup(dictionary: Corpus) -> impl Strategy<Value = Input> {
    assert!(!dictionary.is_empty(), "a token soup needs a dictionary");
    let piece = prop_oneof![
        3 => any::<Index>().prop_map(move |i| i.get(&dictionary).clone()),
        1 => any::<char>().prop_map(|c| c.to_string().into_bytes()),
        1 => (0x20_u8..0x7f).prop_map(|b| vec![b]),
    ];
    vec(piece, 0..=SOUP_TOKENS_MAX).prop_map(|pieces| Input(pieces.concat()))
}

/// One edit of a seed; positions are fractions of the current length.
#[derive(Clone, Debug)]
enum Edit {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    SetInteresting(Index, Index),
    Insert(Index, Vec<u8>),
    InsertToken(Index, Index),
    Delete(Index, usize),
    Duplicate(Index, usize),
    Splice(Index, Index, Index, usize),
    Truncate(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let len = 1..=EDIT_BYTES_MAX;
    prop_oneof![
        2 => (any::<Index>(), 0_u8..8).prop_map(|(at, bit)| Edit::FlipBit(at, bit)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Edit::SetByte(at, byte)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(at, b)| Edit::SetInteresting(at, b)),
        2 => (any::<Index>(), vec(any::<u8>(), len.clone())).prop_map(|(at, b)| Edit::Insert(at, b)),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(at, t)| Edit::InsertToken(at, t)),
        2 => (any::<Index>(), len.clone()).prop_map(|(at, n)| Edit::Delete(at, n)),
        2 => (any::<Index>(), len.clone()).prop_map(|(at, n)| Edit::Duplicate(at, n)),
        2 => (any::<Index>(), any::<Index>(), any::<Index>(), len)
            .prop_map(|(at, seed, from, n)| Edit::Splice(at, seed, from, n)),
        1 => any::<Index>().prop_map(Edit::Truncate),
    ]
}

/// A position in `bytes`, `0..=len` (so an insertion may append).
fn position(at: &Index, bytes: &[u8]) -> usize {
    at.index(bytes.len() + 1)
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit, seeds: &Corpus, dictionary: &Corpus) {
    let at = |index: &Index, bytes: &[u8]| position(index, bytes);
    match edit {
        Edit::FlipBit(i, bit) if !bytes.is_empty() => {
            let n = bytes.len();
            bytes[i.index(n)] ^= 1 << bit
        }
        Edit::SetByte(i, byte) if !bytes.is_empty() => {
            let n = bytes.len();
            bytes[i.index(n)] = *byte
        }
        Edit::SetInteresting(i, b) if !bytes.is_empty() => {
            let n = bytes.len();
            bytes[i.index(n)] = *b.get(INTERESTING_BYTES);
        }
        Edit::FlipBit(..) | Edit::SetByte(..) | Edit::SetInteresting(..) => {}
        Edit::Insert(i, new) => {
            let p = at(i, bytes);
            bytes.splice(p..p, new.iter().copied());
        }
        Edit::InsertToken(i, t) if !dictionary.is_empty() => {
            let p = at(i, bytes);
            bytes.splice(p..p, t.get(dictionary).iter().copied());
        }
        Edit::InsertToken(..) => {}
        Edit::Delete(i, n) => {
            let p = at(i, bytes);
            bytes.drain(p..(p + n).min(bytes.len()));
        }
        Edit::Duplicate(i, n) => {
            let p = at(i, bytes);
            let copy = bytes[p..(p + n).min(bytes.len())].to_vec();
            bytes.splice(p..p, copy);
        }
        Edit::Splice(i, seed, from, n) => {
            let other = seed.get(seeds);
            let start = position(from, other);
            let piece = &other[start..(start + n).min(other.len())];
            let p = at(i, bytes);
            bytes.splice(p..p, piece.iter().copied());
        }
        Edit::Truncate(i) => {
            let p = at(i, bytes);
            bytes.truncate(p);
        }
    }
}

/// A seed with 1 to [`EDITS_MAX`] edits; tokens come from `dictionary`
/// (may be empty), splices from the other seeds.
pub fn mutated(seeds: Corpus, dictionary: Corpus) -> impl Strategy<Value = Input> {
    assert!(!seeds.is_empty(), "mutations need at least one seed");
    (any::<Index>(), vec(edit(), 1..=EDITS_MAX)).prop_map(move |(seed, edits)| {
        let mut bytes = seed.get(&seeds).clone();
        for edit in &edits {
            apply(&mut bytes, edit, &seeds, &dictionary);
        }
        Input(bytes)
    })
}

/// Generated valid inputs with 1 to [`EDITS_MAX`] edits each; splices
/// come from the same input. For formats that have a generator of valid
/// values (a printer, an encoder), which reaches further than a fixed
/// seed list.
pub fn edited<S>(valid: S, dictionary: Corpus) -> impl Strategy<Value = Input>
where
    S: Strategy<Value = Vec<u8>>,
{
    (valid, vec(edit(), 0..=EDITS_MAX)).prop_map(move |(bytes, edits)| {
        let seeds: Corpus = Arc::new([bytes.clone()]);
        let mut bytes = bytes;
        for edit in &edits {
            apply(&mut bytes, edit, &seeds, &dictionary);
        }
        Input(bytes)
    })
}

/// The usual mix of a byte-level target: a few random inputs and token
/// soups, mostly mutated seeds, and the seeds themselves now and then.
pub fn inputs(seeds: Corpus, dictionary: Corpus) -> impl Strategy<Value = Input> {
    let unchanged = seeds.clone();
    prop_oneof![
        1 => random_bytes(),
        2 => token_soup(dictionary.clone()),
        6 => mutated(seeds, dictionary),
        1 => any::<Index>().prop_map(move |i| Input(i.get(&unchanged).clone())),
    ]
}

#[cfg(test)]
mod tests;
