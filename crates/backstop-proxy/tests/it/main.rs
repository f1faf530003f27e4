//! Integration tests: a real proxy on 127.0.0.1 in front of small real upstream servers.

mod proxy;
mod retry;
mod support;
mod wire;
