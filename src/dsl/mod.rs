//! The report language's syntax: grammar binding, AST, parse errors with spans.

pub mod ast;
pub mod format;
pub mod parser;

pub use parser::parse;

/// The text of every query fixture (tests/queries/ok and err), for the parser's and the
/// formatter's tests.
#[cfg(test)]
pub(crate) fn query_fixtures() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/queries");
    let mut out = Vec::new();
    for sub in ["ok", "err"] {
        for f in std::fs::read_dir(dir.join(sub)).unwrap() {
            out.push(std::fs::read_to_string(f.unwrap().path()).unwrap());
        }
    }
    out
}
