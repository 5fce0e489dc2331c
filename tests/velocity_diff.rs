//! Differential test of the core template language against stock Apache Velocity 1.7
//! (Debian's `velocity` package on the machine's JDK): a seeded generator writes templates
//! that use only defined references (set, if/elseif/else, foreach with `$foreach.*` and
//! `$velocityCount`, break, integer arithmetic, comparisons and logic, strings with their Java
//! methods, list and map literals and methods, ranges), `tests/velocity/Render.java` renders
//! them with Velocity, and every output must equal ours byte for byte.
//!
//! Undefined and null references are never generated: that is where API Gateway deliberately
//! differs from stock Velocity (docs/compatibility.md). Maps with more than one key are never
//! printed, as Velocity 1.7 map literals are `HashMap`s (hash order) and API Gateway's keep
//! insertion order. Skipped, with a note, when `javac` or the Velocity jar is missing.
//! `TOLLGATE_VELOCITY_SEED` and `TOLLGATE_VELOCITY_COUNT` pick another run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tollgate::template::playground::OwnedRequest;
use tollgate::template::{RenderState, Template};

use crate::support::{root, temp_dir};

/// Templates per run (bounded: one JVM renders them all in a few seconds).
const DEFAULT_COUNT: usize = 600;
/// Statements per block, and block nesting, so every template stays small.
const MAX_STATEMENTS: usize = 8;
const MAX_DEPTH: usize = 3;
/// Upper bound on the Java run.
const JAVA_TIMEOUT: Duration = Duration::from_secs(120);

const JARS: [&str; 3] = [
    "/usr/share/java/velocity-1.7.jar",
    "/usr/share/java/commons-collections3.jar",
    "/usr/share/java/commons-lang.jar",
];

