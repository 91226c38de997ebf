//! Running compiled queries and the neutral values they return.

pub mod execute;
pub mod value;

pub use execute::execute;
pub use value::Value;
