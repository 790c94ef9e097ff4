//! End-to-end tests: the real binary over real RocksDB (and, in later
//! modules, real peers). One test binary for all of them.

mod admission;
mod api;
mod audit;
mod backup;
mod clients;
mod crash;
mod examples;
mod hardening;
mod kafka;
mod layers;
mod load;
mod openapi;
mod operations;
mod orders;
mod quickstart;
mod retries;
mod schemathesis;
mod sdk;
mod setup;
mod simulation;
mod stripe;
mod webhooks;
