//! The configuration reference, written from the declarations: the table the guide's
//! configuration chapter carries (`docs/src/configuration.md`), which
//! `config::tests::the_guide_s_table_is_the_declared_settings` holds to them.

use super::{Config, is_variable};

/// One Markdown table of every setting: its variable, its default and its meaning, in the
/// order they are declared, under a heading per section.
pub fn reference_table() -> String {
    let command = Config::command();
    let mut out = String::new();
    let mut heading = None;
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if !is_variable(id) {
            continue;
        }
        if heading != arg.get_help_heading() {
            heading = arg.get_help_heading();
            out.push_str(&format!(
                "\n**{}**\n\n| variable | default | meaning |\n|---|---|---|\n",
                heading.unwrap_or("Settings")
            ));
        }
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| format!("`{}`", v.to_string_lossy()))
            .collect();
        let default = if defaults.is_empty() {
            "unset".to_owned()
        } else {
            defaults.join(", ")
        };
        let meaning = arg
            .get_long_help()
            .or_else(|| arg.get_help())
            .map(|help| one_line(&help.to_string()))
            .unwrap_or_default();
        out.push_str(&format!("| `{id}` | {default} | {meaning} |\n"));
    }
    out.trim_start().to_owned()
}

/// A doc comment's text on one line, as a table cell needs it, with its pipes escaped.
fn one_line(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}
