//! Runs compiled queries with their parameters, checked against what the compiler proved;
//! the store binds them and decodes rows into `Value`s.

use anyhow::{bail, Result};

use super::value::Value;
use crate::sql::Compiled;
pub use crate::store::query::Executed;
use crate::store::Store;

/// Runs `c` on `store` with `binds` (one per parameter, in bind order).
pub async fn execute(store: &Store, c: &Compiled, binds: &[Value]) -> Result<Vec<Vec<Value>>> {
    let mut out = execute_all(store, std::slice::from_ref(c), &[binds.to_vec()]).await?;
    Ok(out.rows.pop().unwrap_or_default())
}

fn check_binds(c: &Compiled, binds: &[Value], backend: &str) -> Result<()> {
    if c.dialect != backend {
        bail!("this SQL was compiled for {}, not {backend}", c.dialect);
    }
    if binds.len() != c.params.len() {
        bail!("the query has {} parameter(s) but {} value(s) were given", c.params.len(), binds.len());
    }
    for (p, v) in c.params.iter().zip(binds) {
        if !v.fits(p.ty) {
            bail!("parameter ${} is {} but was given {}", p.name, p.ty.name(), v.display());
        }
    }
    Ok(())
}

/// Runs several queries in one read snapshot (one transaction), so a report's sections
/// agree with each other even while an ingest is writing.
pub async fn execute_all(store: &Store, queries: &[Compiled], binds: &[Vec<Value>]) -> Result<Executed> {
    for (c, b) in queries.iter().zip(binds) {
        check_binds(c, b, store.dialect().name())?;
    }
    crate::store::query::run_all(store, queries, binds).await
}
