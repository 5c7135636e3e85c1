//! Integration tests: the real `keel` binary, driven by the official Temporal Rust SDK over
//! real gRPC on loopback.

// Protobuf requests keep `..Default::default()`: Temporal adds fields between versions.
#![allow(clippy::needless_update)]

mod activities;
mod chains;
mod children;
mod cli;
mod cli_executions;
mod cluster;
mod contract;
mod crash;
mod database_restart;
mod flows;
mod harness;
mod limits;
mod namespaces;
mod odd_ids;
mod older_calls;
mod plans;
mod python;
mod queries;
mod reset;
mod rest;
mod rest_bulk;
mod rest_client;
mod rest_guard;
mod rest_live;
mod schedules;
mod sdk_gaps;
mod search_attributes;
mod signals;
mod starts;
mod stored_data;
mod ui;
mod updates;
mod visibility;
mod workflow_tasks;
mod workflows;
