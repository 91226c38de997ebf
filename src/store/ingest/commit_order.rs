//! Which checkpoints a batch may write when batches commit out of order.
//!
//! With several writer connections, batch 7 can commit before batch 6. A checkpoint says "all
//! lines of this file before offset N are stored", so batch 7 may only write its own
//! checkpoint if every earlier batch had committed when it was handed out; otherwise it
//! writes the newest checkpoint of the committed prefix (the unbroken run of committed
//! batches from the start), which is true whatever happens next. A kill therefore never
//! loses lines: at worst a resumed run reads a few batches again, and their lines are
//! duplicates that change nothing. After the last batch, `finish` gives each source's final
//! checkpoint to write.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::batch::Checkpoint;

#[derive(Default)]
pub struct CommitOrder {
    /// Every batch before this one has committed.
    prefix: u64,
    /// Committed batches at or after `prefix`.
    committed: BTreeSet<u64>,
    /// Checkpoints of batches handed out and not yet in the prefix.
    pending: BTreeMap<u64, Checkpoint>,
    /// Newest checkpoint per source inside the prefix, not yet given to any batch.
    safe: HashMap<String, Checkpoint>,
    /// Newest checkpoint per source (written by `finish`).
    last: HashMap<String, Checkpoint>,
}

impl CommitOrder {
    /// Batch `seq` (numbered from 0 in reading order) is handed out with its own checkpoint;
    /// returns the checkpoints its transaction writes.
    pub fn dispatch(&mut self, seq: u64, own: Option<&Checkpoint>) -> Vec<Checkpoint> {
        let mut out: Vec<Checkpoint> = Vec::new();
        let everything_before_committed = self.prefix == seq;
        if let Some(cp) = own {
            self.last.insert(cp.source_file.clone(), cp.clone());
            if !everything_before_committed {
                self.pending.insert(seq, cp.clone());
            }
        }
        for (source, cp) in self.safe.drain() {
            // The batch's own checkpoint, written below, is newer.
            if !(everything_before_committed && own.is_some_and(|o| o.source_file == source)) {
                out.push(cp);
            }
        }
        if let Some(cp) = own.filter(|_| everything_before_committed) {
            out.push(cp.clone());
        }
        out
    }

    /// Batch `seq` committed.
    pub fn committed(&mut self, seq: u64) {
        self.committed.insert(seq);
        while self.committed.remove(&self.prefix) {
            if let Some(cp) = self.pending.remove(&self.prefix) {
                self.safe.insert(cp.source_file.clone(), cp);
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
        // Batch 1 committed first; batch 0 not yet: nothing is safe beyond what 0 writes.
        assert_eq!(o.dispatch(2, Some(&cp("a", 30))), vec![]);
        o.committed(0);
        // Now 0 and 1 are the prefix: offset 20 is safe and goes with the next batch.
        assert_eq!(o.dispatch(3, Some(&cp("a", 40))), vec![cp("a", 20)]);
        o.committed(2);
        o.committed(3);
        assert_eq!(o.finish(), vec![cp("a", 40)]);
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
}
