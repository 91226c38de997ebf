//! Every emitted statement is parsed by sqlparser with the matching dialect: SQL that does
//! not parse is a compiler bug, reported with the statement.

use sqlparser::parser::Parser;

use super::{Compiled, Dialect};
use crate::diag::Diagnostic;

const RECURSION_LIMIT: usize = 4096;

pub fn validate(c: &Compiled, d: &dyn Dialect) -> Result<(), Vec<Diagnostic>> {
    let dialect = d.sqlparser();
    let mut errors = Vec::new();
    for stmt in c.setup().chain(std::iter::once(&c.sql)) {
        // The parser's own bounds (bracket and `case` nesting, terms per expression) limit
        // depth; sqlparser's default recursion limit (50) is lower than they allow, and its
        // recursion grows the stack as it needs (its `recursive-protection`).
        let parsed = Parser::new(dialect.as_ref())
            .with_recursion_limit(RECURSION_LIMIT)
            .try_with_sql(stmt)
            .and_then(|mut p| p.parse_statements());
        if let Err(e) = parsed {
            errors.push(
                Diagnostic::unplaced(
                    "E0900",
                    format!("internal error: the {} SQL does not parse ({e}):\n{stmt}", d.name()),
                )
                .hint("this is a bug in cowrieql; please report it with the query"),
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
