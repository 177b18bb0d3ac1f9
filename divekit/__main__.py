from divekit.cli import console

console()
