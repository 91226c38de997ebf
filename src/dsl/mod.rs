//! The report language's syntax: grammar binding, AST, parse errors with spans.

pub mod ast;
pub mod format;
pub mod parser;

pub use parser::parse;
