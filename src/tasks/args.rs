//! Declared, validated task arguments: a wrong or missing one is a usage error.
//! A repeated one never gets here: `main` refuses it before Loco keeps only
//! the last ([`crate::cli_args::repeated_task_argument`]).
use std::{collections::BTreeMap, str::FromStr};

use loco_rs::{task::Vars, Error, Result};

/// One argument a task accepts.
pub struct Arg {
    pub name: &'static str,
    pub required: bool,
    pub help: &'static str,
}

impl Arg {
    #[must_use]
    pub const fn required(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            required: true,
            help,
        }
    }

    #[must_use]
    pub const fn optional(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            required: false,
            help,
        }
    }
}

/// The arguments of one task run, checked against what the task declares.
pub struct TaskArgs<'a> {
    task: &'static str,
    spec: &'static [Arg],
    values: &'a BTreeMap<String, String>,
}

impl<'a> TaskArgs<'a> {
    /// Checks `vars` against `spec`: every required argument present, nothing unknown.
    ///
    /// # Errors
    /// A usage error naming the problem and listing what the task expects.
    pub fn parse(task: &'static str, spec: &'static [Arg], vars: &'a Vars) -> Result<Self> {
        let args = Self {
            task,
            spec,
            values: &vars.cli,
        };
        if let Some(unknown) = vars.cli.keys().find(|k| !spec.iter().any(|a| a.name == *k)) {
            return Err(args.usage_error(&format!("unknown argument `{unknown}`")));
        }
        if let Some(missing) = spec
            .iter()
            .find(|a| a.required && !vars.cli.contains_key(a.name))
        {
            return Err(args.usage_error(&format!("missing argument `{}`", missing.name)));
        }
        Ok(args)
    }

    /// The raw value of an argument, if given.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.values.get(name).map(String::as_str)
    }

    /// A required argument (presence was checked by [`Self::parse`]).
    ///
    /// # Errors
    /// When the argument is absent or empty.
    pub fn require(&self, name: &str) -> Result<&'a str> {
        match self.get(name) {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(self.usage_error(&format!("argument `{name}` needs a value"))),
        }
    }

    /// An optional argument parsed into `T`, as given: ` 5` is not `5`.
    ///
    /// # Errors
    /// When the value does not parse.
    pub fn parsed<T: FromStr>(&self, name: &str) -> Result<Option<T>> {
        self.get(name)
            .map(|raw| {
                // Rust reads `+5` as 5; nobody writes a count that way on purpose.
                let signed = raw.starts_with('+');
                raw.parse::<T>().ok().filter(|_| !signed).ok_or_else(|| {
                    self.usage_error(&format!("argument `{name}` has an invalid value `{raw}`"))
                })
            })
            .transpose()
    }

    /// `format=text|json` (text when absent): whether the task prints JSON.
    ///
    /// # Errors
    /// A usage error for any other format.
    pub fn json_format(&self) -> Result<bool> {
        match self.get("format").unwrap_or("text") {
            "text" => Ok(false),
            "json" => Ok(true),
            other => Err(self.usage_error(&format!("unknown format `{other}`"))),
        }
    }

    /// A usage error: what went wrong, then what the task expects.
    #[must_use]
    pub fn usage_error(&self, problem: &str) -> Error {
        Error::string(&format!("{problem}\n{}", usage(self.task, self.spec)))
    }
}

/// `usage: cargo loco task NAME key=VALUE [key=VALUE]` plus one line per argument.
#[must_use]
pub fn usage(task: &str, spec: &[Arg]) -> String {
    let synopsis: Vec<String> = spec
        .iter()
        .map(|a| {
            if a.required {
                format!("{}=…", a.name)
            } else {
                format!("[{}=…]", a.name)
            }
        })
        .collect();
    let mut text = format!("usage: cargo loco task {task} {}", synopsis.join(" "));
    for arg in spec {
        text.push_str(&format!("\n  {:<14} {}", arg.name, arg.help));
    }
    text
}
