//! Progress as the library reports it: a callback the caller supplies. The library says
//! what is being done and how far it is; only `cli/` draws bars (indicatif), and library
//! callers and tests pass [`Silent`].

use std::sync::Arc;

/// What a count of progress counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Rows,
    Items,
}

/// Receives progress. Shared between the tasks of one command (lanes run at once).
pub trait Progress: Send + Sync {
    /// A task begins: `name` (a table, "indexes", a file set), `total` units of which
    /// `done` are already done (a resumed copy).
    fn start(&self, name: &str, unit: Unit, total: u64, done: u64) -> Arc<dyn Task>;
}

/// One task's progress.
pub trait Task: Send + Sync {
    fn advance(&self, n: u64);
    /// What the task is at now ("12000 events", an index's name).
    fn note(&self, text: String);
    fn finish(&self);
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: &str, _: Unit, _: u64, _: u64) -> Arc<dyn Task> {
        Arc::new(Silent)
    }
}

impl Task for Silent {
    fn advance(&self, _: u64) {}
    fn note(&self, _: String) {}
    fn finish(&self) {}
}

/// Where a command reports its progress (none by default).
#[derive(Clone)]
pub struct Reporter(pub Arc<dyn Progress>);

impl Default for Reporter {
    fn default() -> Self {
        Reporter(Arc::new(Silent))
    }
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reporter")
    }
}

impl Reporter {
    pub fn start(&self, name: &str, unit: Unit, total: u64, done: u64) -> Arc<dyn Task> {
        self.0.start(name, unit, total, done)
    }
}
