//! What `--help`, the man pages and the completions say beyond the argument definitions: an
//! `Examples:` section per command, and a description for the arguments that share a meaning
//! across commands (`APP`, `REVISION`, `KEY`, …) wherever a command leaves one out.

use clap::CommandFactory;

use crate::Cli;

/// Examples per top-level command, as typed.
const EXAMPLES: &[(&str, &[&str])] = &[
    (
        "server",
        &[
            "backstop server --config /etc/backstop/backstop.toml",
            "backstop server --config /etc/backstop/backstop.toml --reload",
        ],
    ),
    (
        "release",
        &[
            "backstop release shop --artifact ./build/shop --version v2.4.0 --change-cause \"new checkout\"",
            "backstop release shop --artifact ./dist --version v2.4.1 --git-commit 1a2b3c --wait",
        ],
    ),
    ("history", &["backstop history shop", "backstop history shop --revision 3 -o json"]),
    ("status", &["backstop status shop", "backstop status shop --watch"]),
    ("signals", &["backstop signals shop"]),
    ("apps", &["backstop apps", "backstop apps --no-headers"]),
    ("known-good", &["backstop known-good shop"]),
    ("undo", &["backstop undo shop", "backstop undo shop --to-revision 2"]),
    ("abort", &["backstop abort shop"]),
    ("import", &["backstop import shop --deployment shop"]),
    ("rollback", &["backstop rollback shop", "backstop rollback shop 3"]),
    ("check-rollback", &["backstop check-rollback shop 2"]),
    ("migrate", &["backstop migrate plan shop --migrations ./migrations", "backstop migrate contract shop"]),
    ("promote", &["backstop promote shop 5 --permanent"]),
    ("logs", &["backstop logs shop", "backstop logs shop 3 --bytes 4096", "backstop logs shop -f"]),
    ("operations", &["backstop operations shop", "backstop operations shop --since 2h --limit 5"]),
    ("incident", &["backstop incident shop", "backstop incident shop --execute", "backstop incident list"]),
    ("report", &["backstop report", "backstop report shop --since 7d"]),
    ("drill", &["backstop drill shop --dry-run", "backstop drill shop --rung redeploy", "backstop drill list"]),
    (
        "compat",
        &[
            "backstop compat shop --api openapi.yaml --messages contracts/messages",
            "backstop compat shop --against 7 -o sarif",
        ],
    ),
    ("hotfix", &["backstop hotfix start shop", "backstop hotfix check shop"]),
    (
        "flag",
        &[
            "backstop flag create new-checkout --description \"the new checkout\" --on",
            "backstop flag off new-checkout --reason \"checkout errors\"",
            "backstop flag list",
        ],
    ),
    ("audit", &["backstop audit list --app shop --since 1d", "backstop audit verify"]),
    ("gc", &["backstop gc --dry-run", "backstop gc"]),
    ("lint", &["backstop lint migrations/", "backstop lint --dialect sqlite 0003_add_index.sql -o sarif"]),
    ("digest", &["backstop digest ./build/shop"]),
    ("demo", &["backstop demo", "backstop demo --keep"]),
    ("completion", &["backstop completion bash > /etc/bash_completion.d/backstop", "backstop completion zsh"]),
    ("man", &["backstop man | man -l -", "backstop man --dir /usr/local/share/man/man1"]),
    ("version", &["backstop version", "backstop version -o json"]),
    ("config", &["backstop config check", "backstop config check --config /etc/backstop/backstop.toml"]),
];

/// Descriptions of arguments by id, for the commands that give none of their own.
const ARGUMENTS: &[(&str, &str)] = &[
    ("app", "The app, as named under [apps.NAME] in the server's config"),
    ("revision", "A revision number of the app (`backstop history APP` lists them)"),
    ("key", "The flag's key"),
    ("id", "The incident's id (`backstop incident list` lists them)"),
    ("version", "The version label of this release (`v2.4.0`)"),
    ("change_cause", "Why this release: shown in `history` and kept with the revision"),
    ("to_revision", "Go to this revision instead of the newest known-good one before the live one"),
    ("force", "Go even though the check says the target cannot run on the schema (recorded in the audit log)"),
    ("permanent", "Declare the revision permanent: no rollback goes further back"),
    ("config", "The server's config file"),
    ("path", "The file or directory to digest, as `--artifact` would take it"),
    ("paths", "Migration files, or folders of them"),
    ("dialect", "The SQL dialect of the migrations"),
    ("description", "What the flag is for, shown in `flag list`"),
    ("reason", "Why: recorded with the change in the flag's history and the audit log"),
    ("file", "A JSON file with the flag's definition"),
    ("note", "What was learned, recorded with the incident"),
    ("limit", "At most this many, newest first"),
    ("since", "Only since: an RFC 3339 time or a duration back from now (`2h`)"),
    ("repo", "The git repository (default: the one the current directory is in)"),
];

/// Commands that run here without a control plane: the client's options mean nothing to them.
pub const LOCAL: &[&str] = &["server", "lint", "digest", "demo", "completion", "man", "version", "config"];

