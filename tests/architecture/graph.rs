//! The file-level import graph of `src/`, read from the source as text.
//!
//! Std only and no parsing crate: comments, strings and char literals are
//! blanked, then `use` trees and inline `crate::`/`super::`/`self::` paths
//! (and paths through a child declared with `mod x;`) are resolved to the file
//! that defines the longest module prefix, or through a `pub use` of that
//! file to where the item comes from (a facade such as `refunds.rs` is not a
//! step between its users and its parts). `mod x;` itself is a declaration,
//! not an import. Paths inside an inline `mod tests { … }` are
//! resolved from that inline module, so its `use super::*` is its own file.
use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// One source file: its path under `src/` and its module path.
#[derive(Debug, Clone)]
pub struct File {
    /// `models/import/mod.rs`
    pub path: String,
    /// `["models", "import"]`; a binary's root is `["bin", name]`.
    pub module: Vec<String>,
    /// The text with comments, strings and char literals blanked.
    pub code: String,
}

/// Files and the imports between them (indices into `files`).
#[derive(Debug)]
pub struct Graph {
    pub files: Vec<File>,
    pub edges: BTreeSet<(usize, usize)>,
}

impl Graph {
    /// Reads every `.rs` file under `src`.
    pub fn read(src: &Path) -> Self {
        let mut paths = Vec::new();
        walk(src, &mut paths);
        paths.sort();
        let files: Vec<File> = paths
            .iter()
            .map(|p| {
                let rel = p
                    .strip_prefix(src)
                    .unwrap_or(p)
                    .to_string_lossy()
                    .replace('\\', "/");
                let text = fs::read_to_string(p).unwrap_or_default();
                File {
                    module: module_of(&rel),
                    path: rel,
                    code: blank(&text),
                }
            })
            .collect();
        let by_module: BTreeMap<Vec<String>, usize> = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.module.clone(), i))
            .collect();
        let said: Vec<Said> = files.iter().map(paths_of).collect();
        let mut edges = BTreeSet::new();
        for (from, what) in said.iter().enumerate() {
            for path in &what.paths {
                if let Some(to) = resolve(&by_module, &said, path, 0) {
                    if to != from {
                        edges.insert((from, to));
                    }
                }
            }
        }
        Self { files, edges }
    }

    /// Strongly connected components with more than one file.
    pub fn cycles(&self) -> Vec<Vec<usize>> {
        tarjan(self.files.len(), &self.edges)
            .into_iter()
            .filter(|c| c.len() > 1)
            .collect()
    }

    /// The longest chain of imports, counted in files, with every cycle taken
    /// as one file: the number of floors. Returns the chain.
    pub fn longest_chain(&self) -> Vec<usize> {
        self.floors().longest()
    }

    /// The graph of its cycles (each one node), with the longest chain below
    /// each: computed once, read for any number of starting files.
    pub fn floors(&self) -> Floors {
        let sccs = tarjan(self.files.len(), &self.edges);
        let mut comp = vec![0; self.files.len()];
        for (c, members) in sccs.iter().enumerate() {
            for &m in members {
                comp[m] = c;
            }
        }
        let mut out: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); sccs.len()];
        for &(a, b) in &self.edges {
            if comp[a] != comp[b] {
                out[comp[a]].insert(comp[b]);
            }
        }
        // Tarjan yields components in reverse topological order: a component
        // comes after every component it imports.
        let mut depth = vec![1usize; sccs.len()];
        let mut next: Vec<Option<usize>> = vec![None; sccs.len()];
        for (c, targets) in out.iter().enumerate() {
            for &d in targets {
                if depth[d] + 1 > depth[c] {
                    depth[c] = depth[d] + 1;
                    next[c] = Some(d);
                }
            }
        }
        Floors {
            sccs,
            comp,
            depth,
            next,
        }
    }

    /// Files whose code names a crate among `crates` as a path (`apalis::…`),
    /// not as a field (`settings.apalis`).
    pub fn naming(&self, crates: &[&str]) -> Vec<usize> {
        self.files
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                let tokens = tokens(&f.code);
                tokens.windows(2).enumerate().any(|(i, w)| {
                    crates.contains(&w[0].as_str())
                        && w[1] == "::"
                        && (i == 0 || tokens[i - 1] != ".")
                })
            })
            .map(|(i, _)| i)
            .collect()
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `models/import/mod.rs` → `models::import`; `lib.rs` → the root.
fn module_of(rel: &str) -> Vec<String> {
    let no_ext = rel.trim_end_matches(".rs");
    let mut parts: Vec<String> = no_ext.split('/').map(str::to_owned).collect();
    if parts.first().is_some_and(|p| p == "bin") {
        return parts;
    }
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

/// Blanks comments, string literals (raw ones too) and char literals, so
/// that a path in a doc comment or a message is not taken for an import.
fn blank(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                out.push(b' ');
            }
            b'r' if raw_string_at(b, i).is_some() => {
                let (hashes, body) = raw_string_at(b, i).unwrap_or((0, i));
                let mut j = body;
                loop {
                    if j >= b.len() {
                        break;
                    }
                    if b[j] == b'"'
                        && b[j + 1..]
                            .iter()
                            .take(hashes)
                            .filter(|&&c| c == b'#')
                            .count()
                            == hashes
                    {
                        j += 1 + hashes;
                        break;
                    }
                    j += 1;
                }
                out.extend_from_slice(b"\"\"");
                i = j;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                out.extend_from_slice(b"\"\"");
            }
            b'\'' => {
                // A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
                if b.get(i + 1) == Some(&b'\\') {
                    // Past the escaped character, which may be a quote.
                    let mut j = i + 3;
                    while j < b.len() && b[j] != b'\'' {
                        j += 1;
                    }
                    i = j + 1;
                    out.extend_from_slice(b"' '");
                } else if let Some(len) =
                    char_len(b, i + 1).filter(|&n| b.get(i + 1 + n) == Some(&b'\''))
                {
                    i += len + 2;
                    out.extend_from_slice(b"' '");
                } else {
                    out.push(b'\'');
                    i += 1;
                }
            }
            c => {
                // An identifier ending in `r`/`b` (`for`, `br`) is not a raw string.
                out.push(c);
                i += 1;
                if c.is_ascii_alphanumeric() || c == b'_' {
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                        out.push(b[i]);
                        i += 1;
                    }
                }
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `r"…"`, `r#"…"#`, `br"…"` at `i`: (number of hashes, first byte of the body).
fn raw_string_at(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') && b[i - 1] != b'b' {
        return None;
    }
    let mut j = i + 1;
    let mut hashes = 0;
    while b.get(j) == Some(&b'#') {
        hashes += 1;
        j += 1;
    }
    (b.get(j) == Some(&b'"')).then_some((hashes, j + 1))
}

