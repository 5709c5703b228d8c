start-welcome = Hello! I am callops, the sales team's assistant.
    I listen to your PBX's calls, transcribe them, rate the leads and post call protocols to the team chat.
    Commands: /help.
start-role = Your role: { $role }.
help-header = What I can do:
access-denied = Sorry, you do not have access to this bot.
    Your Telegram ID: { $id }
    Send it to an administrator so they can add you.
group-not-configured = This chat is not connected to callops. Chat ID: { $id }
internal-error = Something went wrong. The error has been logged; please try again in a minute.
role-viewer = viewer
role-manager = manager
role-admin = administrator
cmd-start = start working with the bot
cmd-help = list of commands
