//! The typed command enum. Descriptions shown by `/help` and in the command menu come from the
//! locale files (`cmd-<name>`), so they follow the user's language.

use teloxide::utils::command::BotCommands;

use crate::domain::Role;
use crate::i18n::{t, Lang};

#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub enum Command {
    /// Greets the user and shows their role.
    Start,
    /// Lists the commands this user may use.
    Help,
    /// `/leads [category] [period]`: a paginated list of leads.
    #[command(parse_with = rest)]
    Leads(String),
    /// `/lead ID`: a call's protocol, feedback and transcript.
    #[command(parse_with = rest)]
    Lead(String),
    /// `/stats [period]`: counts, categories, rating, agreement, tokens.
    #[command(parse_with = rest)]
    Stats(String),
    /// `/chart kind [period]`: a PNG chart.
    #[command(parse_with = rest)]
    Chart(String),
    /// `/digest on|off|HH:MM`: the chat's daily digest.
    #[command(parse_with = rest)]
    Digest(String),
    /// `/settings`: the chat's language, time zone and digest.
    Settings,
    /// `/export [period] [csv]`: calls with their analysis as XLSX or CSV.
    #[command(parse_with = rest)]
    Export(String),
    /// `/reanalyze ID [profile] | failed | period`.
    #[command(parse_with = rest)]
    Reanalyze(String),
    /// `/pull [source] [day or period]`: reads those days of the PBX's calls again.
    #[command(parse_with = rest)]
    Pull(String),
    /// `/users [add ID role | remove ID]`.
    #[command(parse_with = rest)]
    Users(String),
    /// `/rehearse [script]`: talk to the voice agent here, by voice notes or text.
    #[command(parse_with = rest)]
    Rehearse(String),
    /// `/stop`: end the rehearsal and get its protocol.
    Stop,
    /// `/call +7… [script]`: the agent calls the number.
    #[command(parse_with = rest)]
    Call(String),
    /// `/calls`: the calls queued or under way.
    Calls,
    /// `/dnc [add +7… | remove +7… | list]`: the do-not-call list; a file with the caption /dnc adds its numbers.
    #[command(parse_with = rest)]
    Dnc(String),
    /// `/campaign [status|start|pause|stop|export ID]`; a contact file with the caption
    /// `/campaign Name [script…]` creates one.
    #[command(parse_with = rest)]
    Campaign(String),
}

/// Takes the rest of the message as one argument (possibly empty).
fn rest(input: String) -> Result<(String,), teloxide::utils::command::ParseError> {
    Ok((input.trim().to_string(),))
}

impl Command {
    /// Every command with the role it needs, in menu order.
    pub const ALL: &'static [(&'static str, Role)] = &[
        ("start", Role::Viewer),
        ("help", Role::Viewer),
        ("leads", Role::Viewer),
        ("lead", Role::Viewer),
        ("stats", Role::Viewer),
        ("chart", Role::Viewer),
        ("digest", Role::Admin),
        ("settings", Role::Admin),
        ("export", Role::Viewer),
        ("reanalyze", Role::Manager),
        ("pull", Role::Manager),
        ("users", Role::Admin),
        ("rehearse", Role::Manager),
        ("stop", Role::Manager),
        ("call", Role::Manager),
        ("calls", Role::Manager),
        ("dnc", Role::Manager),
        ("campaign", Role::Manager),
    ];

    /// The role this command needs.
    pub fn required_role(&self) -> Role {
        match self {
            Command::Reanalyze(_)
            | Command::Pull(_)
            | Command::Rehearse(_)
            | Command::Stop
            | Command::Call(_)
            | Command::Calls
            | Command::Dnc(_)
            | Command::Campaign(_) => Role::Manager,
            Command::Users(_) | Command::Digest(_) | Command::Settings => Role::Admin,
            _ => Role::Viewer,
        }
    }

    /// `/help` text for a user with `role`.
    pub fn help_text(lang: Lang, role: Role) -> String {
        let mut out = t(lang, "help-header");
        for (name, needed) in Self::ALL {
            if role.allows(*needed) {
                out.push_str(&format!("\n/{name} — {}", t(lang, &format!("cmd-{name}"))));
            }
        }
        out
    }

    /// The menu Telegram shows, localised.
    pub fn menu(lang: Lang) -> Vec<teloxide::types::BotCommand> {
        Self::ALL
            .iter()
            .map(|(name, _)| {
                teloxide::types::BotCommand::new(*name, t(lang, &format!("cmd-{name}")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enum_command_has_a_menu_entry_and_parses() {
        let derived: Vec<String> = Command::bot_commands()
            .into_iter()
            .map(|c| c.command.trim_start_matches('/').to_string())
            .collect();
        let listed: Vec<String> = Command::ALL.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(derived, listed);
        assert_eq!(
            Command::parse("/start", "callops_bot").unwrap(),
            Command::Start
        );
        assert_eq!(
            Command::parse("/help@callops_bot", "callops_bot").unwrap(),
            Command::Help
        );
        assert_eq!(
            Command::parse("/leads", "b").unwrap(),
            Command::Leads(String::new())
        );
        assert_eq!(
            Command::parse("/leads hot week", "b").unwrap(),
            Command::Leads("hot week".into())
        );
        for (name, role) in Command::ALL {
            let cmd = Command::parse(&format!("/{name}"), "b").unwrap();
            assert_eq!(cmd.required_role(), *role, "{name}");
        }
        let viewer_help = Command::help_text(Lang::Ru, Role::Viewer);
        assert!(viewer_help.contains("/leads") && !viewer_help.contains("/users"));
        assert!(Command::help_text(Lang::Ru, Role::Admin).contains("/users"));
    }

    #[test]
    fn help_is_localised() {
        let ru = Command::help_text(Lang::Ru, Role::Viewer);
        let en = Command::help_text(Lang::En, Role::Viewer);
        assert!(
            ru.contains("/start") && ru.contains("список команд"),
            "{ru}"
        );
        assert!(en.contains("list of commands"), "{en}");
    }
}