/// Length in bytes of the UTF-8 character starting at `i`.
fn char_len(b: &[u8], i: usize) -> Option<usize> {
    let first = *b.get(i)?;
    let len = match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    };
    (first != b'\'').then_some(len)
}

/// Identifiers, `::` and single punctuation characters.
fn tokens(code: &str) -> Vec<String> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(code[start..i].to_owned());
        } else if c == b':' && b.get(i + 1) == Some(&b':') {
            out.push("::".to_owned());
            i += 2;
        } else if c.is_ascii_whitespace() || c.is_ascii_digit() {
            i += 1;
        } else {
            out.push((c as char).to_string());
            i += 1;
        }
    }
    out
}

/// What a file says: the absolute paths (from the crate root) it refers to,
/// and what it re-exports (`pub use`): name → absolute path.
#[derive(Default)]
struct Said {
    paths: Vec<Vec<String>>,
    reexports: BTreeMap<String, Vec<String>>,
}

fn paths_of(file: &File) -> Said {
    let tokens = tokens(&file.code);
    let bin = file.module.first().is_some_and(|m| m == "bin");
    // Children declared with `mod x;` at the top of the file.
    let children: BTreeSet<&str> = tokens
        .windows(3)
        .filter(|w| w[0] == "mod" && w[2] == ";")
        .map(|w| w[1].as_str())
        .collect();
    let mut out = Said::default();
    // Inline modules open at these brace depths.
    let mut inline: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].as_str();
        match t {
            "{" => {
                depth += 1;
                i += 1;
            }
            "}" => {
                if inline.last() == Some(&depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            "mod" if tokens.get(i + 2).is_some_and(|n| n == "{") => {
                inline.push(depth + 1);
                i += 2;
            }
            "use" => {
                let end = tokens[i..]
                    .iter()
                    .position(|t| t == ";")
                    .map_or(tokens.len(), |p| i + p);
                let public = i > 0
                    && (tokens[i - 1] == "pub"
                        || (tokens[i - 1] == ")"
                            && tokens[i.saturating_sub(6)..i].contains(&"pub".to_owned())));
                let mut trees = Vec::new();
                use_tree(&tokens[i + 1..end], Vec::new(), &mut trees);
                for (path, name) in trees {
                    if let Some(abs) = absolute(file, &path, inline.len(), &children, bin) {
                        if let Some(name) = name.filter(|_| public && inline.is_empty()) {
                            out.reexports.insert(name, abs.clone());
                        }
                        out.paths.push(abs);
                    }
                }
                i = end + 1;
            }
            _ if starts_path(&tokens, i, &children, inline.is_empty()) => {
                let mut path = vec![t.to_owned()];
                let mut j = i + 1;
                while tokens.get(j).is_some_and(|n| n == "::")
                    && tokens.get(j + 1).is_some_and(|n| is_ident(n))
                {
                    path.push(tokens[j + 1].clone());
                    j += 2;
                }
                if let Some(abs) = absolute(file, &path, inline.len(), &children, bin) {
                    out.paths.push(abs);
                }
                i = j;
            }
            _ => i += 1,
        }
    }
    out
}

