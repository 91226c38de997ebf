//! Progress bars on standard error (indicatif), for the library's progress callback: drawn
//! only when asked (a terminal), one line per task, together while tasks run at once.

use std::sync::Arc;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::progress::{Progress, Reporter, Task, Unit};

/// Bars on standard error when `show`, nothing otherwise.
pub fn bars(show: bool) -> Reporter {
    if show {
        Reporter(Arc::new(Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))))
    } else {
        Reporter::default()
    }
}

struct Bars(MultiProgress);

impl Progress for Bars {
    fn start(&self, name: &str, unit: Unit, total: u64, done: u64) -> Arc<dyn Task> {
        let template = match unit {
            Unit::Bytes => "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
            Unit::Rows => "{prefix:>18} {wide_bar} {human_pos}/{human_len} rows {per_sec} ETA {eta}",
            Unit::Items => "{prefix:>18} {wide_bar} {pos}/{len} {msg}",
        };
        let bar = self.0.add(ProgressBar::new(total));
        bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
        bar.set_prefix(name.to_string());
        bar.set_position(done);
        Arc::new(Bar(bar))
    }
}

struct Bar(ProgressBar);

impl Task for Bar {
    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
    fn note(&self, text: String) {
        self.0.set_message(text);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
