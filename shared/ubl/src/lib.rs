pub mod model;
pub mod rules;
pub mod xml;
pub mod xpath;