/// A path in code (not in a `use`) starts at `i`: `crate::`, `super::`,
/// `self::`, the library's name in a binary, or a declared child module.
fn starts_path(tokens: &[String], i: usize, children: &BTreeSet<&str>, top: bool) -> bool {
    let t = tokens[i].as_str();
    let prefix =
        matches!(t, "crate" | "super" | "self" | "orders_flow") || (top && children.contains(t));
    prefix
        && tokens.get(i + 1).is_some_and(|n| n == "::")
        && (i == 0 || (tokens[i - 1] != "::" && tokens[i - 1] != "."))
}

fn is_ident(t: &str) -> bool {
    t.bytes()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
}

/// Expands a `use` tree (`a::{b, c::{self, d}}`) into its paths.
fn use_tree(tokens: &[String], prefix: Vec<String>, out: &mut Vec<(Vec<String>, Option<String>)>) {
    // The empty tail of a trailing comma names nothing.
    if tokens.is_empty() {
        return;
    }
    let mut path = prefix;
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i].as_str() {
            "::" => i += 1,
            "{" => {
                let mut depth = 0;
                let mut start = i + 1;
                for (j, token) in tokens.iter().enumerate().skip(i) {
                    match token.as_str() {
                        "{" => depth += 1,
                        "}" => {
                            depth -= 1;
                            if depth == 0 {
                                use_tree(&tokens[start..j], path.clone(), out);
                                return;
                            }
                        }
                        "," if depth == 1 => {
                            use_tree(&tokens[start..j], path.clone(), out);
                            start = j + 1;
                        }
                        _ => {}
                    }
                }
                return;
            }
            "as" => {
                let name = tokens.get(i + 1).filter(|n| *n != "_").cloned();
                out.push((path, name));
                return;
            }
            "*" => {
                out.push((path, None));
                return;
            }
            "self" if !path.is_empty() => i += 1,
            t if is_ident(t) => {
                path.push(t.to_owned());
                i += 1;
            }
            _ => i += 1,
        }
    }
    if !path.is_empty() {
        let name = path.last().cloned();
        out.push((path, name));
    }
}

