//! Presentational pieces: they take data as props and fetch nothing, so the component tests
//! mount them with known data and assert on the DOM.

pub mod badge;
pub mod chart;
pub mod confirm;
pub mod copy;
pub mod health;
pub mod license_table;
pub mod map_graph;
pub mod seats;
pub mod status;
pub mod verdict;
