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
cmd-rehearse = rehearse a call with the voice agent
cmd-stop = end the rehearsal and get its protocol
cmd-call = the agent calls a number: /call +7… [script]
cmd-calls = calls under way
rehearsal-private-only = Rehearsals run in a private chat with the bot — send me /rehearse there.
rehearsal-unavailable = Rehearsals are not available: OPENAI_API_KEY or call analysis is not configured.
rehearsal-started = 🎭 Rehearsal of the "{ $script }" script. You are the client: answer with voice notes or text. /stop ends it and posts the protocol.
rehearsal-not-running = No rehearsal is running. Start one with /rehearse.
rehearsal-stopped = The rehearsal is over. Its protocol will arrive here shortly (call #{ $id }).
rehearsal-ended-by-agent = The agent ended the conversation, so the rehearsal is over. Its protocol will arrive here shortly (call #{ $id }).
rehearsal-unknown-script = There is no "{ $script }" script. Available: { $available }.
rehearsal-stt-failed = Could not make out the voice note — send it again or type the line.
rehearsal-llm-failed = The agent could not answer: the model is unavailable. Send your line again in a minute.
rehearsal-download-failed = Could not download the voice note from Telegram — please send it again.
rehearsal-voice-too-long = The voice note is too long (over 2 minutes or 5 MB): say the line shorter or split it.
unknown-command = I don't know the command { $command }. What I can do: /help
cmd-dnc = the do-not-call list: /dnc add|remove +7…; a file captioned /dnc adds all its numbers
cmd-campaign = calling campaigns: a list file captioned /campaign Name; /campaign status|start|pause|stop|export N
