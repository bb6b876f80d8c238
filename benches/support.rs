//! What the criterion benches share.

use std::path::Path;

use predio_engine::ParcelLayer;
use predio_importers::{import_parcels, DuplicateIds, NoProgress, ParcelOptions, VectorSource};

/// The parcels of a vector file, imported as `predio import parcels` does.
pub fn parcels_of(path: &Path) -> ParcelLayer {
    let change = import_parcels(
        &VectorSource::new(path.to_str().expect("utf-8")),
        &ParcelOptions {
            id_field: None,
            on_duplicate_id: DuplicateIds::Fail,
        },
        None,
        &NoProgress,
    )
    .expect("import");
    change.parcels.expect("parcels").0
}
