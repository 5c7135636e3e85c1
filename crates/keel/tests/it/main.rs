//! Integration tests: the real `keel` binary, driven by the official Temporal Rust SDK over
//! real gRPC on loopback.

mod activities;
mod crash;
mod harness;
mod starts;
mod visibility;
mod workflows;
