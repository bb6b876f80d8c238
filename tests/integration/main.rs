//! End-to-end tests: they run the built `predio` binary on real data (../shared/data), on the
//! sample town and on hand-made bad inputs, and compare with GDAL's own tools as the peer.
//!
//! Real datasets are read from `../shared/data`. Without it the tests that need it say so and
//! skip, except under CI=true, where its absence is a failure.

mod support;

mod addresses;
mod api;
mod bad_input;
mod cadastre;
mod crash;
mod formats;
mod geocoder;
mod indices;
mod many;
mod national;
mod publish;
mod report_formats;
mod reports;
mod tiles;
mod workbench;
