//! The compiler's front door: text → parse → check → emit → self-check, pure and
//! synchronous. `translate*` stop before the sqlparser self-check (the benchmarks report
//! both); everything that runs or prints SQL uses `compile*`.

use std::collections::HashMap;

use crate::check::{self, ir::Ty};
use crate::diag::Diagnostic;
use crate::dsl;
use crate::sql::{self, validate::validate, Compiled, Dialect};

/// Parse, check and emit for one dialect. `declared` gives known parameter types.
pub fn translate(
    src: &str,
    dialect: &dyn Dialect,
    declared: &HashMap<String, Ty>,
) -> Result<Compiled, Vec<Diagnostic>> {
    let ast = dsl::parse(src)?;
    let plan = check::check(&ast, declared)?;
    sql::emit(&plan, dialect)
}

/// `translate`, then sqlparser parses the SQL with the dialect's grammar.
pub fn compile(src: &str, dialect: &dyn Dialect, declared: &HashMap<String, Ty>) -> Result<Compiled, Vec<Diagnostic>> {
    let c = translate(src, dialect, declared)?;
    validate(&c, dialect)?;
    Ok(c)
}

/// Parse and check once, emit for every dialect; all diagnostics together on failure.
pub fn translate_all(src: &str, declared: &HashMap<String, Ty>) -> Result<Vec<Compiled>, Vec<Diagnostic>> {
    let ast = dsl::parse(src)?;
    let plan = check::check(&ast, declared)?;
    let mut out = Vec::new();
    let mut errors: Vec<Diagnostic> = Vec::new();
    for d in sql::all_dialects() {
        match sql::emit(&plan, d) {
            Ok(c) => out.push(c),
            Err(es) => crate::diag::push_new(&mut errors, es),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// `translate_all` with the sqlparser self-check of every statement.
pub fn compile_all(src: &str, declared: &HashMap<String, Ty>) -> Result<Vec<Compiled>, Vec<Diagnostic>> {
    let out = translate_all(src, declared)?;
    // translate_all emits in all_dialects() order, one statement set per dialect.
    for (c, d) in out.iter().zip(sql::all_dialects()) {
        validate(c, d)?;
    }
    Ok(out)
}
