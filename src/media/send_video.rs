//! See media/mod.rs.
