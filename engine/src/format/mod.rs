//! The file formats a catalog version is made of: FlatGeobuf layers (parcels, sectors, exports)
//! and the Parquet writer every table goes through.

pub(crate) mod layer_file;
pub(crate) mod parquet_write;
