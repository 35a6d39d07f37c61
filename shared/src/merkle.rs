//! The Merkle tree over the audit trail, exactly as RFC 6962 (and RFC 9162, section 2.1)
//! defines it: leaves hashed as `SHA-256(0x00 ‖ data)`, interior nodes as
//! `SHA-256(0x01 ‖ left ‖ right)`, a tree of `n` leaves split at the largest power of two below
//! `n`. Proofs are made from any source of subtree hashes (`Subtrees`), so the server can answer
//! from stored nodes and a test from a slice of leaves; they are checked with nothing but the
//! hashes.

use std::fmt;

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// Hashes one leaf's data.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(data);
    hasher.finalize().into()
}

/// Hashes two children into their parent.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the tree with no leaves: the hash of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Reads a hash written as 64 lowercase or uppercase hex digits.
pub fn parse_hash(text: &str) -> Option<Hash> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    // A verifier reads one of these per event: a table, no allocation, no radix machinery.
    let mut hash = [0u8; 32];
    let mut bad = 0u8;
    for (byte, pair) in hash.iter_mut().zip(digits.chunks_exact(2)) {
        let (high, low) = (HEX[usize::from(pair[0])], HEX[usize::from(pair[1])]);
        bad |= (high | low) & 0x80;
        *byte = (high << 4) | (low & 0x0f);
    }
    (bad == 0).then_some(hash)
}

/// Each byte's value as a hex digit, or 0x80 for a byte that is not one.
const HEX: [u8; 256] = {
    let mut table = [0x80u8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// The hashes of perfect subtrees: `level` 0 is the leaves, and subtree `index` at `level`
/// covers leaves `index·2^level` to `(index+1)·2^level - 1`.
pub trait Subtrees {
    type Error;
    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// Leaf hashes in memory are a source of subtrees, computed on demand.
impl Subtrees for &[Hash] {
    type Error = std::convert::Infallible;

    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        let size = 1usize << level;
        let start = usize::try_from(index)
            .unwrap_or(usize::MAX)
            .saturating_mul(size);
        Ok(root(&self[start..start + size]))
    }
}

/// The Merkle tree hash of a list of leaf hashes (`MTH` in RFC 6962).
pub fn root(leaves: &[Hash]) -> Hash {
    let mut frontier = Frontier::default();
    for leaf in leaves {
        frontier.push(*leaf, |_, _, _| {});
    }
    frontier.root()
}

fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n > 1);
    1 << (63 - (n - 1).leading_zeros())
}

/// The hash of leaves `start..start + size`, from as few subtrees as the shape allows.
pub fn range_hash<S: Subtrees>(source: &mut S, start: u64, size: u64) -> Result<Hash, S::Error> {
    if size.is_power_of_two() && start.is_multiple_of(size) {
        return source.perfect(size.trailing_zeros(), start / size);
    }
    let k = largest_power_of_two_below(size);
    let left = range_hash(source, start, k)?;
    let right = range_hash(source, start + k, size - k)?;
    Ok(node_hash(&left, &right))
}

/// The audit path of leaf `index` in the tree of the first `size` leaves (`PATH` in RFC 6962),
/// from the leaf up. `index < size`.
pub fn inclusion_proof<S: Subtrees>(
    source: &mut S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut proof = Vec::new();
    path(source, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path<S: Subtrees>(
    source: &mut S,
    index: u64,
    start: u64,
    size: u64,
    proof: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    if size <= 1 {
        return Ok(());
    }
    let k = largest_power_of_two_below(size);
    if index < k {
        path(source, index, start, k, proof)?;
        proof.push(range_hash(source, start + k, size - k)?);
    } else {
        path(source, index - k, start + k, size - k, proof)?;
        proof.push(range_hash(source, start, k)?);
    }
    Ok(())
}

/// The proof that the tree of the first `old` leaves is a prefix of the tree of the first `new`
/// (`PROOF` in RFC 6962). `0 < old <= new`.
pub fn consistency_proof<S: Subtrees>(
    source: &mut S,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut proof = Vec::new();
    if old > 0 && old < new {
        subproof(source, old, 0, new, true, &mut proof)?;
    }
    Ok(proof)
}

fn subproof<S: Subtrees>(
    source: &mut S,
    m: u64,
    start: u64,
    size: u64,
    whole: bool,
    proof: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    if m == size {
        if !whole {
            proof.push(range_hash(source, start, size)?);
        }
        return Ok(());
    }
    let k = largest_power_of_two_below(size);
    if m <= k {
        subproof(source, m, start, k, whole, proof)?;
        proof.push(range_hash(source, start + k, size - k)?);
    } else {
        subproof(source, m - k, start + k, size - k, false, proof)?;
        proof.push(range_hash(source, start, k)?);
    }
    Ok(())
}

/// Why a proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// The leaf or the sizes are outside the tree.
    OutOfRange,
    /// The proof has too many or too few hashes for the sizes.
    WrongLength,
    /// The proof's hashes lead to another root.
    RootMismatch,
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProofError::OutOfRange => "the proof's sizes or index are outside the tree",
            ProofError::WrongLength => "the proof has the wrong number of hashes",
            ProofError::RootMismatch => "the proof does not lead to the expected root",
        })
    }
}

