//! The console's pages, one file each. Every handler takes the console
//! and the request's context (its route already checked the session and,
//! for actions, the CSRF token) and renders with maud, which escapes
//! every value it interpolates.

pub mod assets;
pub mod audit;
pub mod budgets;
pub mod cards;
pub mod job;
pub mod job_leaks;
pub mod jobs;
pub mod layout;
pub mod login;
pub mod models;
pub mod overview;
pub mod submit;
pub mod verify;