/// The options only a client of the control plane uses.
pub const CLIENT_OPTIONS: &[&str] = &["server", "token", "token_file", "actor"];

/// The CLI's clap command with the examples and argument descriptions added.
pub fn command() -> clap::Command {
    with_examples(Cli::command())
}

/// The command for parsing `args`: when they name a command that runs without a control plane,
/// the client's options are hidden from its help (still parsed, to be refused by name).
pub fn command_for(args: &[std::ffi::OsString]) -> clap::Command {
    let mut cmd = Cli::command();
    if invoked(args).is_some_and(|name| LOCAL.contains(&name.as_str())) {
        for id in CLIENT_OPTIONS {
            cmd = cmd.mut_arg(*id, |a| a.hide(true));
        }
    }
    with_examples(cmd)
}

/// The subcommand `args` name: the first word that is not an option or an option's value.
fn invoked(args: &[std::ffi::OsString]) -> Option<String> {
    const TAKES_VALUE: &[&str] = &["--server", "--token", "--token-file", "--actor", "--output", "-o"];
    let mut words = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(word) = words.next() {
        if TAKES_VALUE.contains(&word.as_ref()) {
            words.next();
        } else if !word.starts_with('-') {
            return Some(word.into_owned());
        }
    }
    None
}

fn with_examples(mut cmd: clap::Command) -> clap::Command {
    for (name, examples) in EXAMPLES {
        let text: String = std::iter::once("Examples:".to_owned())
            .chain(examples.iter().map(|e| format!("  {e}")))
            .collect::<Vec<_>>()
            .join("\n");
        cmd = cmd.mut_subcommand(*name, |sub| sub.after_help(text));
    }
    describe_arguments(cmd)
}

/// Give every argument without a description the shared one for its id, in every subcommand
/// (in place: positional arguments keep their order).
fn describe_arguments(cmd: clap::Command) -> clap::Command {
    let mut cmd = cmd.mut_args(|a| {
        if a.get_help().is_some() {
            return a;
        }
        match ARGUMENTS.iter().find(|(name, _)| *name == a.get_id().as_str()) {
            Some((_, help)) => a.help(*help),
            None => a,
        }
    });
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_owned()).collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, describe_arguments);
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every visible command, nested ones included, with its path (`flag create`).
    fn all(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let p = format!("{path} {}", sub.get_name()).trim().to_owned();
            out.push((p.clone(), sub.clone()));
            all(sub, p, out);
        }
    }

    #[test]
    fn the_invoked_command_is_the_first_word_that_is_not_an_option_or_its_value() {
        let cases: &[(&[&str], Option<&str>)] = &[
            (&["backstop", "lint", "x.sql"], Some("lint")),
            (&["backstop", "--server", "http://h", "history", "shop"], Some("history")),
            (&["backstop", "-o", "json", "--no-headers", "apps"], Some("apps")),
            (&["backstop", "--server=http://h", "digest", "f"], Some("digest")),
            (&["backstop", "--help"], None),
        ];
        for (args, want) in cases {
            let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
            assert_eq!(invoked(&args).as_deref(), *want, "{args:?}");
        }
    }

    #[test]
    fn local_commands_do_not_offer_the_client_options() {
        let args = |a: &[&str]| a.iter().map(Into::into).collect::<Vec<std::ffi::OsString>>();
        let mut cmd = command_for(&args(&["backstop", "lint", "--help"]));
        cmd.build();
        let lint = cmd.find_subcommand_mut("lint").unwrap().render_help().to_string();
        assert!(!lint.contains("--server") && !lint.contains("--token"), "{lint}");
        let mut cmd = command_for(&args(&["backstop", "history", "--help"]));
        cmd.build();
        let history = cmd.find_subcommand_mut("history").unwrap().render_help().to_string();
        assert!(history.contains("--server") && history.contains("--token"), "{history}");
    }

    #[test]
    fn the_command_with_examples_is_still_a_valid_clap_command() {
        command().debug_assert();
    }

    #[test]
    fn every_top_level_command_has_examples() {
        let cmd = command();
        let missing: Vec<&str> = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
            .filter(|s| !s.get_after_help().is_some_and(|h| h.to_string().starts_with("Examples:\n  backstop ")))
            .map(|s| s.get_name())
            .collect();
        assert!(missing.is_empty(), "commands without examples: {missing:?}");
        // Every example names its own command.
        for (name, examples) in EXAMPLES {
            assert!(cmd.find_subcommand(name).is_some(), "`{name}` is not a command");
            for e in *examples {
                assert!(e.starts_with(&format!("backstop {name}")), "{e}");
            }
        }
    }

    #[test]
    fn every_argument_has_a_description() {
        let mut commands = Vec::new();
        all(&command(), String::new(), &mut commands);
        let mut missing = Vec::new();
        for (path, sub) in &commands {
            for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
                let id = arg.get_id().as_str();
                if arg.get_help().is_none() && !["help", "version"].contains(&id) {
                    missing.push(format!("{path}: {id}"));
                }
            }
        }
        assert!(missing.is_empty(), "arguments without a description: {missing:#?}");
    }
}
