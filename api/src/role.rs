//! Who a request is: the roles API keys carry, shared by the CLI (`keys add --role`) and the
//! server's guard.

use std::fmt;

use clap::ValueEnum;

/// Who a request is, from least to most allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum Role {
    /// No key: aggregated layers only (sectors, heat with k-anonymity; parcels when configured
    /// public), the viewer, Open311 discovery and services.
    Public,
    /// Planners: the parcel layer and its legends as well.
    Planner,
    /// Auditors: report-level data too (Open311 requests).
    Auditor,
    /// Administrators: everything, including `/metrics` and the `/admin` endpoints.
    Admin,
}

impl Role {
    /// Its name, as in the key file and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Planner => "planner",
            Self::Auditor => "auditor",
            Self::Admin => "admin",
        }
    }

    /// The role named `s` (as in the key file), if any.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Public, Self::Planner, Self::Auditor, Self::Admin]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
