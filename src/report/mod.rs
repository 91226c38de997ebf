//! Running compiled queries and the neutral values they return.

pub mod bench;
pub mod builtin;
pub mod chart_spec;
pub mod def;
pub mod escape;
pub mod execute;
pub mod explain;
pub mod params;
pub mod render;
pub mod run;
pub mod site;
pub mod value;
pub mod view_names;

pub use execute::execute;
pub use value::Value;
