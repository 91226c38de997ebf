//! Which checkpoints a batch may write when batches commit out of order.
//!
//! With several writer connections, batch 7 can commit before batch 6. A checkpoint says "all
//! lines of this file before offset N are stored", so a batch may write its own checkpoint
//! only if every earlier batch had committed when it was handed out. Otherwise its own
//! checkpoint waits until the batches before it have committed (the committed prefix grows
//! past it); it is then carried by every batch handed out until one that carries it has
//! committed. Stored checkpoints never move backwards (the upsert keeps the larger offset),
//! and batch `n` is handed out only once every batch before `n - 1` has committed.
//!
//! Together these give the bound docs/ingest.md states: whenever the ingest is killed, the
//! stored checkpoint covers every committed batch but at most the newest two, so a resumed run
//! reads at most two batches again (their lines are duplicates that change nothing), and it
//! never skips a line that was not stored. The test below proves it over every interleaving
//! of hand-outs, commits and a kill. After the last batch, `finish` gives each source's final
//! checkpoint to write.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::batch::Checkpoint;

#[derive(Default, Clone)]
pub struct CommitOrder {
    /// Every batch before this one has committed.
    prefix: u64,
    /// Committed batches at or after `prefix`.
    committed: BTreeSet<u64>,
    /// Own checkpoints of batches handed out while an earlier batch was still writing.
    pending: BTreeMap<u64, Checkpoint>,
    /// Newest checkpoint per source inside the committed prefix that no committed batch has
    /// written yet.
    unconfirmed: HashMap<String, Checkpoint>,
    /// Checkpoints each batch in flight writes.
    carried: HashMap<u64, Vec<Checkpoint>>,
    /// Newest checkpoint per source (written by `finish`).
    last: HashMap<String, Checkpoint>,
}

impl CommitOrder {
    /// Whether batch `seq` may be handed out now: only while at most one earlier batch is
    /// still writing, which is what bounds the re-read after a kill.
    pub fn may_dispatch(&self, seq: u64) -> bool {
        self.prefix + 1 >= seq
    }

    /// Batch `seq` (numbered from 0 in reading order) is handed out with its own checkpoint;
    /// returns the checkpoints its transaction writes.
    pub fn dispatch(&mut self, seq: u64, own: Option<&Checkpoint>) -> Vec<Checkpoint> {
        debug_assert!(self.may_dispatch(seq));
        let in_order = self.prefix == seq;
        let mut out: Vec<Checkpoint> = Vec::new();
        if let Some(cp) = own {
            self.last.insert(cp.source_file.clone(), cp.clone());
            if in_order {
                out.push(cp.clone());
            } else {
                self.pending.insert(seq, cp.clone());
            }
        }
        for (source, cp) in &self.unconfirmed {
            // The batch's own checkpoint is newer.
            if !out.iter().any(|o| &o.source_file == source) {
                out.push(cp.clone());
            }
        }
        self.carried.insert(seq, out.clone());
        out
    }

    /// Batch `seq` committed.
    pub fn committed(&mut self, seq: u64) {
        for cp in self.carried.remove(&seq).unwrap_or_default() {
            if self.unconfirmed.get(&cp.source_file).is_some_and(|u| u.byte_offset <= cp.byte_offset) {
                self.unconfirmed.remove(&cp.source_file);
            }
        }
        self.committed.insert(seq);
        while self.committed.remove(&self.prefix) {
            if let Some(cp) = self.pending.remove(&self.prefix) {
                self.unconfirmed.insert(cp.source_file.clone(), cp);
            }
            self.prefix += 1;
        }
    }

