//! Integration tests of backstop-migrate: the migration corpus in tests/corpus, and the report's JSON shape.
//!
//! The crate does no I/O, so these tests read the corpus files themselves and pass the text in.

mod corpus;
mod json;
mod realworld;
