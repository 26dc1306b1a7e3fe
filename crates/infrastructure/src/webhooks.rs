//! Outgoing webhooks: Standard Webhooks signatures ([`signature`]).

pub mod signature;
