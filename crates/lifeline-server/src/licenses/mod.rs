//! License records: issuing (signing + storing + auditing in one transaction), reading,
//! listing with filters and search, counting by state, revoking, extending.

mod change;
mod issue;
mod read;
mod record;
mod rekey;

pub(crate) use change::*;
pub use issue::check_request;
pub(crate) use issue::*;
pub(crate) use read::*;
pub(crate) use record::*;
pub(crate) use rekey::*;
