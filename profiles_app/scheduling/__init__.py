"""The scheduling policy as a policy kind: its JSON Schema, the rules a schema cannot
say, the settings its aggressiveness implies. Free of Django, like the VPPD's package."""
