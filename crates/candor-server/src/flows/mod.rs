//! The application layer: each flow that combines rooms lives here once, and every front end
//! (the HTTP routes, the CLI, the HMA-compatible routes, the console to come) calls it.
//! A flow validates what only the store can tell (states, who may act), then runs one store
//! write job: the rooms' operations (`candor_store::<room>`), the log entries
//! (`crate::entries::append`) and the in-memory effects after commit (match index, numbers).
//! Routes do auth, parsing and the answer; they never call one another and hold no SQL.

pub mod appeals;
pub mod banks;
pub mod decisions;
pub mod dsa;
pub mod exchanges;
pub mod review;
pub mod scan;
pub mod sources;
