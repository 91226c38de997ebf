//! One definition per materialized view name across reports. Two reports that materialize
//! one name differently would each rebuild the view whenever the other had run last: at
//! scale a rebuild takes seconds, and the report that ran second read figures of the other's
//! definition until then.

use std::collections::BTreeMap;

use super::def::Report;
use super::run::compile_report;

/// Each view name that two of `reports` materialize differently, in words: the view and the
/// two report/query pairs. Reports that do not compile are left to the per-report check.
pub fn conflicts(reports: &[&Report]) -> Vec<String> {
    // (dialect, view) → (definition hash, "report/query") of the first definition seen.
    let mut first: BTreeMap<(&str, String), (String, String)> = BTreeMap::new();
    let mut found = Vec::new();
    for r in reports {
        for d in crate::sql::all_dialects() {
            let Ok(compiled) = compile_report(r, d) else { continue };
            for (q, c) in r.queries.iter().zip(&compiled) {
                let here = format!("{}/{}", r.def.name, q.name);
                for v in &c.views {
                    let hash = v.definition_hash();
                    let (seen, by) = first.entry((c.dialect, v.name.clone())).or_insert((hash.clone(), here.clone()));
                    if *seen != hash {
                        let text = format!(
                            "materialized view `{}` is defined one way by {by} and another by {here}: give one \
                             of them another name, or both the same pipeline up to `materialize`",
                            v.name
                        );
                        if !found.contains(&text) {
                            found.push(text);
                        }
                    }
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(name: &str, query: &str) -> Report {
        let yaml = format!(
            "name: {name}\ntitle: t\nqueries:\n  q:\n    title: q\n    query: |\n      {}\n",
            query.replace('\n', "\n      ")
        );
        Report::parse(&yaml, name, &super::super::def::DiskFiles(std::path::PathBuf::from("."))).unwrap()
    }

    #[test]
    fn a_view_name_with_two_definitions_is_named_with_both_places() {
        let a = report(
            "a",
            "from commands\ngroup day = bucket(ts, day), sensor\naggregate n = count()\nmaterialize per_day",
        );
        let same = report("b", "from commands\ngroup day = bucket(ts, day), sensor\naggregate n = count()\nmaterialize per_day\nwhere n > 1");
        let other = report("c", "from commands\nwhere not failed\ngroup day = bucket(ts, day), sensor\naggregate n = count()\nmaterialize per_day");
        assert!(conflicts(&[&a, &same]).is_empty());
        let found = conflicts(&[&a, &same, &other]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("`per_day`") && found[0].contains("a/q") && found[0].contains("c/q"), "{found:?}");
    }

    #[test]
    fn the_built_in_reports_agree_on_their_views() {
        let reports = super::super::builtin::reports().unwrap();
        let found = conflicts(&reports.iter().collect::<Vec<_>>());
        assert!(found.is_empty(), "{found:#?}");
    }
}
