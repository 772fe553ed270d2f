//! placeholder: to be written
pub struct Client;
