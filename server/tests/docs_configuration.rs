//! docs/configuration.md against the command line's own definitions
//! (`moviebook::config::Cli`, read through clap), so the page cannot drift
//! from the code: every flag of every `moviebook` command has a row in
//! that command's table (under the heading `` `moviebook <command>` ``),
//! with its environment variable and its default, and every flag the
//! page's tables name is one the command takes.

use clap::CommandFactory;
use moviebook::config::Cli;
use std::collections::BTreeSet;

const PAGE: &str = include_str!("../../docs/configuration.md");

/// A heading of the page and the rows of the tables under it, each row's
/// cells trimmed (separator rows left out).
struct Section {
    heading: String,
    rows: Vec<Vec<String>>,
}

fn sections() -> Vec<Section> {
    let mut sections = vec![Section {
        heading: String::new(),
        rows: Vec::new(),
    }];
    let mut in_code = false;
    for line in PAGE.lines() {
        let line = line.trim();
        if line.starts_with("```") {
            in_code = !in_code;
        } else if in_code {
            continue;
        } else if line.starts_with('#') {
            sections.push(Section {
                heading: line.trim_start_matches('#').trim().to_string(),
                rows: Vec::new(),
            });
        } else if line.starts_with('|') {
            let cells: Vec<String> = line
                .trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_string())
                .collect();
            let separator = cells
                .iter()
                .all(|cell| !cell.is_empty() && cell.chars().all(|c| c == '-' || c == ':'));
            if !separator {
                if let Some(section) = sections.last_mut() {
                    section.rows.push(cells);
                }
            }
        }
    }
    sections
}

/// Every command, by its full name ("moviebook db start"), with the
/// arguments it takes by a long name (clap's own --help and --version
/// aside).
fn commands() -> Vec<(String, Vec<clap::Arg>)> {
    fn walk(command: &clap::Command, name: String, out: &mut Vec<(String, Vec<clap::Arg>)>) {
        let args: Vec<clap::Arg> = command
            .get_arguments()
            .filter(
                |arg| matches!(arg.get_long(), Some(long) if long != "help" && long != "version"),
            )
            .cloned()
            .collect();
        out.push((name.clone(), args));
        for sub in command.get_subcommands() {
            if sub.get_name() != "help" {
                walk(sub, format!("{name} {}", sub.get_name()), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&Cli::command(), "moviebook".to_string(), &mut out);
    out
}

/// The flags a piece of text names: every `--name` in it.
fn flags_in(text: &str) -> Vec<String> {
    text.match_indices("--")
        .filter(|(at, _)| !text[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '-'))
        .map(|(at, _)| {
            text[at + 2..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
                .collect::<String>()
        })
        .filter(|name| name.starts_with(|c: char| c.is_ascii_lowercase()))
        .collect()
}

#[test]
fn the_configuration_page_lists_every_flag_and_variable_and_no_other_flag() {
    let sections = sections();
    let commands = commands();
    let mut wrong: Vec<String> = Vec::new();

    for (name, args) in &commands {
        if args.is_empty() {
            continue;
        }
        let heading = format!("`{name}`");
        let Some(section) = sections.iter().find(|s| s.heading == heading) else {
            wrong.push(format!(
                "no section headed {heading} for the flags of `{name}`"
            ));
            continue;
        };
        for arg in args {
            let long = arg.get_long().unwrap_or_default();
            let flag = format!("`--{long}`");
            let Some(row) = section.rows.iter().find(|row| row.first() == Some(&flag)) else {
                wrong.push(format!("{heading}: no row for --{long}"));
                continue;
            };
            let variable = row.get(1).map(String::as_str).unwrap_or_default();
            match arg.get_env() {
                Some(env) => {
                    let env = format!("`{}`", env.to_string_lossy());
                    if variable != env {
                        wrong.push(format!(
                            "{heading}: --{long} is read from {env}, the table says {variable:?}"
                        ));
                    }
                }
                None => {
                    if variable != "none" {
                        wrong.push(format!(
                            "{heading}: --{long} has no variable, the table says {variable:?}"
                        ));
                    }
                }
            }
            if arg.get_action().takes_values() {
                let default = row.get(2).map(String::as_str).unwrap_or_default();
                for value in arg.get_default_values() {
                    let value = value.as_os_str().to_string_lossy();
                    if !value.is_empty() && !default.contains(&format!("`{value}`")) {
                        wrong.push(format!(
                            "{heading}: --{long} defaults to `{value}`, the table says {default:?}"
                        ));
                    }
                }
            }
        }
        // Conversely, every row of this command's tables is one of its flags.
        let takes: BTreeSet<String> = args
            .iter()
            .filter_map(|arg| arg.get_long())
            .map(|long| format!("`--{long}`"))
            .collect();
        for row in &section.rows {
            if let Some(first) = row.first() {
                if first.starts_with("`--") && !takes.contains(first) {
                    wrong.push(format!(
                        "{heading}: the table has a row for {first}, which `{name}` does not take"
                    ));
                }
            }
        }
    }

    // Every flag named anywhere in the page's tables is one some command takes.
    let every_flag: BTreeSet<String> = commands
        .iter()
        .flat_map(|(_, args)| {
            args.iter()
                .filter_map(|arg| arg.get_long().map(str::to_string))
        })
        .collect();
    for section in &sections {
        for row in &section.rows {
            for cell in row {
                for flag in flags_in(cell) {
                    if !every_flag.contains(&flag) {
                        wrong.push(format!(
                            "docs/configuration.md names --{flag} (under {:?}), which no command takes",
                            section.heading
                        ));
                    }
                }
            }
        }
    }

    assert!(
        wrong.is_empty(),
        "docs/configuration.md and the command line disagree:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn the_page_is_read_the_way_the_check_above_reads_it() {
    // A guard that the check really ran over the tables: it found the
    // commands' sections, and the flags in their rows.
    let sections = sections();
    let up = sections
        .iter()
        .find(|s| s.heading == "`moviebook up`")
        .expect("a section for `moviebook up`");
    assert!(up
        .rows
        .iter()
        .any(|row| row.first().map(String::as_str) == Some("`--port`")));
    assert_eq!(
        flags_in("`--node-port` + 1, not---x or a--b"),
        ["node-port"]
    );
    let commands = commands();
    assert!(commands
        .iter()
        .any(|(name, _)| name == "moviebook db prepare"));
    assert!(commands
        .iter()
        .any(|(name, args)| name == "moviebook node" && args.len() >= 10));
}
