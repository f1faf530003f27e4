//! Integration tests of backstop-schema against a real PostgreSQL (a throwaway cluster) and real SQLite files.

mod postgres;
mod queries;
mod runner;
mod scenarios;
mod sqlite;
mod support;