impl std::error::Error for ProofError {}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves with `root` (RFC 9162,
/// section 2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange);
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `old` leaves with `old_root` is a prefix of the tree of `new` leaves
/// with `new_root` (RFC 9162, section 2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::OutOfRange);
    }
    if old == new || old == 0 {
        // Nothing to prove beyond equal roots (or, from the empty tree, nothing at all).
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old == 0 || old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (first, rest) = path.split_first().ok_or(ProofError::WrongLength)?;
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if &fr != old_root || &sr != new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The right edge of a growing tree: one perfect subtree hash per set bit of the size, largest
/// first. Enough to append a leaf and to give the root, in O(log n) space; a verifier streams a
/// whole trail through one, and the server keeps one with each checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl Frontier {
    /// A frontier from its parts, as stored; `None` when the hashes do not fit the size.
    pub fn from_parts(size: u64, nodes: Vec<Hash>) -> Option<Frontier> {
        (u64::from(size.count_ones()) == nodes.len() as u64).then_some(Frontier { size, nodes })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// Appends a leaf hash; `completed(level, index, hash)` hears of every perfect subtree the
    /// leaf completes, the leaf itself (level 0) first.
    pub fn push(&mut self, leaf: Hash, mut completed: impl FnMut(u32, u64, &Hash)) {
        let mut hash = leaf;
        let mut level = 0;
        let mut index = self.size;
        completed(level, index, &hash);
        while (self.size >> level) & 1 == 1 {
            // The frontier's last node is the left sibling at this level.
            let Some(left) = self.nodes.pop() else { break };
            hash = node_hash(&left, &hash);
            level += 1;
            index >>= 1;
            completed(level, index, &hash);
        }
        self.nodes.push(hash);
        self.size += 1;
    }

    /// The Merkle tree hash of the leaves so far.
    pub fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        let Some(last) = nodes.next() else {
            return empty_root();
        };
        nodes.fold(*last, |right, left| node_hash(left, &right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trail::hex;
    use crate::verify::rfc6962::{CONSISTENCY, INCLUSION, LEAVES, ROOTS};

    fn leaves() -> Vec<Hash> {
        LEAVES.iter().map(|data| leaf_hash(data)).collect()
    }

    fn hash(text: &str) -> Hash {
        parse_hash(text).unwrap()
    }

    fn hexes(proof: &[Hash]) -> Vec<String> {
        proof.iter().map(|hash| hex(hash)).collect()
    }

    /// Distinct leaves for trees of any size.
    fn many(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn roots_match_the_published_vectors() {
        let leaves = leaves();
        for (size, expected) in ROOTS.iter().enumerate() {
            assert_eq!(hex(&root(&leaves[..size])), *expected, "size {size}");
        }
        assert_eq!(hex(&empty_root()), ROOTS[0]);
    }

    #[test]
    fn inclusion_proofs_match_the_published_vectors_and_verify() {
        let leaves = leaves();
        for (index, size, expected) in INCLUSION {
            let proof = inclusion_proof(&mut &leaves[..], index, size).unwrap();
            assert_eq!(hexes(&proof), expected, "leaf {index} of {size}");
            let root = hash(ROOTS[size as usize]);
            verify_inclusion(index, size, &leaves[index as usize], &proof, &root).unwrap();
            assert_eq!(
                verify_inclusion(
                    index,
                    size,
                    &leaves[index as usize],
                    &proof,
                    &hash(ROOTS[0])
                ),
                Err(ProofError::RootMismatch)
            );
        }
    }

    #[test]
    fn consistency_proofs_match_the_published_vectors_and_verify() {
        let leaves = leaves();
        for (old, new, expected) in CONSISTENCY {
            let proof = consistency_proof(&mut &leaves[..], old, new).unwrap();
            assert_eq!(hexes(&proof), expected, "{old} to {new}");
            let (old_root, new_root) = (hash(ROOTS[old as usize]), hash(ROOTS[new as usize]));
            verify_consistency(old, new, &proof, &old_root, &new_root).unwrap();
        }
    }

    #[test]
    fn every_leaf_of_every_tree_up_to_40_proves_its_inclusion_and_nothing_else_does() {
        let all = many(40);
        for size in 1..=40u64 {
            let leaves = &all[..size as usize];
            let root = root(leaves);
            for index in 0..size {
                let proof = inclusion_proof(&mut &leaves[..], index, size).unwrap();
                verify_inclusion(index, size, &leaves[index as usize], &proof, &root).unwrap();
                let other = leaf_hash(b"not in the tree");
                assert!(verify_inclusion(index, size, &other, &proof, &root).is_err());
                if size > 1 {
                    let wrong_index = (index + 1) % size;
                    assert!(
                        verify_inclusion(wrong_index, size, &leaves[index as usize], &proof, &root)
                            .is_err(),
                        "leaf {index} of {size} also proved at {wrong_index}"
                    );
                    assert!(
                        verify_inclusion(
                            index,
                            size,
                            &leaves[index as usize],
                            &proof[..proof.len() - 1],
                            &root
                        )
                        .is_err()
                    );
                }
            }
        }
    }

    #[test]
    fn every_pair_of_sizes_up_to_33_proves_its_consistency_and_a_changed_leaf_breaks_it() {
        let all = many(33);
        let roots: Vec<Hash> = (0..=33).map(|n| root(&all[..n])).collect();
        for new in 1..=33u64 {
            for old in 1..=new {
                let proof = consistency_proof(&mut &all[..], old, new).unwrap();
                verify_consistency(old, new, &proof, &roots[old as usize], &roots[new as usize])
                    .unwrap_or_else(|error| panic!("{old} to {new}: {error}"));
                if old < new {
                    let mut changed = all[..new as usize].to_vec();
                    changed[(old - 1) as usize] = leaf_hash(b"rewritten history");
                    let rewritten = root(&changed);
                    let proof = consistency_proof(&mut &changed[..], old, new).unwrap();
                    assert!(
                        verify_consistency(old, new, &proof, &roots[old as usize], &rewritten)
                            .is_err(),
                        "{old} to {new} after rewriting leaf {}",
                        old - 1
                    );
                }
            }
        }
    }

    #[test]
    fn the_frontier_gives_every_root_and_names_each_completed_subtree() {
        let all = many(21);
        let mut frontier = Frontier::default();
        let mut completed = Vec::new();
        for (n, leaf) in all.iter().enumerate() {
            frontier.push(*leaf, |level, index, hash| {
                completed.push((level, index, *hash))
            });
            assert_eq!(frontier.root(), root(&all[..=n]), "size {}", n + 1);
        }
        // Every completed subtree is the perfect subtree it says it is, and there are 2n - 1
        // minus the frontier's missing joins: 21 leaves, 10 + 5 + 2 + 1 parents.
        assert_eq!(completed.len(), 21 + 10 + 5 + 2 + 1);
        for (level, index, hash) in completed {
            assert_eq!((&all[..]).perfect(level, index).unwrap(), hash);
        }
        let rebuilt = Frontier::from_parts(frontier.size(), frontier.nodes().to_vec()).unwrap();
        assert_eq!(rebuilt, frontier);
        assert!(Frontier::from_parts(5, vec![[0; 32]]).is_none());
    }

    #[test]
    fn hashes_parse_from_hex_and_nothing_else_does() {
        assert_eq!(hex(&hash(ROOTS[8])), ROOTS[8]);
        assert_eq!(parse_hash(&ROOTS[8].to_uppercase()), Some(hash(ROOTS[8])));
        assert_eq!(parse_hash("00"), None);
        assert_eq!(parse_hash(&"zz".repeat(32)), None);
        assert_eq!(parse_hash(&"é".repeat(32)), None);
    }
}
