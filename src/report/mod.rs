//! Running compiled queries and the neutral values they return.

pub mod def;
pub mod execute;
pub mod params;
pub mod value;

pub use execute::execute;
pub use value::Value;
