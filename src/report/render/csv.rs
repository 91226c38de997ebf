//! CSV: one query's rows, cells that a spreadsheet would read as formulas defused.

use anyhow::{anyhow, Result};

use crate::check::ir::Ty;
use crate::report::escape;
use crate::report::run::ReportResult;
use crate::report::value::Value;

pub(super) fn render_csv(r: &ReportResult, query: Option<&str>) -> Result<String> {
    let q = match query {
        Some(name) => r.results.iter().find(|q| q.name == name).ok_or_else(|| {
            anyhow!(
                "report {} has no query {name:?}; its queries: {}",
                r.name,
                r.results.iter().map(|q| q.name.as_str()).collect::<Vec<_>>().join(", ")
            )
        })?,
        None => r.results.first().ok_or_else(|| anyhow!("report {} has no queries", r.name))?,
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(q.columns.iter().map(|(n, _)| n.as_str()))?;
    for row in &q.rows {
        w.write_record(row.iter().zip(&q.columns).map(|(v, (_, t))| match (v, t) {
            (Value::Null, _) => String::new(),
            // Control characters (terminal escapes) shown as in every other format.
            (_, Ty::Text) | (Value::Text(_), _) => escape::csv_cell(&escape::text(&v.display())),
            _ => v.display(),
        }))?;
    }
    Ok(String::from_utf8(w.into_inner().map_err(|e| anyhow!("{e}"))?)?)
}
