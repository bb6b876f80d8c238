//! `predio sample`.

use predio_importers::{generate_sample, SampleOptions};

use super::thousands;
use crate::cli::SampleArgs;

/// `predio sample`.
pub fn run(args: &SampleArgs) -> anyhow::Result<()> {
    let summary = generate_sample(&SampleOptions {
        out: args.out.clone(),
        parcels: args.parcels,
        reports: args.reports,
        seed: args.seed,
    })?;
    eprintln!(
        "wrote a sample town of {} parcels in {} sectors with {} reports (seed {}):\n  {}\n  {}\n  {}",
        thousands(summary.parcels),
        summary.sectors,
        thousands(summary.reports),
        args.seed,
        summary.parcels_path.display(),
        summary.sectors_path.display(),
        summary.reports_path.display()
    );
    Ok(())
}