    /// Once every batch has committed: the final checkpoint of every source.
    pub fn finish(self) -> Vec<Checkpoint> {
        let mut v: Vec<Checkpoint> = self.last.into_values().collect();
        v.sort_by(|a, b| a.source_file.cmp(&b.source_file));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(file: &str, offset: u64) -> Checkpoint {
        Checkpoint { source_file: file.into(), byte_offset: offset, head_hash: vec![], head_len: 0, lines_read: offset }
    }

    #[test]
    fn in_order_batches_write_their_own_checkpoint() {
        let mut o = CommitOrder::default();
        for i in 0..3 {
            assert_eq!(o.dispatch(i, Some(&cp("a", i + 1))), vec![cp("a", i + 1)]);
            o.committed(i);
        }
        assert_eq!(o.finish(), vec![cp("a", 3)]);
    }

    #[test]
    fn a_batch_handed_out_before_its_predecessor_committed_writes_only_the_committed_prefix() {
        let mut o = CommitOrder::default();
        assert_eq!(o.dispatch(0, Some(&cp("a", 10))), vec![cp("a", 10)]);
        // Batch 0 still running: batch 1 must not claim offset 20.
        assert_eq!(o.dispatch(1, Some(&cp("a", 20))), vec![]);
        o.committed(1);
        // Batch 0 still running: batch 2 must wait.
        assert!(!o.may_dispatch(2));
        o.committed(0);
        // Now 0 and 1 are the prefix: batch 2 is in order and writes its own.
        assert!(o.may_dispatch(2));
        assert_eq!(o.dispatch(2, Some(&cp("a", 30))), vec![cp("a", 30)]);
        o.committed(2);
        assert_eq!(o.finish(), vec![cp("a", 30)]);
    }

    #[test]
    fn a_safe_checkpoint_is_carried_until_a_batch_carrying_it_commits() {
        let mut o = CommitOrder::default();
        o.dispatch(0, Some(&cp("a", 10)));
        o.dispatch(1, Some(&cp("a", 20)));
        o.committed(0);
        // 1 is still writing; 2 carries nothing new yet.
        assert_eq!(o.dispatch(2, Some(&cp("a", 30))), vec![]);
        o.committed(1);
        // 20 is safe now; 3 carries it, and so does 4 while 3 has not committed.
        assert_eq!(o.dispatch(3, Some(&cp("a", 40))), vec![cp("a", 20)]);
        o.committed(2);
        assert_eq!(o.dispatch(4, Some(&cp("a", 50))), vec![cp("a", 30)]);
        o.committed(4);
        o.committed(3);
        assert_eq!(o.dispatch(5, Some(&cp("a", 60))), vec![cp("a", 60)]);
    }

    #[test]
    fn checkpoints_of_several_sources_are_kept_apart() {
        let mut o = CommitOrder::default();
        o.dispatch(0, Some(&cp("a", 10)));
        o.dispatch(1, Some(&cp("b", 5)));
        o.committed(1);
        o.committed(0);
        let mut got = o.dispatch(2, Some(&cp("c", 1)));
        got.sort_by(|x, y| x.source_file.cmp(&y.source_file));
        // a's own checkpoint was written by batch 0; b's becomes safe only now; c is in order.
        assert_eq!(got, vec![cp("b", 5), cp("c", 1)]);
        o.committed(2);
        assert_eq!(o.finish(), vec![cp("a", 10), cp("b", 5), cp("c", 1)]);
    }

    /// Every interleaving of hand-outs (on up to `lanes` connections) and commits, killed at
    /// every point: the stored checkpoint (the largest a committed batch wrote) never claims
    /// an uncommitted batch, and at most two committed batches lie beyond it.
    fn explore(o: &CommitOrder, lanes: usize, n: u64, next: u64, inflight: &[u64], stored: u64, worst: &mut u64) {
        // Batch i ends at offset i + 1; `stored` batches are covered.
        let committed_beyond = (stored..next).filter(|s| !inflight.contains(s)).count() as u64;
        assert!((0..stored).all(|s| !inflight.contains(&s)), "checkpoint {stored} claims a batch still writing");
        *worst = (*worst).max(committed_beyond);
        if next < n && inflight.len() < lanes && o.may_dispatch(next) {
            let mut o2 = o.clone();
            o2.dispatch(next, Some(&cp("a", next + 1)));
            let mut f = inflight.to_vec();
            f.push(next);
            explore(&o2, lanes, n, next + 1, &f, stored, worst);
        }
        for (i, &s) in inflight.iter().enumerate() {
            let mut o2 = o.clone();
            let wrote = o2.carried.get(&s).and_then(|v| v.iter().map(|c| c.byte_offset).max()).unwrap_or(0);
            o2.committed(s);
            let mut f = inflight.to_vec();
            f.remove(i);
            explore(&o2, lanes, n, next, &f, stored.max(wrote), worst);
        }
    }

    #[test]
    fn a_kill_at_any_point_rereads_at_most_two_batches() {
        for lanes in [1, 2, 3] {
            let mut worst = 0;
            explore(&CommitOrder::default(), lanes, 9, 0, &[], 0, &mut worst);
            assert!(worst <= 2, "{lanes} lanes: {worst} committed batches beyond the checkpoint");
            if lanes > 1 {
                // The bound is reached: the test can tell a bad order from a good one.
                assert_eq!(worst, 2, "{lanes} lanes");
            }
        }
    }
}
