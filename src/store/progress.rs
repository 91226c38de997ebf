//! Progress bars on standard error: drawn only when asked (a terminal), hidden otherwise.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub fn bar(show: bool, len: u64, template: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    b.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    b
}