/// `path` as seen from `file` (inside `inline` inline modules), from the root;
/// `None` for another crate.
fn absolute(
    file: &File,
    path: &[String],
    inline: usize,
    children: &BTreeSet<&str>,
    bin: bool,
) -> Option<Vec<String>> {
    let first = path.first()?.as_str();
    let here = if bin { Vec::new() } else { file.module.clone() };
    match first {
        "crate" if !bin => Some(path[1..].to_vec()),
        "orders_flow" if bin => Some(path[1..].to_vec()),
        "self" => (inline == 0 && !bin).then(|| [here, path[1..].to_vec()].concat()),
        "super" => {
            let supers = path.iter().take_while(|p| *p == "super").count();
            if supers <= inline || bin {
                return None;
            }
            let up = supers - inline;
            let base = here.len().checked_sub(up)?;
            Some([here[..base].to_vec(), path[supers..].to_vec()].concat())
        }
        child if inline == 0 && !bin && children.contains(child) => {
            Some([here, path.to_vec()].concat())
        }
        _ => None,
    }
}

/// The file defining the longest known module prefix of `path`, or, when
/// that file only re-exports the item named next, the file it comes from: a
/// `crate::models::refunds::RefundError` is an import of `refunds/error.rs`.
fn resolve(
    by_module: &BTreeMap<Vec<String>, usize>,
    said: &[Said],
    path: &[String],
    depth: usize,
) -> Option<usize> {
    let (n, file) = (0..=path.len())
        .rev()
        .find_map(|n| by_module.get(&path[..n]).map(|&f| (n, f)))?;
    let through = path
        .get(n)
        .and_then(|name| said[file].reexports.get(name))
        .filter(|_| depth < 8)
        .and_then(|target| {
            let full = [target.as_slice(), &path[n + 1..]].concat();
            resolve(by_module, said, &full, depth + 1)
        });
    Some(through.unwrap_or(file))
}

/// The import graph with each cycle taken as one node ([`Graph::floors`]).
pub struct Floors {
    sccs: Vec<Vec<usize>>,
    /// The component of each file.
    comp: Vec<usize>,
    /// The longest chain below each component, itself included.
    depth: Vec<usize>,
    /// The next component on that chain.
    next: Vec<Option<usize>>,
}

impl Floors {
    /// The longest chain of the whole graph.
    pub fn longest(&self) -> Vec<usize> {
        let Some(top) = (0..self.sccs.len()).max_by_key(|&c| self.depth[c]) else {
            return Vec::new();
        };
        self.chain(self.sccs[top][0], top)
    }

    /// The longest chain that starts at `file`.
    pub fn from(&self, file: usize) -> Vec<usize> {
        self.chain(file, self.comp[file])
    }

    fn chain(&self, first: usize, mut at: usize) -> Vec<usize> {
        let mut chain = vec![first];
        while let Some(n) = self.next[at] {
            chain.push(self.sccs[n][0]);
            at = n;
        }
        chain
    }
}

/// Strongly connected components, each after every component it reaches.
fn tarjan(n: usize, edges: &BTreeSet<(usize, usize)>) -> Vec<Vec<usize>> {
    let mut adj = vec![Vec::new(); n];
    for &(a, b) in edges {
        adj[a].push(b);
    }
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut counter = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // Iterative DFS: (node, next child position).
        let mut work = vec![(root, 0usize)];
        index[root] = counter;
        low[root] = counter;
        counter += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(top) = work.last_mut() {
            let v = top.0;
            if top.1 < adj[v].len() {
                let w = adj[v][top.1];
                top.1 += 1;
                if index[w] == usize::MAX {
                    index[w] = counter;
                    low[w] = counter;
                    counter += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut comp = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    comp.sort_unstable();
                    out.push(comp);
                }
            }
        }
    }
    out
}
