//! Locating a report that has no point: by its parcel's reference (finca, número predial,
//! padrón, map-lot) or by its address, against the cadastre's own (`import parcel-table`).
//!
//! - `normalise`: addresses and references as people write them, cut and normalised;
//! - `edits`: the edit distance between street names and its cheap lower bounds;
//! - `book`: the cadastre's references and addresses indexed, and the matcher;
//! - `batch`: the book of a parcel layer, and the reports without a point placed with it.

mod batch;
mod book;
mod edits;
mod normalise;

pub use batch::{locate_without_point, AddressSource, ParcelBook, ADDRESS_SEPARATOR};
pub use book::{AddressBook, Found, How, Reason, Thresholds};
pub(crate) use normalise::fold;
pub use normalise::{normalise_ref, parse_address, Address, HouseNumber};
