//! Compiles one query file (or `builtin`: every query of the built-in reports) N times for
//! both dialects and prints µs per pass. Run under callgrind to count instructions, which
//! unlike time do not change with the machine's load: scripts/compile-instructions.sh.

// The allocator the `cowrieql` binary uses (src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;

use cowrieql::check::ir::Ty;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(what), Some(n)) = (args.next(), args.next().and_then(|n| n.parse::<u32>().ok())) else {
        eprintln!("usage: compile_loop FILE.cql|builtin PASSES");
        std::process::exit(2);
    };
    let queries: Vec<(String, HashMap<String, Ty>)> = if what == "builtin" {
        cowrieql::report::builtin::reports()
            .unwrap()
            .iter()
            .flat_map(|r| {
                let declared = cowrieql::report::run::declared_types(r);
                r.queries.iter().map(move |q| (q.text.clone(), declared.clone()))
            })
            .collect()
    } else {
        vec![(std::fs::read_to_string(&what).unwrap(), HashMap::new())]
    };
    let t = std::time::Instant::now();
    for _ in 0..n {
        for (q, declared) in &queries {
            std::hint::black_box(cowrieql::compile::translate_all(std::hint::black_box(q), declared).unwrap());
        }
    }
    println!("{:.1}", t.elapsed().as_secs_f64() * 1e6 / f64::from(n.max(1)));
}
