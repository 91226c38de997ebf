//! Every emitted statement is parsed by sqlparser with the matching dialect: SQL that does
//! not parse is a compiler bug, reported with the statement.

use sqlparser::parser::Parser;

use super::{Compiled, Dialect};
use crate::diag::Diagnostic;

pub fn validate(c: &Compiled, d: &dyn Dialect) -> Result<(), Vec<Diagnostic>> {
    let dialect = d.sqlparser();
    let mut errors = Vec::new();
    for stmt in c.setup().chain(std::iter::once(&c.sql)) {
        if let Err(e) = Parser::parse_sql(dialect.as_ref(), stmt) {
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
