//! The compiler's front door: text → parse → check → emit, pure and synchronous.

use std::collections::HashMap;

use crate::check::{self, ir::Ty};
use crate::diag::Diagnostic;
use crate::dsl;
use crate::sql::{self, Compiled, Dialect};

/// Compiles `src` for one dialect. `declared` gives known parameter types.
pub fn compile(src: &str, dialect: &dyn Dialect, declared: &HashMap<String, Ty>) -> Result<Compiled, Vec<Diagnostic>> {
    let ast = dsl::parse(src)?;
    let plan = check::check(&ast, declared)?;
    sql::emit(&plan, dialect)
}

/// Compiles for every dialect; all diagnostics together (deduplicated) on failure.
pub fn compile_all(src: &str, declared: &HashMap<String, Ty>) -> Result<Vec<Compiled>, Vec<Diagnostic>> {
    let ast = dsl::parse(src)?;
    let plan = check::check(&ast, declared)?;
    let mut out = Vec::new();
    let mut errors: Vec<Diagnostic> = Vec::new();
    for d in sql::all_dialects() {
        match sql::emit(&plan, d) {
            Ok(c) => out.push(c),
            Err(es) => {
                for e in es {
                    if !errors.contains(&e) {
                        errors.push(e);
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
