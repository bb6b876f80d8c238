//! A progress bar on the terminal (hidden when stderr is not one).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use predio_importers::Progress;

/// An indicatif bar implementing the importers' [`Progress`].
pub struct Bar(ProgressBar);

impl Bar {
    /// A bar on stderr; indicatif draws nothing when stderr is not a terminal.
    pub fn new() -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>28} [{bar:40}] {human_pos}/{human_len} ({per_sec}, {eta})",
            )
            .expect("static template is valid")
            .progress_chars("=> "),
        );
        Self(bar)
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl Progress for Bar {
    fn stage(&self, name: &str, total: u64) {
        self.0.reset();
        self.0.set_length(total);
        self.0.set_message(name.to_owned());
    }

    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
}
