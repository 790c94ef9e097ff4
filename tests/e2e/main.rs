//! End-to-end tests: the real binary over real RocksDB (and, in later
//! modules, real peers). One test binary for all of them.

mod api;
mod crash;
mod examples;
mod kafka;
mod sdk;
mod stripe;
mod webhooks;
