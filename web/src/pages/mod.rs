//! One module per page. Pages fetch through [`crate::api`] and render with
//! [`crate::components`]; each shows loading, empty and error states.

pub mod audit;
pub mod drills;
pub mod incidents;
pub mod keys;
pub mod license_detail;
pub mod licenses;
pub mod map;
pub mod overrides;
pub mod overview;
pub mod sign_in;
