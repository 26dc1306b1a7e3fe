//! sea-orm entities, private to the infrastructure crate.

pub(crate) mod instance;