/// Control templates (name, source) and their (Velocity 1.7, Tollgate) outputs.
const CONTROLS: [(&str, &str); 3] = [
    (
        "control-undefined",
        "[$undefined] [$!undefined] [${undefined}]",
    ),
    ("control-null-method", "#set($m = {})[$m.get('x')]"),
    ("control-set-null", "#set($a = 1)#set($a = $m.nothing)[$a]"),
];
const CONTROL_OUTPUTS: [(&str, &str); 3] = [
    ("[$undefined] [] [${undefined}]", "[] [] []"),
    ("[$m.get('x')]", "[]"),
    ("[1]", "[1]"),
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    Int,
    Str,
    Bool,
    List,
    /// A map of string keys to ints; `true` when it may hold several keys (never printed).
    Map(bool),
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

struct Gen {
    rng: Rng,
    /// Defined variables, innermost scope last: (name, type).
    scopes: Vec<Vec<(String, Ty)>>,
    next_var: usize,
    loop_depth: usize,
}

/// Text between directives. None starts with a character that would extend a preceding
/// reference or directive (letters, digits, `.`, `[`, `(`, `-`).
const TEXTS: [&str; 9] = [" ", "\n", "  ", " text ", ", ", ": ", "\n  ", " | ", "{ } "];
const STRINGS: [&str; 6] = ["ab", "xyz", "a b", "Aa", "cab", "b-a"];

impl Gen {
    fn vars(&self, ty: Ty) -> Vec<String> {
        self.scopes
            .iter()
            .flatten()
            .filter(|(_, t)| *t == ty || (matches!(ty, Ty::Map(true)) && *t == Ty::Map(false)))
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn var(&mut self, ty: Ty) -> Option<String> {
        let vs = self.vars(ty);
        (!vs.is_empty()).then(|| vs[self.rng.below(vs.len())].clone())
    }

    fn int_lit(&mut self) -> String {
        self.rng.below(21).to_string()
    }

    fn expr(&mut self, ty: Ty, depth: usize) -> String {
        let leaf = depth == 0 || self.rng.chance(40);
        match ty {
            Ty::Int => {
                if leaf {
                    return match self.var(Ty::Int) {
                        Some(v) if self.rng.chance(60) => format!("${v}"),
                        _ => self.int_lit(),
                    };
                }
                let d = depth - 1;
                match self.rng.below(10) {
                    0 => format!("({} + {})", self.expr(Ty::Int, d), self.expr(Ty::Int, d)),
                    1 => format!("({} - {})", self.expr(Ty::Int, d), self.expr(Ty::Int, d)),
                    2 => format!("({} * {})", self.expr(Ty::Int, d), self.rng.below(3)),
                    3 => format!("({} / {})", self.expr(Ty::Int, d), 1 + self.rng.below(7)),
                    4 => format!("({} % {})", self.expr(Ty::Int, d), 1 + self.rng.below(7)),
                    5 => format!("{}.length()", self.str_target(d)),
                    6 => format!("{}.indexOf(\"a\")", self.str_target(d)),
                    7 => match self.var(Ty::List) {
                        Some(l) if self.rng.chance(50) => format!("${l}.size()"),
                        Some(l) => format!("${l}.get(0)"),
                        None => self.int_lit(),
                    },
                    8 => match self.var(Ty::Map(true)) {
                        Some(m) if self.rng.chance(50) => format!("${m}.get(\"a\")"),
                        Some(m) if self.rng.chance(50) => format!("${m}.a"),
                        Some(m) => format!("${m}.size()"),
                        None => self.int_lit(),
                    },
                    _ => format!("(0 - {})", self.expr(Ty::Int, d)),
                }
            }
            Ty::Str => {
                if leaf {
                    return match self.var(Ty::Str) {
                        Some(v) if self.rng.chance(60) => format!("${v}"),
                        _ => self.str_lit(),
                    };
                }
                let d = depth - 1;
                let t = self.str_target(d);
                match self.rng.below(8) {
                    0 => format!("{t}.toUpperCase()"),
                    1 => format!("{t}.toLowerCase()"),
                    2 => format!("{t}.concat(\"z\")"),
                    3 => format!("{t}.replace(\"a\", \"q\")"),
                    4 => format!("{t}.substring(0, 1)"),
                    5 => format!("({t} + {})", self.expr(Ty::Int, d)),
                    6 => format!("{t}.trim()"),
                    _ => match self.var(Ty::Str) {
                        Some(v) => format!("\"<${{{v}}}>\""),
                        None => self.str_lit(),
                    },
                }
            }
            Ty::Bool => {
                if leaf {
                    return match self.var(Ty::Bool) {
                        Some(v) if self.rng.chance(50) => format!("${v}"),
                        _ => self.rng.pick(&["true", "false"]).to_string(),
                    };
                }
                let d = depth - 1;
                match self.rng.below(9) {
                    0 => {
                        let op = self.rng.pick(&["<", "<=", "==", "!=", ">", ">="]);
                        format!("({} {op} {})", self.expr(Ty::Int, d), self.expr(Ty::Int, d))
                    }
                    1 => format!("({} == {})", self.expr(Ty::Str, d), self.expr(Ty::Str, d)),
                    2 => {
                        let m = self
                            .rng
                            .pick(&["contains", "startsWith", "endsWith", "equals"]);
                        let arg = self.rng.pick(&["\"a\"", "\"b\"", "\"ab\""]);
                        format!("{}.{m}({arg})", self.str_target(d))
                    }
                    3 => match self.var(Ty::List) {
                        Some(l) => format!("${l}.contains({})", self.int_lit()),
                        None => "true".into(),
                    },
                    4 => match self.var(Ty::Map(true)) {
                        Some(m) => format!("${m}.containsKey(\"b\")"),
                        None => "false".into(),
                    },
                    5 => format!("!{}", self.expr(Ty::Bool, d)),
                    6 => format!("({} && {})", self.expr(Ty::Bool, d), self.expr(Ty::Bool, d)),
                    7 => format!("({} || {})", self.expr(Ty::Bool, d), self.expr(Ty::Bool, d)),
                    _ => format!("{}.isEmpty()", self.str_target(d)),
                }
            }
            Ty::List => {
                if !leaf || self.rng.chance(50) {
                    if self.rng.chance(40) {
                        return format!("[{}..{}]", self.rng.below(7), self.rng.below(7));
                    }
                    let n = 1 + self.rng.below(4);
                    let items: Vec<String> = (0..n).map(|_| self.int_lit()).collect();
                    return format!("[{}]", items.join(", "));
                }
                match self.var(Ty::List) {
                    Some(v) => format!("${v}"),
                    None => "[1, 2]".into(),
                }
            }
            Ty::Map(_) => {
                if self.rng.chance(50) {
                    format!("{{\"a\": {}}}", self.int_lit())
                } else {
                    format!("{{\"a\": {}, \"b\": {}}}", self.int_lit(), self.int_lit())
                }
            }
        }
    }

    fn str_lit(&mut self) -> String {
        let s = self.rng.pick(&STRINGS);
        if self.rng.chance(50) {
            format!("\"{s}\"")
        } else {
            format!("'{s}'")
        }
    }

    /// A string expression a method can be called on: Velocity 1.7 takes methods on
    /// references only, not on literals. `$s0` always exists (the prelude).
    fn str_target(&mut self, _depth: usize) -> String {
        match self.var(Ty::Str) {
            Some(v) => format!("${v}"),
            None => "$s0".into(),
        }
    }

    fn random_ty(&mut self) -> Ty {
        match self.rng.below(9) {
            0..=2 => Ty::Int,
            3 | 4 => Ty::Str,
            5 | 6 => Ty::Bool,
            7 => Ty::List,
            _ => Ty::Map(false),
        }
    }

    fn set(&mut self, out: &mut String) {
        let ty = self.random_ty();
        let value = self.expr(ty, 3);
        let ty = match (ty, value.contains("\"b\"")) {
            (Ty::Map(_), multi) => Ty::Map(multi),
            (t, _) => t,
        };
        // Reassign only outside loops (no growth per iteration) and with the same type.
        let reuse = if self.loop_depth == 0 && !matches!(ty, Ty::Map(_)) && self.rng.chance(40) {
            self.var(ty)
        } else {
            None
        };
        let name = match reuse {
            Some(n) => n,
            None => {
                self.next_var += 1;
                let n = format!("v{}", self.next_var);
                if let Some(scope) = self.scopes.last_mut() {
                    scope.push((n.clone(), ty));
                }
                n
            }
        };
        out.push_str(&format!("#set(${name} = {value})"));
    }

    fn print(&mut self, out: &mut String) {
        match self.rng.below(6) {
            0 => {
                let ty = self.random_ty();
                let ty = if ty == Ty::Map(false) { Ty::Int } else { ty };
                let vs = self.vars(ty);
                if let Some(v) = vs.get(self.rng.below(vs.len().max(1))) {
                    let form = self.rng.pick(&["$", "${", "$!", "$!{"]);
                    let close = if form.ends_with('{') { "}" } else { "" };
                    out.push_str(&format!("{form}{v}{close}"));
                }
            }
            1 => {
                if let Some(m) = self
                    .scopes
                    .iter()
                    .flatten()
                    .find(|(_, t)| *t == Ty::Map(false))
                    .map(|(n, _)| n.clone())
                {
                    out.push_str(&format!("${m}"));
                }
            }
            // Not inside a loop: Velocity 1.7 throws ConcurrentModificationException when the
            // loop's own list grows (docs/compatibility.md).
            2 if self.loop_depth == 0 => {
                if let Some(l) = self.var(Ty::List) {
                    out.push_str(&format!("#set($ok = ${l}.add({}))$ok", self.int_lit()));
                }
            }
            3 => {
                // Double arithmetic, printed with Java's Double.toString.
                let e = self.expr(Ty::Int, 1);
                let f = self.rng.pick(&["0.5", "1.5", "2.25"]);
                out.push_str(&format!("#set($f = {e} + {f})$f"));
            }
            _ => {
                let ty = self.random_ty();
                let ty = if matches!(ty, Ty::Map(_)) {
                    Ty::Str
                } else {
                    ty
                };
                let e = self.expr(ty, 2);
                out.push_str(&format!("#set($p = {e})${{p}}"));
            }
        }
    }

    fn block(&mut self, depth: usize, out: &mut String) {
        self.scopes.push(Vec::new());
        let n = 1 + self.rng.below(MAX_STATEMENTS);
        for _ in 0..n {
            match self.rng.below(10) {
                0..=2 => self.set(out),
                3..=5 => self.print(out),
                6 if depth > 0 => self.if_block(depth - 1, out),
                7 if depth > 0 => self.foreach(depth - 1, out),
                8 if self.loop_depth > 0 && self.rng.chance(30) => {
                    out.push_str(&format!("#if({})#break#end", self.expr(Ty::Bool, 1)));
                }
                _ => {}
            }
            out.push_str(self.rng.pick(&TEXTS));
        }
        self.scopes.pop();
    }

    fn if_block(&mut self, depth: usize, out: &mut String) {
        out.push_str(&format!("#if({})", self.expr(Ty::Bool, 2)));
        self.block(depth, out);
        if self.rng.chance(40) {
            out.push_str(&format!("#elseif({})", self.expr(Ty::Bool, 2)));
            self.block(depth, out);
        }
        if self.rng.chance(50) {
            out.push_str("#{else}");
            self.block(depth, out);
        }
        out.push_str("#end");
    }

    fn foreach(&mut self, depth: usize, out: &mut String) {
        self.next_var += 1;
        let var = format!("i{}", self.next_var);
        let list = self.expr(Ty::List, 1);
        out.push_str(&format!("#foreach(${var} in {list})"));
        self.scopes.push(vec![(var.clone(), Ty::Int)]);
        self.loop_depth += 1;
        let extra = self.rng.pick(&[
            "$foreach.index",
            "$foreach.count",
            "$foreach.hasNext",
            "$velocityCount",
            "$foreach.first",
            "$foreach.last",
            "#if($foreach.hasNext),#end",
        ]);
        out.push_str(&format!("${var}:{extra}"));
        self.block(depth, out);
        self.loop_depth -= 1;
        self.scopes.pop();
        out.push_str("#end");
    }
}

fn generate(seed: u64) -> String {
    let mut g = Gen {
        rng: Rng(seed | 1),
        scopes: Vec::new(),
        next_var: 0,
        loop_depth: 0,
    };
    // A string, a list and a map always exist, so method calls have a target.
    let mut out = String::from("#set($s0 = \"cab\")#set($l0 = [1, 2])#set($m0 = {\"a\": 1})");
    g.scopes.push(vec![
        ("s0".into(), Ty::Str),
        ("l0".into(), Ty::List),
        ("m0".into(), Ty::Map(false)),
    ]);
    g.block(MAX_DEPTH, &mut out);
    out
}

fn ours(src: &str) -> Result<String, String> {
    let t = Template::compile(src).map_err(|e| format!("compile: {e:?}"))?;
    let mut out = Vec::new();
    let mut state = RenderState::new();
    OwnedRequest::default()
        .with_data(|d, r| t.render(d, r, &mut state, &mut out))
        .map_err(|e| format!("render: {e:?}"))?;
    String::from_utf8(out).map_err(|e| e.to_string())
}

fn java_ready() -> Option<String> {
    let javac = Command::new("javac").arg("-version").output().ok()?;
    if !javac.status.success() || !JARS.iter().all(|j| Path::new(j).exists()) {
        return None;
    }
    Some(JARS.join(":"))
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn generated_templates_render_like_velocity_1_7() {
    let Some(classpath) = java_ready() else {
        eprintln!("velocity_diff: skipped (needs javac and Debian's velocity jars: {JARS:?})");
        return;
    };
    let seed = env_num("TOLLGATE_VELOCITY_SEED", 0x7011_6a7e);
    let count = env_num("TOLLGATE_VELOCITY_COUNT", DEFAULT_COUNT as u64).min(100_000) as usize;
    let dir = temp_dir("velocity");
    let classes = dir.join("classes");
    let cases = dir.join("cases");
    std::fs::create_dir_all(&classes).unwrap();
    std::fs::create_dir_all(&cases).unwrap();
    let javac = Command::new("javac")
        .args(["-nowarn", "-cp", &classpath, "-d"])
        .arg(&classes)
        .arg(root().join("tests/velocity/Render.java"))
        .output()
        .unwrap();
    assert!(
        javac.status.success(),
        "javac: {}",
        String::from_utf8_lossy(&javac.stderr)
    );
    let mut templates = Vec::with_capacity(count);
    for i in 0..count {
        let src = generate(
            seed.wrapping_add(i as u64)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        std::fs::write(cases.join(format!("t{i:05}.vtl")), &src).unwrap();
        templates.push(src);
    }
    // Controls, not generated: places where API Gateway deliberately differs from stock
    // Velocity. They prove the comparison sees a difference when there is one.
    for (name, src) in CONTROLS {
        std::fs::write(cases.join(format!("{name}.vtl")), src).unwrap();
    }
    run_java(&classes, &classpath, &cases);
    for ((name, src), (velocity, tollgate)) in CONTROLS.iter().zip(CONTROL_OUTPUTS) {
        let java = std::fs::read_to_string(cases.join(format!("{name}.out"))).unwrap();
        assert_eq!(java, velocity, "Velocity 1.7 on control {name}");
        assert_eq!(ours(src).unwrap(), tollgate, "Tollgate on control {name}");
    }
    let mut failures = Vec::new();
    let mut java_errors = 0;
    for (i, src) in templates.iter().enumerate() {
        let base: PathBuf = cases.join(format!("t{i:05}"));
        let expected = match std::fs::read_to_string(base.with_extension("out")) {
            Ok(s) => s,
            Err(_) => {
                java_errors += 1;
                continue;
            }
        };
        let got = ours(src);
        if got.as_deref() != Ok(expected.as_str()) && failures.len() < 10 {
            failures.push(format!(
                "--- t{i:05} (seed {seed}) ---\n{src}\n--- velocity 1.7 ---\n{expected:?}\n--- tollgate ---\n{got:?}"
            ));
        }
    }
    eprintln!(
        "velocity_diff: {count} templates (seed {seed}), {} compared, {java_errors} rejected by Velocity",
        count - java_errors
    );
    // The generator writes only templates Velocity accepts; a rejection is a generator bug.
    assert!(
        java_errors == 0,
        "{java_errors} of {count} templates failed in Velocity (see {})",
        cases.display()
    );
    assert!(
        failures.is_empty(),
        "{} template(s) differ from Velocity 1.7 (first ones below)\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn run_java(classes: &Path, classpath: &str, cases: &Path) {
    let mut child = Command::new("java")
        .arg("-cp")
        .arg(format!("{}:{classpath}", classes.display()))
        .arg("Render")
        .arg(cases)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + JAVA_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "java Render failed: {status}");
            return;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("java Render took longer than {JAVA_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
